package org.neuronscope.gguf;

import java.util.Set;

/**
 * The shape of a synthetic model. Architectures: {@code llama}, {@code qwen2}, {@code qwen3},
 * {@code gemma3} (GELU FFN), {@code qwen2vl} (M-RoPE).
 *
 * @param weightType type of the large matrices (F32, F16, Q8_0); norms are always F32
 * @param vocabFile  a vocab-only GGUF whose tokenizer the model gets (e.g. llama.cpp's
 *                   {@code models/ggml-vocab-qwen2.gguf}); the vocabulary size follows from it
 * @param seed       the weights are a function of (seed, tensor name) only
 */
public record ModelSpec(String architecture, int layers, int embedding, int feedForward, int heads, int kvHeads, int contextLength,
                        float ropeTheta, float rmsEps, GgmlType weightType, java.nio.file.Path vocabFile, long seed) {

    public static final Set<String> ARCHITECTURES = Set.of("llama", "qwen2", "qwen3", "gemma3", "qwen2vl");

    public ModelSpec {
        if (!ARCHITECTURES.contains(architecture)) {
            throw new IllegalArgumentException("unsupported synthetic architecture '" + architecture + "' " + ARCHITECTURES);
        }
        if (layers <= 0 || embedding <= 0 || feedForward <= 0 || heads <= 0 || kvHeads <= 0 || contextLength <= 0) {
            throw new IllegalArgumentException("dimensions must be positive");
        }
        if (embedding % heads != 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("embedding must divide into heads, heads into kv heads");
        }
        if (embedding % 32 != 0 || feedForward % 32 != 0) {
            throw new IllegalArgumentException("embedding and feedForward must be multiples of 32 (quantisation blocks)");
        }
        if (weightType != GgmlType.F32 && weightType != GgmlType.F16 && weightType != GgmlType.Q8_0) {
            throw new IllegalArgumentException("weightType must be F32, F16 or Q8_0");
        }
    }

    /** A few layers, 64 wide: loads and runs in milliseconds. */
    public static ModelSpec tiny(String architecture, java.nio.file.Path vocabFile) {
        return new ModelSpec(architecture, 3, 64, 128, 4, 2, 512, 10000f, 1e-6f, GgmlType.F32, vocabFile, 42);
    }

    /** Qwen2-0.5B's shape (24 layers, 896 wide, 4864 FFN, 14 heads, 2 KV heads), F16: the benchmark model. */
    public static ModelSpec qwen2_0_5b(java.nio.file.Path qwen2Vocab) {
        return new ModelSpec("qwen2", 24, 896, 4864, 14, 2, 4096, 1000000f, 1e-6f, GgmlType.F16, qwen2Vocab, 42);
    }

    public int headDim() {
        return embedding / heads;
    }

    public ModelSpec withLayers(int n) {
        return new ModelSpec(architecture, n, embedding, feedForward, heads, kvHeads, contextLength, ropeTheta, rmsEps, weightType, vocabFile, seed);
    }

    public ModelSpec withWidths(int embd, int ff, int nHeads, int nKvHeads) {
        return new ModelSpec(architecture, layers, embd, ff, nHeads, nKvHeads, contextLength, ropeTheta, rmsEps, weightType, vocabFile, seed);
    }

    public ModelSpec withWeightType(GgmlType type) {
        return new ModelSpec(architecture, layers, embedding, feedForward, heads, kvHeads, contextLength, ropeTheta, rmsEps, type, vocabFile, seed);
    }

    public ModelSpec withSeed(long s) {
        return new ModelSpec(architecture, layers, embedding, feedForward, heads, kvHeads, contextLength, ropeTheta, rmsEps, weightType, vocabFile, s);
    }
}
