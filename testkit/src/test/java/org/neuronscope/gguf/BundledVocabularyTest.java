package org.neuronscope.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.testkit.LlamaTree;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.Vocabularies;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tokenizer shipped in the testkit jar: what it is made from, and that synthetic models can use it. */
class BundledVocabularyTest {
    @TempDir
    Path tmp;

    /** The committed resource is what {@link Vocabularies#trimBpe} makes of llama.cpp's Qwen2 vocabulary, byte for byte. */
    @Test
    void theResourceIsQwen2sVocabularyTrimmed() throws IOException {
        Path full = LlamaTree.vocab("qwen2");
        Path again = tmp.resolve("again.gguf");
        Vocabularies.trimBpe(full, Vocabularies.QWEN2_SMALL_REGULAR, "qwen2 (first 4096 tokens)", again);
        assertArrayEquals(Files.readAllBytes(again), Files.readAllBytes(Vocabularies.qwen2Small()),
                "regenerate " + Vocabularies.QWEN2_SMALL_RESOURCE + " with Vocabularies.trimBpe");
        try (GgufFile f = GgufFile.open(full); GgufFile t = GgufFile.open(again)) {
            String[] all = f.getStringArray("tokenizer.ggml.tokens");
            String[] kept = t.getStringArray("tokenizer.ggml.tokens");
            assertArrayEquals(Arrays.copyOf(all, 4096), Arrays.copyOf(kept, 4096), "regular tokens keep their ids");
            assertArrayEquals(new String[] {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, Arrays.copyOfRange(kept, 4096, kept.length));
            assertArrayEquals(Arrays.copyOf(f.getStringArray("tokenizer.ggml.merges"), 3840), t.getStringArray("tokenizer.ggml.merges"));
            assertEquals(4096, t.getInt("tokenizer.ggml.eos_token_id"));
            assertEquals(f.getString("tokenizer.chat_template"), t.getString("tokenizer.chat_template"));
            assertEquals("qwen2", t.getString("tokenizer.ggml.pre"));
        }
    }

    @Test
    void otherKindsOfVocabularyAreRefused() {
        Path spm = LlamaTree.vocab("llama-spm");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Vocabularies.trimBpe(spm, 1000, "x", tmp.resolve("x.gguf")));
        assertTrue(e.getMessage().contains("not a byte-level BPE vocabulary"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Vocabularies.trimBpe(LlamaTree.vocab("qwen2"), 100, "x", tmp.resolve("y.gguf")));
    }

    /** Without any llama.cpp tree: a synthetic model with the bundled tokenizer, vocabulary 4099 (+ Qwen's media tokens for the Qwen architectures). */
    @Test
    void syntheticModelsNeedNoLlamaTree() {
        Path vocab = Vocabularies.qwen2Small();
        for (String arch : new String[] {"qwen2", "qwen2vl", "llama"}) {
            Path m = SyntheticModels.write(ModelSpec.tiny(arch, vocab), tmp.resolve(arch + ".gguf"));
            try (GgufFile f = GgufFile.open(m)) {
                int n = f.getStringArray("tokenizer.ggml.tokens").length;
                assertEquals(!arch.equals("llama") ? 4099 + SyntheticModels.QWEN_MEDIA_TOKENS.length : 4099, n, arch);
                assertEquals(n, f.tensor("token_embd.weight").shape()[1], arch);
            }
        }
    }
}
