package org.neuronscope.probe;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufWriter;
import org.neuronscope.gguf.Quantization;
import org.neuronscope.gguf.TensorInfo;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The randomly-initialised-model control of layer-wise probing (Tao et al. 2024): a copy of a
 * language model GGUF with the same architecture, metadata, tokenizer and tensor shapes, and random
 * weights drawn as Hugging Face's {@code _init_weights} draws them for these decoders (LLaMA, Qwen2,
 * Gemma, ...): every weight matrix and the embeddings from N(0, σ²) with σ the config's
 * {@code initializer_range} (0.02 by default), every bias 0, every norm weight 1 (for Gemma, whose
 * GGUF stores 1 + w, that is HF's zero init) and norm bias 0. One-dimensional tensors that are
 * neither (rope frequencies, scales) and non-float tensors are copied. Tensors of a type the writer
 * cannot encode (the k-quants) are written as F16. The same probe on this model's representations is
 * the baseline: what a probe reads from an untrained network of that shape.
 */
public final class RandomInitModel {
    /** Hugging Face's default {@code initializer_range}. */
    public static final double DEFAULT_STD = 0.02;
    /** Metadata keys written into the copy. */
    public static final String SEED_KEY = "neuronscope.random_init.seed";
    public static final String STD_KEY = "neuronscope.random_init.std";

    /** What was done to each tensor. */
    public record Summary(List<String> drawn, List<String> ones, List<String> zeros, List<String> copied) {
        public Summary {
            drawn = List.copyOf(drawn);
            ones = List.copyOf(ones);
            zeros = List.copyOf(zeros);
            copied = List.copyOf(copied);
        }
    }

    private RandomInitModel() {
    }

    /** How a tensor is re-initialised. */
    enum Init {
        DRAW, ONE, ZERO, COPY
    }

    static Init initOf(TensorInfo t) {
        String name = t.name().toLowerCase(Locale.ROOT);
        boolean isFloat = t.type() == GgmlType.F32 || t.type() == GgmlType.F16 || t.type() == GgmlType.BF16 || t.type().blockSize() > 1;
        if (!isFloat) {
            return Init.COPY;
        }
        if (name.contains("norm")) {
            return name.endsWith(".bias") ? Init.ZERO : Init.ONE;
        }
        if (name.endsWith(".bias")) {
            return Init.ZERO;
        }
        return t.shape().length >= 2 && t.shape()[1] > 1 ? Init.DRAW : Init.COPY;
    }

    /**
     * Writes the randomly-initialised copy of {@code model} to {@code out}.
     *
     * @param seed the draws of tensor t come from a generator seeded by {@code seed} and t's name, so
     *             they do not depend on the tensors' order
     * @param std  σ of the normal draws (positive)
     */
    public static Summary write(Path model, Path out, long seed, double std) {
        if (!(std > 0) || Double.isInfinite(std)) {
            throw new IllegalArgumentException("the initialisation's standard deviation must be positive and finite, got " + std);
        }
        if (model.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("the random-init control writes a copy: model and output are both " + model);
        }
        List<String> drawn = new ArrayList<>();
        List<String> ones = new ArrayList<>();
        List<String> zeros = new ArrayList<>();
        List<String> copied = new ArrayList<>();
        try (GgufFile src = GgufFile.open(model)) {
            GgufWriter w = new GgufWriter();
            src.metadata().forEach(w::put);
            w.putString(SEED_KEY, Long.toString(seed));
            w.putFloat32(STD_KEY, (float) std);
            for (TensorInfo t : src.tensors().values()) {
                Init init = initOf(t);
                if (init == Init.COPY) {
                    copied.add(t.name());
                    w.copyTensor(src, t.name());
                    continue;
                }
                GgmlType type = Quantization.canEncode(t.type()) ? t.type() : GgmlType.F16;
                switch (init) {
                    case ONE -> {
                        ones.add(t.name());
                        w.addTensor(t.name(), type, t.shape(), (r, row) -> java.util.Arrays.fill(row, 1f));
                    }
                    case ZERO -> {
                        zeros.add(t.name());
                        w.addTensor(t.name(), type, t.shape(), (r, row) -> java.util.Arrays.fill(row, 0f));
                    }
                    default -> {
                        drawn.add(t.name());
                        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + t.name().hashCode());
                        w.addTensor(t.name(), type, t.shape(), (r, row) -> {
                            for (int i = 0; i < row.length; i++) {
                                row[i] = (float) (rng.nextGaussian() * std);
                            }
                        });
                    }
                }
            }
            w.write(out);
        }
        return new Summary(drawn, ones, zeros, copied);
    }
}
