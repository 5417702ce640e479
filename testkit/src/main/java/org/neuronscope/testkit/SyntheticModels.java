package org.neuronscope.testkit;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufWriter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Writes random-weight GGUF models that llama.cpp loads and runs, for tests, benchmarks and demos.
 *
 * <p>Metadata and tensors are those llama.cpp's loader reads for each architecture (see
 * {@code src/models/<arch>.cpp}): qwen2 and qwen2vl get Q/K/V biases, qwen3 and gemma3 per-head Q/K
 * norms, gemma3 post-attention and post-FFN norms, qwen2vl M-RoPE sections. The tokenizer is copied
 * from a vocab-only GGUF ({@code tokenizer.*}), and the vocabulary size follows from it.
 *
 * <p>Matrices, token embeddings included, are N(0, 1/row length): a matrix-vector product keeps its
 * input's scale, and logits from a normalised hidden state have a standard deviation of about 1, tied
 * to the embeddings or not (so sampling at temperature 1 is not near-greedy). Biases are N(0, 0.02²),
 * norms 1. Every tensor has its own random stream seeded
 * from (seed, tensor name): the same spec gives the same bytes, and changing one tensor (say through
 * an override) changes no other. A {@link TensorOverride} sees every row before it is encoded, which
 * is how structure is planted: chosen gate rows for chosen neurons, zeroed rows, ....
 */
public final class SyntheticModels {
    private static final Logger LOG = LoggerFactory.getLogger(SyntheticModels.class);
    private static final double BIAS_SIGMA = 0.02;

    private SyntheticModels() {
    }

    /** What a tensor is, which decides its type and initial values. */
    public enum Kind {
        /** token_embd: N(0, 1/n_embd), the spec's weight type. */
        EMBEDDING,
        /** a matrix: N(0, 1/row length), the spec's weight type. */
        WEIGHT,
        /** a bias vector: N(0, 0.02²), F32. */
        BIAS,
        /** a norm's scale: 1, F32. */
        NORM
    }

    /** One tensor the architecture needs: name, ggml shape ({ne0 = row length, ...}) and kind. */
    public record TensorPlan(String name, long[] shape, Kind kind) {
        public TensorPlan {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long rowLength() {
            return shape[0];
        }

        public long rows() {
            long n = 1;
            for (int i = 1; i < shape.length; i++) {
                n *= shape[i];
            }
            return n;
        }

        /** The type the tensor is written in. */
        public GgmlType type(ModelSpec spec) {
            return kind == Kind.EMBEDDING || kind == Kind.WEIGHT ? spec.weightType() : GgmlType.F32;
        }
    }

    /**
     * Changes a tensor's generated values before they are encoded: called once per row, in order, with
     * the row's values, which it may modify in place (the random stream is unaffected).
     */
    @FunctionalInterface
    public interface TensorOverride {
        TensorOverride NONE = (tensor, row, values) -> { };

        void apply(TensorPlan tensor, long row, float[] values);

        default TensorOverride andThen(TensorOverride next) {
            Objects.requireNonNull(next, "next");
            return (tensor, row, values) -> {
                apply(tensor, row, values);
                next.apply(tensor, row, values);
            };
        }
    }

    /**
     * The vocab-only GGUF of llama.cpp's source tree ({@code models/}) used for an architecture's
     * tokenizer: llama → ggml-vocab-llama-spm, qwen2/qwen3/qwen2vl → ggml-vocab-qwen2, gemma3 →
     * ggml-vocab-gemma-4 (the tree has no gemma3 vocab; gemma 4's is a gemma tokenizer of the same
     * 262144 tokens).
     */
    public static Path vocabFor(String architecture, Path llamaCppSource) {
        String file = switch (architecture) {
            case "llama" -> "ggml-vocab-llama-spm.gguf";
            case "qwen2", "qwen3", "qwen2vl" -> "ggml-vocab-qwen2.gguf";
            case "gemma3" -> "ggml-vocab-gemma-4.gguf";
            default -> throw new IllegalArgumentException("unsupported synthetic architecture '" + architecture + "'");
        };
        return llamaCppSource.resolve("models").resolve(file);
    }

    public static Path write(ModelSpec spec, Path out) {
        return write(spec, out, TensorOverride.NONE);
    }

