package org.neuronscope.gguf;

import org.neuronscope.testkit.LlamaTree;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama.cpp's own vocab-only GGUF files (written by gguf-py), read and copied. */
class VocabFilesTest {
    @TempDir
    Path tmp;

    static List<Path> vocabFiles() throws IOException {
        try (Stream<Path> s = Files.list(LlamaTree.root().resolve("models"))) {
            return s.filter(p -> p.getFileName().toString().matches("ggml-vocab-.*\\.gguf")).sorted().toList();
        }
    }

    @Test
    void everyVocabFileValidatesAndIsConsistent() throws IOException {
        List<Path> files = vocabFiles();
        assertTrue(files.size() >= 10, "vocab files in " + LlamaTree.root() + ": " + files);
        for (Path p : files) {
            try (GgufFile f = GgufFile.open(p)) {
                String name = p.getFileName().toString();
                assertFalse(f.architecture().isEmpty(), name);
                assertTrue(f.tensors().isEmpty(), name + " is vocab-only");
                int n = f.getStringArray("tokenizer.ggml.tokens").length;
                assertTrue(n > 1000, name + ": " + n + " tokens");
                assertEquals(n, f.getArray("tokenizer.ggml.tokens").length());
                for (String parallel : new String[] {"tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
                    if (f.containsKey(parallel)) {
                        assertEquals(n, f.getArray(parallel).length(), name + ": " + parallel + " parallels the tokens");
                    }
                }
                assertFalse(f.getString("tokenizer.ggml.model").isEmpty(), name);
            }
        }
    }

    /** Facts read from the same files with llama.cpp's gguf-py (GGUFReader). */
    @Test
    void knownFactsOfThreeVocabularies() {
        try (GgufFile f = GgufFile.open(LlamaTree.vocab("llama-spm"))) {
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            assertEquals(32000, tokens.length);
            assertArrayEquals(new String[] {"<unk>", "<s>", "</s>"}, Arrays.copyOf(tokens, 3));
            assertEquals("ied", tokens[1000]);
            assertEquals("llama", f.getString("tokenizer.ggml.model"));
            assertEquals(1, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(GgufValueType.UINT32, f.metadata().get("tokenizer.ggml.bos_token_id").type());
            assertEquals(22, f.keys().size()); // gguf-py lists 25 fields: these and its 3 header pseudo-fields
            assertEquals(723872, f.dataStart());
        }
        try (GgufFile f = GgufFile.open(LlamaTree.vocab("qwen2"))) {
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            assertEquals(151936, tokens.length);
            assertEquals("atus", tokens[1000]);
            assertEquals("qwen2", f.architecture());
            assertEquals("qwen2", f.getString("tokenizer.ggml.pre"));
            assertEquals(151643, f.getInt("tokenizer.ggml.bos_token_id"));
        }
        try (GgufFile f = GgufFile.open(LlamaTree.vocab("gemma-4"))) {
            assertEquals(262144, f.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals("gemma4", f.getString("tokenizer.ggml.model"));
        }
    }

    /** A copy of all metadata is the original file byte for byte (plus the data section's alignment padding). */
    @Test
    void copiedMetadataReproducesTheFile() throws IOException {
        for (String name : new String[] {"llama-spm", "qwen2"}) {
            Path original = LlamaTree.vocab(name);
            Path copy = tmp.resolve(name + ".gguf");
            try (GgufFile f = GgufFile.open(original)) {
                GgufWriter w = new GgufWriter();
                f.metadata().forEach(w::put);
                w.write(copy);
            }
            byte[] a = Files.readAllBytes(original);
            byte[] b = Files.readAllBytes(copy);
            assertEquals(GgufFile.align(a.length, 32), b.length, name);
            assertArrayEquals(a, Arrays.copyOf(b, a.length), name);
            for (int i = a.length; i < b.length; i++) {
                assertEquals(0, b[i], name + " padding");
            }
        }
    }
}
