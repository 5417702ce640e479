package org.neuronscope.model;

import org.junit.jupiter.api.Test;
import org.neuronscope.testkit.LlamaTree;
import org.neuronscope.testkit.Vocabularies;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The testkit's bundled tokenizer (Qwen2's BPE, first 4096 tokens) run by llama.cpp, against the full
 * Qwen2 vocabulary as the oracle: a BPE stopped after its first merges yields the full tokenizer's
 * tokens wherever those are all among the first 4096 (merges apply in rank order), and text always
 * round-trips.
 */
class BundledVocabularyTokenizerTest {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    @Test
    void agreesWithTheFullQwen2TokenizerAndRoundTrips() throws IOException {
        Path fullVocab = LlamaTree.vocab("qwen2");
        List<String> texts = new ArrayList<>(Arrays.asList(
                Files.readString(Path.of(fullVocab + ".inp"), StandardCharsets.UTF_8).split(SEPARATOR, -1)));
        texts.addAll(List.of("The quick brown fox jumps over the lazy dog.", "What is in the picture? Describe it in one word.",
                "Bonjour tout le monde", "int main() { return 0; }", "Zürich 東京 3.14159"));
        int same = 0;
        try (Model small = Model.load(Vocabularies.qwen2Small(), ModelParams.defaults().withVocabOnly(true));
             Model full = Model.load(fullVocab, ModelParams.defaults().withVocabOnly(true))) {
            Tokenizer t = small.tokenizer();
            assertEquals(4099, t.vocabularySize());
            for (String text : texts) {
                int[] got = t.tokenize(text, false, false);
                int[] want = full.tokenizer().tokenize(text, false, false);
                assertEquals(text, t.detokenize(got, false, false), "round trip");
                assertTrue(Arrays.stream(got).allMatch(id -> id < Vocabularies.QWEN2_SMALL_REGULAR), text);
                assertTrue(got.length >= want.length, "fewer merges, at least as many tokens: " + text);
                if (Arrays.stream(want).allMatch(id -> id < Vocabularies.QWEN2_SMALL_REGULAR)) {
                    assertArrayEquals(want, got, text);
                    same++;
                }
            }
            assertTrue(same >= 10, same + " of " + texts.size() + " texts compared token for token");
            // the chat template and its control tokens
            String chat = t.applyChatTemplate(null, List.of(new Tokenizer.ChatMessage("user", "hi")), true);
            assertTrue(chat.startsWith("<|im_start|>"), chat);
            int[] ids = t.tokenize(chat, false, true);
            assertEquals(4097, ids[0]);
            assertTrue(t.isControl(4097) && t.isControl(4098));
            assertEquals(4096, t.eos());
        }
    }
}
