package org.neuronscope.testkit;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.Quantization;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;

/**
 * The shape of a synthetic model (see {@link SyntheticModels}).
 *
 * @param architecture   {@code llama}, {@code qwen2}, {@code qwen3}, {@code gemma3} or {@code qwen2vl}
 * @param layers         n_layer
 * @param embedding      n_embd
 * @param feedForward    n_ff
 * @param heads          n_head; the head size is {@code embedding / heads}
 * @param kvHeads        n_head_kv
 * @param contextLength  the trained context length written to the file
 * @param ropeTheta      RoPE frequency base
 * @param rmsEps         RMS norm epsilon
 * @param weightType     type of the matrices, token embeddings included (F32, F16 or Q8_0); norms and biases are F32
 * @param tiedEmbeddings no {@code output.weight}: llama.cpp then uses {@code token_embd.weight} for the output
 * @param vocabFile      a vocab-only GGUF whose {@code tokenizer.*} metadata the model gets (e.g. llama.cpp's
 *                       {@code models/ggml-vocab-qwen2.gguf}); the vocabulary size follows from it
 * @param seed           the weights are a function of (seed, tensor name) only
 */
public record ModelSpec(String architecture, int layers, int embedding, int feedForward, int heads, int kvHeads, int contextLength,
                        float ropeTheta, float rmsEps, GgmlType weightType, boolean tiedEmbeddings, Path vocabFile, long seed) {

    public static final Set<String> ARCHITECTURES = Set.of("llama", "qwen2", "qwen3", "gemma3", "qwen2vl");

    public ModelSpec {
        Objects.requireNonNull(weightType, "weightType");
        Objects.requireNonNull(vocabFile, "vocabFile");
        if (!ARCHITECTURES.contains(architecture)) {
            throw new IllegalArgumentException("unsupported synthetic architecture '" + architecture + "', supported: " + ARCHITECTURES);
        }
        if (layers <= 0 || embedding <= 0 || feedForward <= 0 || heads <= 0 || kvHeads <= 0 || contextLength <= 0) {
            throw new IllegalArgumentException("layers, widths, head counts and context length must be positive");
        }
        if (embedding % heads != 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("embedding (" + embedding + ") must divide into heads (" + heads + "), heads into kv heads (" + kvHeads + ")");
        }
        if ((embedding / heads) % 2 != 0 || (architecture.equals("qwen2vl") && embedding / heads < 8)) {
            throw new IllegalArgumentException("head size " + embedding / heads + " must be even for RoPE (and at least 8 for qwen2vl's M-RoPE sections)");
        }
        if (!Quantization.canEncode(weightType)) {
            throw new IllegalArgumentException("weightType must be F32, F16 or Q8_0, not " + weightType);
        }
        int block = weightType.blockSize();
        if (embedding % block != 0 || feedForward % block != 0) {
            throw new IllegalArgumentException("embedding and feedForward must be multiples of " + weightType + "'s block size " + block);
        }
        if (!(ropeTheta > 0) || !(rmsEps > 0)) {
            throw new IllegalArgumentException("ropeTheta and rmsEps must be positive");
        }
    }

    /**
     * Three layers, 64 wide, FFN 128, 4 heads, 2 KV heads, F32: loads and runs in milliseconds. Output
     * tied to the embeddings except for {@code llama}, so both ways of reading the output are covered.
     */
    public static ModelSpec tiny(String architecture, Path vocabFile) {
        return new ModelSpec(architecture, 3, 64, 128, 4, 2, 512, 10000f, 1e-6f, GgmlType.F32, !"llama".equals(architecture), vocabFile, 42);
    }

    /**
     * Qwen2-0.5B's shape: 24 layers, 896 wide, FFN 4864, 14 heads, 2 KV heads, tied embeddings, F16,
     * RoPE base 1e6, context 32768 (about 1 GB with the Qwen2 vocabulary): the benchmark model.
     */
    public static ModelSpec qwen2_0_5b(Path qwen2Vocab) {
        return new ModelSpec("qwen2", 24, 896, 4864, 14, 2, 32768, 1_000_000f, 1e-6f, GgmlType.F16, true, qwen2Vocab, 42);
    }

    public static Builder builder(String architecture, Path vocabFile) {
        return tiny(architecture, vocabFile).toBuilder();
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    public int headDim() {
        return embedding / heads;
    }

    /** Width of K and V: {@code kvHeads * headDim()}. */
    public int kvWidth() {
        return kvHeads * headDim();
    }

    public ModelSpec withLayers(int n) {
        return toBuilder().layers(n).build();
    }

    public ModelSpec withWidths(int embd, int ff, int nHeads, int nKvHeads) {
        return toBuilder().embedding(embd).feedForward(ff).heads(nHeads).kvHeads(nKvHeads).build();
    }

    public ModelSpec withWeightType(GgmlType type) {
        return toBuilder().weightType(type).build();
    }

    public ModelSpec withSeed(long s) {
        return toBuilder().seed(s).build();
    }

    /** A mutable copy of a spec; {@link #build()} validates. */
    public static final class Builder {
        private String architecture;
        private int layers;
        private int embedding;
        private int feedForward;
        private int heads;
        private int kvHeads;
        private int contextLength;
        private float ropeTheta;
        private float rmsEps;
        private GgmlType weightType;
        private boolean tiedEmbeddings;
        private Path vocabFile;
        private long seed;

        private Builder(ModelSpec s) {
            architecture = s.architecture;
            layers = s.layers;
            embedding = s.embedding;
            feedForward = s.feedForward;
            heads = s.heads;
            kvHeads = s.kvHeads;
            contextLength = s.contextLength;
            ropeTheta = s.ropeTheta;
            rmsEps = s.rmsEps;
            weightType = s.weightType;
            tiedEmbeddings = s.tiedEmbeddings;
            vocabFile = s.vocabFile;
            seed = s.seed;
        }

        public Builder architecture(String v) {
            architecture = v;
            return this;
        }

        public Builder layers(int v) {
            layers = v;
            return this;
        }

        public Builder embedding(int v) {
            embedding = v;
            return this;
        }

        public Builder feedForward(int v) {
            feedForward = v;
            return this;
        }

        public Builder heads(int v) {
            heads = v;
            return this;
        }

        public Builder kvHeads(int v) {
            kvHeads = v;
            return this;
        }

        public Builder contextLength(int v) {
            contextLength = v;
            return this;
        }

        public Builder ropeTheta(float v) {
            ropeTheta = v;
            return this;
        }

        public Builder rmsEps(float v) {
            rmsEps = v;
            return this;
        }

        public Builder weightType(GgmlType v) {
            weightType = v;
            return this;
        }

        public Builder tiedEmbeddings(boolean v) {
            tiedEmbeddings = v;
            return this;
        }

        public Builder vocabFile(Path v) {
            vocabFile = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public ModelSpec build() {
            return new ModelSpec(architecture, layers, embedding, feedForward, heads, kvHeads, contextLength, ropeTheta, rmsEps, weightType,
                    tiedEmbeddings, vocabFile, seed);
        }
    }
}
