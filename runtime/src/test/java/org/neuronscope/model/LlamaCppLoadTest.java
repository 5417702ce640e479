package org.neuronscope.model;

import org.neuronscope.testkit.LlamaTree;

import org.neuronscope.gguf.GgufEdits;
import org.neuronscope.gguf.GgufFormatException;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.internal.LlamaRuntime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The oracle for the synthetic models and edits: llama.cpp itself loads and runs them (skipped without the native library). */
class LlamaCppLoadTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void nativeLibrary() {
        try {
            LlamaRuntime.init();
        } catch (RuntimeException | LinkageError e) {
            Assumptions.abort("llama.cpp's native library is not available (built with -Dnative.skip?): " + e);
        }
    }

    private static float[] lastLogits(Model model, int... tokens) {
        try (Session s = model.newSession(SessionParams.defaults().withContextSize(64).withBatchSize(16).withThreads(2));
             Batch b = Batch.ofTokens(16)) {
            for (int i = 0; i < tokens.length; i++) {
                b.add(tokens[i], i, 0, i == tokens.length - 1);
            }
            s.decode(b);
            return s.logitsArray(tokens.length - 1);
        }
    }

    @Test
    void everyArchitectureLoadsAndRunsWithItsOwnTokenizer() {
        for (String arch : ModelSpec.ARCHITECTURES) {
            Path vocab = SyntheticModels.vocabFor(arch, LlamaTree.root());
            ModelSpec spec = ModelSpec.tiny(arch, vocab).withWeightType(arch.equals("qwen3") ? GgmlType.Q8_0 : GgmlType.F16);
            Path p = SyntheticModels.write(spec, tmp.resolve(arch + ".gguf"));
            try (Model model = Model.load(p); GgufFile f = GgufFile.open(p)) {
                assertEquals(arch, model.architecture());
                assertEquals(spec.layers(), model.layerCount());
                assertEquals(spec.embedding(), model.embeddingSize());
                assertEquals(spec.heads(), model.headCount());
                assertEquals(spec.kvHeads(), model.kvHeadCount());
                assertEquals(f.getStringArray("tokenizer.ggml.tokens").length, model.vocabularySize());
                assertEquals(String.valueOf(spec.feedForward()), model.metadata(arch + ".feed_forward_length").orElseThrow());
                float[] logits = lastLogits(model, 1, 2, 3, 4);
                assertEquals(model.vocabularySize(), logits.length);
                assertTrue(Arrays.stream(toDoubles(logits)).allMatch(Double::isFinite), arch + ": finite logits");
                double mean = Arrays.stream(toDoubles(logits)).average().orElseThrow();
                double std = Math.sqrt(Arrays.stream(toDoubles(logits)).map(x -> (x - mean) * (x - mean)).average().orElseThrow());
                assertTrue(std > 0.3 && std < 3, arch + ": logits of standard deviation about 1, not " + std);
            } finally {
                deleteQuietly(p);
            }
        }
    }

    @Test
    void zeroingEveryGateAndUpRowEqualsAModelWithoutFfnContribution() {
        // with all ffn_gate and ffn_up rows zero, the FFN adds exactly 0; so does zeroing ffn_down in the generator
        Path vocab = LlamaTree.vocab("llama-spm");
        ModelSpec spec = ModelSpec.builder("llama", vocab).layers(2).build();
        Path in = SyntheticModels.write(spec, tmp.resolve("in.gguf"));
        int[] all = java.util.stream.IntStream.range(0, spec.feedForward()).toArray();
        Path zeroed = tmp.resolve("zeroed.gguf");
        GgufEdits.zeroRows(in, zeroed, Map.of("blk.0.ffn_gate.weight", all, "blk.0.ffn_up.weight", all,
                "blk.1.ffn_gate.weight", all, "blk.1.ffn_up.weight", all));
        Path noDown = SyntheticModels.write(spec, tmp.resolve("nodown.gguf"), (t, row, values) -> {
            if (t.name().endsWith("ffn_down.weight")) {
                Arrays.fill(values, 0f);
            }
        });
        try (Model a = Model.load(zeroed); Model b = Model.load(noDown); Model original = Model.load(in)) {
            float[] za = lastLogits(a, 5, 6, 7);
            float[] zb = lastLogits(b, 5, 6, 7);
            assertTrue(Arrays.equals(za, zb), "both remove the FFN exactly");
            assertTrue(!Arrays.equals(za, lastLogits(original, 5, 6, 7)), "and the FFN mattered");
        }
    }

    @Test
    void aBrokenFileNeverReachesLlamaCpp() throws IOException {
        Path good = SyntheticModels.write(ModelSpec.builder("llama", LlamaTree.vocab("llama-spm")).layers(1).build(), tmp.resolve("good.gguf"));
        byte[] bytes = Files.readAllBytes(good);
        Path half = Files.write(tmp.resolve("half.gguf"), Arrays.copyOf(bytes, bytes.length / 2));
        assertThrows(GgufFormatException.class, () -> Model.load(half));
        Path text = Files.writeString(tmp.resolve("notes.gguf"), "hello, I am not a model");
        assertThrows(GgufFormatException.class, () -> Model.load(text));
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a temp dir; JUnit cleans it up
        }
    }
}