    /** Writes the model described by {@code spec} to {@code out}, passing every row through {@code override}. */
    public static Path write(ModelSpec spec, Path out, TensorOverride override) {
        Objects.requireNonNull(override, "override");
        try (GgufFile vocab = GgufFile.open(spec.vocabFile())) {
            String a = spec.architecture();
            String[] tokens = vocab.getStringArray("tokenizer.ggml.tokens");
            long[] tokenTypes = vocab.getLongArray("tokenizer.ggml.token_type");
            String[] extra = isQwen(a) ? QWEN_MEDIA_TOKENS : a.equals("gemma3") ? GEMMA_MEDIA_TOKENS : new String[0];
            int nVocab = tokens.length + extra.length;
            GgufWriter w = new GgufWriter();
            w.putString("general.architecture", a);
            w.putString("general.name", "neuronscope-synthetic-" + a);
            w.putUint32("general.file_type", fileType(spec.weightType()));
            w.putUint32(a + ".context_length", spec.contextLength());
            w.putUint32(a + ".embedding_length", spec.embedding());
            w.putUint32(a + ".block_count", spec.layers());
            w.putUint32(a + ".feed_forward_length", spec.feedForward());
            w.putUint32(a + ".attention.head_count", spec.heads());
            w.putUint32(a + ".attention.head_count_kv", spec.kvHeads());
            w.putFloat32(a + ".attention.layer_norm_rms_epsilon", spec.rmsEps());
            w.putFloat32(a + ".rope.freq_base", spec.ropeTheta());
            if (a.equals("qwen2vl")) {
                w.putInt32Array(a + ".rope.dimension_sections", ropeSections(spec.headDim()));
            }
            w.copyMetadata(vocab, "tokenizer.");
            if (extra.length > 0) {
                // Qwen2's real tokenizer carries the vision/audio boundary tokens that mtmd inserts around
                // media; llama.cpp's vocab-only file lacks them, so they are appended as control tokens.
                String[] allTokens = java.util.Arrays.copyOf(tokens, nVocab);
                int[] allTypes = new int[nVocab];
                for (int i = 0; i < tokens.length; i++) {
                    allTypes[i] = (int) tokenTypes[i];
                }
                for (int i = 0; i < extra.length; i++) {
                    allTokens[tokens.length + i] = extra[i];
                    allTypes[tokens.length + i] = TOKEN_TYPE_CONTROL;
                }
                w.putStringArray("tokenizer.ggml.tokens", allTokens);
                w.putInt32Array("tokenizer.ggml.token_type", allTypes);
                if (vocab.containsKey("tokenizer.ggml.scores")) {
                    w.putFloat32Array("tokenizer.ggml.scores", java.util.Arrays.copyOf(vocab.getFloatArray("tokenizer.ggml.scores"), nVocab));
                }
            }
            for (TensorPlan t : plan(spec, nVocab)) {
                SplittableRandom rng = new SplittableRandom(tensorSeed(spec.seed(), t.name()));
                double sigma = switch (t.kind()) {
                    case EMBEDDING, WEIGHT -> 1.0 / Math.sqrt(t.rowLength());
                    case BIAS -> BIAS_SIGMA;
                    case NORM -> 0.0;
                };
                w.addTensor(t.name(), t.type(spec), t.shape(), (row, values) -> {
                    for (int i = 0; i < values.length; i++) {
                        values[i] = t.kind() == Kind.NORM ? 1.0f : (float) (rng.nextGaussian() * sigma);
                    }
                    override.apply(t, row, values);
                });
            }
            w.write(out);
            LOG.debug("wrote synthetic {} model {} ({} layers, {} wide, vocabulary {})", a, out, spec.layers(), spec.embedding(), nVocab);
            return out;
        }
    }

    /** Qwen's media boundary tokens (Qwen2-VL, Qwen2-Audio, Qwen2.5-Omni), appended to Qwen vocabularies. */
    public static final String[] QWEN_MEDIA_TOKENS = {
        "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
        "<|audio_bos|>", "<|audio_eos|>", "<|AUDIO|>",
    };
    /** Gemma 3's image boundary tokens, appended to the Gemma vocabulary (llama.cpp's file is Gemma 4's). */
    public static final String[] GEMMA_MEDIA_TOKENS = {"<start_of_image>", "<end_of_image>"};
    private static final int TOKEN_TYPE_CONTROL = 3; // llama_token_type LLAMA_TOKEN_TYPE_CONTROL

