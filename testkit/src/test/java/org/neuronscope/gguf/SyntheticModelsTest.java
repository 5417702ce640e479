package org.neuronscope.gguf;

import org.neuronscope.testkit.LlamaTree;

import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticModelsTest {
    @TempDir
    Path tmp;

    /** The small llama SPM vocabulary (32000 tokens) keeps every model here a few MB. */
    private static ModelSpec small(String arch) {
        return ModelSpec.builder(arch, LlamaTree.vocab("llama-spm")).layers(2).build();
    }

    @Test
    void theSameSeedGivesTheSameBytesAndAnotherSeedOthers() throws IOException {
        ModelSpec spec = small("qwen2").withWeightType(GgmlType.Q8_0);
        byte[] a = Files.readAllBytes(SyntheticModels.write(spec, tmp.resolve("a.gguf")));
        byte[] b = Files.readAllBytes(SyntheticModels.write(spec, tmp.resolve("b.gguf")));
        byte[] c = Files.readAllBytes(SyntheticModels.write(spec.withSeed(43), tmp.resolve("c.gguf")));
        assertArrayEquals(a, b, "same seed, same bytes");
        assertEquals(a.length, c.length);
        assertFalse(Arrays.equals(a, c), "another seed, other bytes");
    }

    /** Tensors each architecture's loader in llama.cpp (src/models/<arch>.cpp) requires or, for qwen2's biases, real models have. */
    private static Map<String, long[]> expectedTensors(ModelSpec s, long vocab) {
        long e = s.embedding();
        long kv = (long) s.kvHeads() * (e / s.heads());
        long ff = s.feedForward();
        long hd = e / s.heads();
        String a = s.architecture();
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("token_embd.weight", new long[] {e, vocab});
        t.put("output_norm.weight", new long[] {e});
        if (!s.tiedEmbeddings()) {
            t.put("output.weight", new long[] {e, vocab});
        }
        for (int i = 0; i < s.layers(); i++) {
            String p = "blk." + i + ".";
            t.put(p + "attn_norm.weight", new long[] {e});
            t.put(p + "attn_q.weight", new long[] {e, e});
            t.put(p + "attn_k.weight", new long[] {e, kv});
            t.put(p + "attn_v.weight", new long[] {e, kv});
            t.put(p + "attn_output.weight", new long[] {e, e});
            t.put(p + "ffn_norm.weight", new long[] {e});
            t.put(p + "ffn_gate.weight", new long[] {e, ff});
            t.put(p + "ffn_up.weight", new long[] {e, ff});
            t.put(p + "ffn_down.weight", new long[] {ff, e});
            if (a.equals("qwen2") || a.equals("qwen2vl")) {
                t.put(p + "attn_q.bias", new long[] {e});
                t.put(p + "attn_k.bias", new long[] {kv});
                t.put(p + "attn_v.bias", new long[] {kv});
            }
            if (a.equals("qwen3") || a.equals("gemma3")) {
                t.put(p + "attn_q_norm.weight", new long[] {hd});
                t.put(p + "attn_k_norm.weight", new long[] {hd});
            }
            if (a.equals("gemma3")) {
                t.put(p + "post_attention_norm.weight", new long[] {e});
                t.put(p + "post_ffw_norm.weight", new long[] {e});
            }
        }
        return t;
    }

    @Test
    void everyArchitectureHasTheKeysAndTensorsLlamaCppReads() {
        for (String arch : ModelSpec.ARCHITECTURES) {
            ModelSpec spec = small(arch).withWeightType(GgmlType.F16);
            Path p = SyntheticModels.write(spec, tmp.resolve(arch + ".gguf"));
            try (GgufFile f = GgufFile.open(p); GgufFile vocab = GgufFile.open(spec.vocabFile())) {
                assertEquals(arch, f.architecture());
                assertEquals(2, f.getInt(arch + ".block_count"));
                assertEquals(64, f.getInt(arch + ".embedding_length"));
                assertEquals(128, f.getInt(arch + ".feed_forward_length"));
                assertEquals(4, f.getInt(arch + ".attention.head_count"));
                assertEquals(2, f.getInt(arch + ".attention.head_count_kv"));
                assertEquals(512, f.getInt(arch + ".context_length"));
                assertEquals(10000f, f.getFloat(arch + ".rope.freq_base"));
                assertEquals(1e-6f, f.getFloat(arch + ".attention.layer_norm_rms_epsilon"));
                if (arch.equals("qwen2vl")) {
                    long[] sections = f.getLongArray("qwen2vl.rope.dimension_sections");
                    assertArrayEquals(new long[] {2, 3, 3, 0}, sections, "Qwen2-VL's 16:24:24 proportions for 16-wide heads");
                    assertEquals(spec.headDim() / 2, Arrays.stream(sections).sum(), "sections cover the rotated pairs");
                }
                // the tokenizer, copied with exact types and values; Qwen vocabularies gain the media
                // boundary tokens (control type) at the end, everything before them unchanged
                String[] extra = arch.startsWith("qwen") ? SyntheticModels.QWEN_MEDIA_TOKENS
                        : arch.equals("gemma3") ? SyntheticModels.GEMMA_MEDIA_TOKENS : new String[0];
                boolean extended = extra.length > 0;
                java.util.Set<String> extendedKeys = java.util.Set.of("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores");
                if (extended && vocab.containsKey("tokenizer.ggml.scores")) {
                    float[] base = vocab.getFloatArray("tokenizer.ggml.scores");
                    float[] scores = f.getFloatArray("tokenizer.ggml.scores");
                    assertArrayEquals(base, Arrays.copyOf(scores, base.length), arch);
                    assertEquals(base.length + extra.length, scores.length, arch);
                }
                vocab.metadata().forEach((k, v) -> {
                    if (k.startsWith("tokenizer.") && !(extended && extendedKeys.contains(k))) {
                        assertEquals(v, f.metadata().get(k), arch + ": " + k);
                    }
                });
                String[] baseTokens = vocab.getStringArray("tokenizer.ggml.tokens");
                String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
                long[] types = f.getLongArray("tokenizer.ggml.token_type");
                assertEquals(baseTokens.length + extra.length, tokens.length, arch);
                assertArrayEquals(baseTokens, Arrays.copyOf(tokens, baseTokens.length), arch);
                assertArrayEquals(vocab.getLongArray("tokenizer.ggml.token_type"), Arrays.copyOf(types, baseTokens.length), arch);
                for (int i = 0; i < extra.length; i++) {
                    assertEquals(extra[i], tokens[baseTokens.length + i]);
                    assertEquals(3, types[baseTokens.length + i], "control token " + extra[i]);
                }
                int nVocab = tokens.length;
                Map<String, long[]> expected = expectedTensors(spec, nVocab);
                assertEquals(expected.keySet(), f.tensors().keySet().stream().collect(java.util.stream.Collectors.toSet()), arch);
                for (TensorInfo t : f.tensors().values()) {
                    assertArrayEquals(expected.get(t.name()), t.shape(), arch + " " + t.name());
                    assertEquals(t.shape().length == 1 ? GgmlType.F32 : GgmlType.F16, t.type(), arch + " " + t.name());
                }
                assertEquals(!arch.equals("llama"), !f.containsTensor("output.weight"), "tiny models tie the output, except llama");
            }
        }
    }

    @Test
    void weightsAreScaledNormalsNormsOnesBiasesSmall() {
        ModelSpec spec = small("qwen2").toBuilder().embedding(256).heads(8).kvHeads(2).build();
        Path p = SyntheticModels.write(spec, tmp.resolve("stats.gguf"));
        try (GgufFile f = GgufFile.open(p)) {
            double[] up = moments(f, "blk.0.ffn_up.weight");
            assertEquals(0, up[0], 0.01);
            assertEquals(1 / Math.sqrt(256), up[1], 0.05 / Math.sqrt(256), "std of a weight: 1/sqrt(row length)");
            double[] down = moments(f, "blk.0.ffn_down.weight");
            assertEquals(1 / Math.sqrt(128), down[1], 0.05 / Math.sqrt(128), "ffn_down rows have n_ff = 128 inputs");
            assertEquals(1 / Math.sqrt(256), moments(f, "token_embd.weight")[1], 0.05 / Math.sqrt(256), "embeddings too: logits of std ~1 when tied");
            assertEquals(0.02, moments(f, "blk.1.attn_q.bias")[1], 0.004);
            for (String norm : List.of("blk.0.attn_norm.weight", "blk.1.ffn_norm.weight", "output_norm.weight")) {
                float[] ones = new float[256];
                Arrays.fill(ones, 1f);
                assertArrayEquals(ones, f.row(norm, 0), norm);
            }
            // every tensor draws from its own stream
            assertFalse(Arrays.equals(f.row("blk.0.ffn_up.weight", 0), f.row("blk.0.ffn_gate.weight", 0)));
        }
    }

    private static double[] moments(GgufFile f, String tensor) {
        TensorInfo t = f.tensor(tensor);
        double sum = 0;
        double sq = 0;
        long n = 0;
        for (long r = 0; r < Math.min(t.rows(), 2000); r++) {
            for (float v : f.row(tensor, r)) {
                sum += v;
                sq += v * v;
                n++;
            }
        }
        double mean = sum / n;
        return new double[] {mean, Math.sqrt(sq / n - mean * mean)};
    }

    @Test
    void anOverridePlantsRowsAndChangesNothingElse() throws IOException {
        ModelSpec spec = small("llama");
        Path plain = SyntheticModels.write(spec, tmp.resolve("plain.gguf"));
        AtomicLong gateRows = new AtomicLong();
        List<String> seen = new ArrayList<>();
        SyntheticModels.TensorOverride plant = (tensor, row, values) -> {
            if (row == 0) {
                seen.add(tensor.name());
            }
            if (tensor.name().equals("blk.1.ffn_gate.weight")) {
                assertArrayEquals(new long[] {64, 128}, tensor.shape());
                assertEquals(64, values.length);
                gateRows.incrementAndGet();
                if (row == 5 || row == 77) {
                    Arrays.fill(values, 0.25f);
                }
            }
        };
        Path planted = SyntheticModels.write(spec, tmp.resolve("planted.gguf"), plant.andThen(SyntheticModels.TensorOverride.NONE));
        assertEquals(128, gateRows.get(), "called once per row");
        assertEquals(SyntheticModels.plan(spec, 32000).stream().map(SyntheticModels.TensorPlan::name).toList(), seen, "every tensor, in file order");
        try (GgufFile a = GgufFile.open(plain); GgufFile b = GgufFile.open(planted)) {
            float[] quarter = new float[64];
            Arrays.fill(quarter, 0.25f);
            assertArrayEquals(quarter, b.row("blk.1.ffn_gate.weight", 5));
            assertArrayEquals(quarter, b.row("blk.1.ffn_gate.weight", 77));
            assertArrayEquals(a.row("blk.1.ffn_gate.weight", 6), b.row("blk.1.ffn_gate.weight", 6), "the random stream is not disturbed");
            for (TensorInfo t : a.tensors().values()) {
                if (!t.name().equals("blk.1.ffn_gate.weight")) {
                    assertEquals(a.tensorData(t.name()).mismatch(b.tensorData(t.name())), -1L, t.name());
                }
            }
        }
    }

    @Test
    void theQwen2BenchmarkPresetHasQwen2_0_5bsShape() {
        Path vocab = LlamaTree.vocab("qwen2");
        ModelSpec s = ModelSpec.qwen2_0_5b(vocab);
        assertEquals(List.of(24, 896, 4864, 14, 2, 64), List.of(s.layers(), s.embedding(), s.feedForward(), s.heads(), s.kvHeads(), s.headDim()));
        assertEquals(GgmlType.F16, s.weightType());
        assertTrue(s.tiedEmbeddings());
        long params = SyntheticModels.plan(s, 151936).stream().mapToLong(t -> t.rows() * t.rowLength()).sum();
        assertEquals(494_032_768L, params, "Qwen2-0.5B's parameter count");
        assertEquals(vocab, SyntheticModels.vocabFor("qwen2", LlamaTree.root()));
        for (String arch : ModelSpec.ARCHITECTURES) {
            assertTrue(Files.isRegularFile(SyntheticModels.vocabFor(arch, LlamaTree.root())), arch);
        }
    }

    @Test
    void impossibleSpecsAreRefused() {
        Path v = Path.of("vocab.gguf");
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.tiny("mamba", v));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).heads(3).build(), "64 is not divisible by 3");
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).kvHeads(3).build(), "4 heads are not divisible by 3");
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).embedding(48).heads(4).weightType(GgmlType.Q8_0).build(),
                "Q8_0 rows of 48");
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).weightType(GgmlType.Q4_0).build());
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).layers(0).build());
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).heads(64).kvHeads(64).build(), "odd head size 1");
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.builder("llama", v).rmsEps(0).build());
    }
}
