package org.neuronscope.gguf;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes random-weight GGUF models llama.cpp loads, for tests, benchmarks and the demo. Weights are
 * N(0, 1/fan_in) (embeddings N(0, 1)), norms 1, seeded per tensor name: the same spec gives the same
 * bytes. A {@link TensorOverride} can change any row before it is written, which is how structure is
 * planted (chosen gate rows for chosen neurons, zeroed rows, ...).
 */
public final class SyntheticModels {
    private SyntheticModels() {
    }

    /** Changes the generated values of one row of a tensor before it is written. */
    @FunctionalInterface
    public interface TensorOverride {
        void apply(String tensor, long row, float[] values);

        TensorOverride NONE = (t, r, v) -> { };
    }

    /** One tensor the architecture needs: name, ggml shape, whether it is a norm (ones, F32). */
    public record TensorPlan(String name, long[] shape, boolean norm) {
    }

    public static Path write(ModelSpec spec, Path out) {
        return write(spec, out, TensorOverride.NONE);
    }

    public static Path write(ModelSpec spec, Path out, TensorOverride override) {
        try (GgufFile vocab = GgufFile.open(spec.vocabFile())) {
            int nVocab = vocab.getStringArray("tokenizer.ggml.tokens").length;
            String a = spec.architecture();
            GgufWriter w = new GgufWriter();
            w.putString("general.architecture", a);
            w.putString("general.name", "neuronscope-synthetic-" + a);
            w.putUint32(a + ".context_length", spec.contextLength());
            w.putUint32(a + ".embedding_length", spec.embedding());
            w.putUint32(a + ".block_count", spec.layers());
            w.putUint32(a + ".feed_forward_length", spec.feedForward());
            w.putUint32(a + ".attention.head_count", spec.heads());
            w.putUint32(a + ".attention.head_count_kv", spec.kvHeads());
            w.putFloat32(a + ".attention.layer_norm_rms_epsilon", spec.rmsEps());
            w.putFloat32(a + ".rope.freq_base", spec.ropeTheta());
            if (a.equals("qwen2vl")) {
                int h = spec.headDim(); // sections of the rotated half-dimensions: temporal, height, width, extra
                w.put(a + ".rope.dimension_sections", GgufValue.ofArray(GgufValueType.INT32, new long[] {h / 8, 3 * h / 16, h / 2 - h / 8 - 3 * h / 16, 0}));
            }
            w.copyMetadata(vocab, "tokenizer.");
            for (TensorPlan t : plan(spec, nVocab)) {
                GgmlType type = t.norm() || t.shape().length == 1 ? GgmlType.F32 : spec.weightType();
                if (t.name().equals("token_embd.weight") && type == GgmlType.Q8_0) {
                    type = GgmlType.F16; // get_rows on Q8_0 is fine, but keep embeddings precise
                }
                SplittableRandom rng = new SplittableRandom(spec.seed() * 0x9E3779B97F4A7C15L ^ t.name().hashCode());
                double sigma = t.name().equals("token_embd.weight") ? 1.0 : 1.0 / Math.sqrt(t.shape()[0]);
                boolean norm = t.norm();
                String name = t.name();
                w.addTensor(name, type, t.shape(), (row, values) -> {
                    for (int i = 0; i < values.length; i++) {
                        values[i] = norm ? 1.0f : (float) (rng.nextGaussian() * sigma);
                    }
                    override.apply(name, row, values);
                });
            }
            w.write(out);
            return out;
        }
    }

    /** The tensors of an architecture, in file order. */
    public static List<TensorPlan> plan(ModelSpec s, int nVocab) {
        int e = s.embedding();
        int kv = s.kvHeads() * s.headDim();
        List<TensorPlan> t = new ArrayList<>();
        t.add(new TensorPlan("token_embd.weight", new long[] {e, nVocab}, false));
        for (int i = 0; i < s.layers(); i++) {
            String p = "blk." + i + ".";
            t.add(new TensorPlan(p + "attn_norm.weight", new long[] {e}, true));
            t.add(new TensorPlan(p + "attn_q.weight", new long[] {e, e}, false));
            t.add(new TensorPlan(p + "attn_k.weight", new long[] {e, kv}, false));
            t.add(new TensorPlan(p + "attn_v.weight", new long[] {e, kv}, false));
            t.add(new TensorPlan(p + "attn_output.weight", new long[] {e, e}, false));
            if (s.architecture().equals("qwen3") || s.architecture().equals("gemma3")) {
                t.add(new TensorPlan(p + "attn_q_norm.weight", new long[] {s.headDim()}, true));
                t.add(new TensorPlan(p + "attn_k_norm.weight", new long[] {s.headDim()}, true));
            }
            if (s.architecture().equals("gemma3")) {
                t.add(new TensorPlan(p + "post_attention_norm.weight", new long[] {e}, true));
                t.add(new TensorPlan(p + "post_ffw_norm.weight", new long[] {e}, true));
            }
            t.add(new TensorPlan(p + "ffn_norm.weight", new long[] {e}, true));
            t.add(new TensorPlan(p + "ffn_gate.weight", new long[] {e, s.feedForward()}, false));
            t.add(new TensorPlan(p + "ffn_up.weight", new long[] {e, s.feedForward()}, false));
            t.add(new TensorPlan(p + "ffn_down.weight", new long[] {s.feedForward(), e}, false));
        }
        t.add(new TensorPlan("output_norm.weight", new long[] {e}, true));
        t.add(new TensorPlan("output.weight", new long[] {e, nVocab}, false));
        return t;
    }
}