    private static boolean isQwen(String architecture) {
        return architecture.equals("qwen2") || architecture.equals("qwen3") || architecture.equals("qwen2vl");
    }

    /**
     * qwen2vl's M-RoPE sections (temporal, height, width, unused), in rotated pairs, summing to half
     * the head size, in Qwen2-VL's proportions (16, 24, 24, 0 for 128-wide heads).
     */
    static int[] ropeSections(int headDim) {
        int t = headDim / 8;
        int h = 3 * headDim / 16;
        return new int[] {t, h, headDim / 2 - t - h, 0};
    }

    /** llama_ftype of a model whose matrices are {@code type} (informational for llama.cpp). */
    private static long fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0; // LLAMA_FTYPE_ALL_F32
            case F16 -> 1; // LLAMA_FTYPE_MOSTLY_F16
            case Q8_0 -> 7; // LLAMA_FTYPE_MOSTLY_Q8_0
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    /** A stream per (seed, name): FNV-1a of the name's bytes, mixed with the seed. */
    private static long tensorSeed(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        return h ^ (seed * 0x9E3779B97F4A7C15L);
    }

    /** The tensors of a spec's architecture with a vocabulary of {@code nVocab}, in file order. */
    public static List<TensorPlan> plan(ModelSpec s, int nVocab) {
        String arch = s.architecture();
        long e = s.embedding();
        long kv = s.kvWidth();
        long ff = s.feedForward();
        boolean qkvBias = arch.equals("qwen2") || arch.equals("qwen2vl");
        boolean qkNorm = arch.equals("qwen3") || arch.equals("gemma3");
        boolean postNorms = arch.equals("gemma3");
        List<TensorPlan> t = new ArrayList<>();
        t.add(new TensorPlan("token_embd.weight", new long[] {e, nVocab}, Kind.EMBEDDING));
        for (int i = 0; i < s.layers(); i++) {
            String p = "blk." + i + ".";
            t.add(new TensorPlan(p + "attn_norm.weight", new long[] {e}, Kind.NORM));
            t.add(new TensorPlan(p + "attn_q.weight", new long[] {e, e}, Kind.WEIGHT));
            t.add(new TensorPlan(p + "attn_k.weight", new long[] {e, kv}, Kind.WEIGHT));
            t.add(new TensorPlan(p + "attn_v.weight", new long[] {e, kv}, Kind.WEIGHT));
            if (qkvBias) {
                t.add(new TensorPlan(p + "attn_q.bias", new long[] {e}, Kind.BIAS));
                t.add(new TensorPlan(p + "attn_k.bias", new long[] {kv}, Kind.BIAS));
                t.add(new TensorPlan(p + "attn_v.bias", new long[] {kv}, Kind.BIAS));
            }
            if (qkNorm) {
                t.add(new TensorPlan(p + "attn_q_norm.weight", new long[] {s.headDim()}, Kind.NORM));
                t.add(new TensorPlan(p + "attn_k_norm.weight", new long[] {s.headDim()}, Kind.NORM));
            }
            t.add(new TensorPlan(p + "attn_output.weight", new long[] {e, e}, Kind.WEIGHT));
            if (postNorms) {
                t.add(new TensorPlan(p + "post_attention_norm.weight", new long[] {e}, Kind.NORM));
            }
            t.add(new TensorPlan(p + "ffn_norm.weight", new long[] {e}, Kind.NORM));
            t.add(new TensorPlan(p + "ffn_gate.weight", new long[] {e, ff}, Kind.WEIGHT));
            t.add(new TensorPlan(p + "ffn_up.weight", new long[] {e, ff}, Kind.WEIGHT));
            t.add(new TensorPlan(p + "ffn_down.weight", new long[] {ff, e}, Kind.WEIGHT));
            if (postNorms) {
                t.add(new TensorPlan(p + "post_ffw_norm.weight", new long[] {e}, Kind.NORM));
            }
        }
        t.add(new TensorPlan("output_norm.weight", new long[] {e}, Kind.NORM));
        if (!s.tiedEmbeddings()) {
            t.add(new TensorPlan("output.weight", new long[] {e, nVocab}, Kind.WEIGHT));
        }
        return t;
    }
}
