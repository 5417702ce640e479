package org.neuronscope.model;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.neuronscope.testkit.LlamaTree;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama.cpp's own tokenizer test vectors ({@code models/ggml-vocab-*.gguf.inp/.out}), tokenized through
 * the Java API, for every vocab file that has them (the oracle of llama.cpp's test-tokenizer-0).
 */
class TokenizerVectorsTest {
    private static final byte[] SEPARATOR = "\n__ggml_vocab_test__\n".getBytes(StandardCharsets.UTF_8);

    @TestFactory
    Stream<DynamicTest> everyVocabularyTokenizesItsTestVectors() throws IOException {
        List<Path> vocabs;
        try (var files = Files.list(LlamaTree.models())) {
            vocabs = files.filter(p -> p.getFileName().toString().matches("ggml-vocab-.*\\.gguf"))
                    .filter(p -> Files.exists(Path.of(p + ".inp")) && Files.exists(Path.of(p + ".out")))
                    .sorted().toList();
        }
        assertFalse(vocabs.isEmpty(), "no vocab test vectors found");
        return vocabs.stream().map(v -> DynamicTest.dynamicTest(v.getFileName().toString(), () -> check(v)));
    }

    private static void check(Path vocab) throws IOException {
        List<byte[]> inputs = split(Files.readAllBytes(Path.of(vocab + ".inp")));
        List<String> outputs = Files.readAllLines(Path.of(vocab + ".out"), StandardCharsets.UTF_8);
        assertTrue(inputs.size() == outputs.size(), "input/output count mismatch in " + vocab);
        try (Model model = Model.load(vocab, ModelParams.defaults().withVocabOnly(true))) {
            Tokenizer tokenizer = model.tokenizer();
            for (int i = 0; i < inputs.size(); i++) {
                String out = outputs.get(i).strip();
                int[] expected = out.isEmpty() ? new int[0] : Arrays.stream(out.split(" ")).mapToInt(Integer::parseInt).toArray();
                int[] actual = tokenizer.tokenize(inputs.get(i), false, false);
                int n = i;
                assertArrayEquals(expected, actual, () -> vocab.getFileName() + " case " + n + ": '"
                        + new String(inputs.get(n), StandardCharsets.UTF_8) + "'");
            }
        }
    }

    /** Splits like test-tokenizer-0.cpp: on "\n__ggml_vocab_test__\n", keeping a final remainder. */
    private static List<byte[]> split(byte[] raw) {
        List<byte[]> parts = new ArrayList<>();
        int pos = 0;
        while (pos < raw.length) {
            int next = indexOf(raw, SEPARATOR, pos);
            if (next < 0) {
                parts.add(Arrays.copyOfRange(raw, pos, raw.length));
                break;
            }
            parts.add(Arrays.copyOfRange(raw, pos, next));
            pos = next + SEPARATOR.length;
        }
        return parts;
    }

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
