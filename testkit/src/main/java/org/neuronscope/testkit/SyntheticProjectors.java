package org.neuronscope.testkit;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufWriter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Writes small multimodal projectors (mmproj GGUF files) with random weights that llama.cpp's mtmd
 * loads and runs like the real ones: {@code qwen2vl_merger} (Qwen2-VL's vision transformer and patch
 * merger, for a {@code qwen2vl} text model), {@code qwen2a} (Qwen2-Audio's Whisper encoder and
 * projection, for a {@code qwen2} text model) and {@code gemma3} (Gemma 3's SigLIP encoder, for a
 * {@code gemma3} text model). The tensor names, shapes and metadata keys follow
 * llama.cpp's converter ({@code tools/mtmd/clip-impl.h}, {@code clip.cpp}).
 *
 * <p>{@link Spec#gated} turns the Qwen2-VL vision tower into Qwen2.5-VL's: the file is written as
 * {@code qwen2.5vl_merger}, whose blocks have a gated FFN ({@code ffn_gate}, {@code ffn_up},
 * {@code ffn_down}, all with biases: SiLU(gate·x) ⊙ up·x, as mtmd's {@code build_ffn} computes it for
 * that type) and RMS norms without biases; window attention is off ({@code n_wa_pattern} 0: every block
 * attends to the whole image).
 *
 * <p>For planted ground truth, {@link Spec#withOutputBias} adds a fixed vector to every embedding the
 * projector outputs (the final projection's bias), and {@link Spec#withWeightScale} scales that
 * projection's random weights, so every media embedding carries a known direction.
 */
public final class SyntheticProjectors {
    private static final Logger LOG = LoggerFactory.getLogger(SyntheticProjectors.class);
    /** CLIP's normalisation constants, which Qwen2-VL uses. */
    private static final float[] IMAGE_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    private static final float[] IMAGE_STD = {0.26862954f, 0.26130258f, 0.27577711f};
    /** Whisper's positions: 30 s of audio at 100 mel frames per second, halved by the second convolution. */
    private static final int AUDIO_POSITIONS = 1500;
    /** Gemma 3's fixed image side for the synthetic projector (the real one uses 896). */
    private static final int GEMMA3_IMAGE = 128;

    private SyntheticProjectors() {
    }

    /**
     * What to write.
     *
     * @param projectorType  {@code qwen2vl_merger} or {@code qwen2a}
     * @param width          the encoder's hidden size
     * @param layers         encoder blocks
     * @param heads          attention heads (width / heads must be a multiple of 8 for M-RoPE vision)
     * @param feedForward    encoder FFN size (must differ from width: mtmd detects legacy files by it)
     * @param projectionDim  output width: the text model's embedding size
     * @param patchSize      vision patch size in pixels (Qwen2-VL: 14)
     * @param melBins        audio mel bins (Qwen2-Audio: 128)
     * @param seed           random stream
     * @param weightScale    multiplies the final projection's random weights
     * @param outputBias     added to every output embedding (projectionDim floats), or null
     * @param quietOutputs   output dimensions the final projection's weights leave at exactly the bias
     *                       (their weight rows are zero): a planted axis carries only its planted value
     * @param gated          qwen2vl_merger only: write Qwen2.5-VL's tower ({@code qwen2.5vl_merger}), whose FFNs are gated
     */
    public record Spec(String projectorType, int width, int layers, int heads, int feedForward, int projectionDim, int patchSize,
                       int melBins, long seed, float weightScale, float[] outputBias, int[] quietOutputs, boolean gated) {
        /** A spec with the encoder's usual (non-gated) FFN. */
        public Spec(String projectorType, int width, int layers, int heads, int feedForward, int projectionDim, int patchSize,
                    int melBins, long seed, float weightScale, float[] outputBias, int[] quietOutputs) {
            this(projectorType, width, layers, heads, feedForward, projectionDim, patchSize, melBins, seed, weightScale, outputBias, quietOutputs, false);
        }

        public Spec {
            Objects.requireNonNull(projectorType, "projectorType");
            if (!projectorType.equals("qwen2vl_merger") && !projectorType.equals("qwen2a") && !projectorType.equals("gemma3")) {
                throw new IllegalArgumentException("projector type must be qwen2vl_merger, qwen2a or gemma3, got " + projectorType);
            }
            if (gated && !projectorType.equals("qwen2vl_merger")) {
                throw new IllegalArgumentException("gated FFNs are written for qwen2vl_merger (as Qwen2.5-VL's qwen2.5vl_merger), not " + projectorType);
            }
            if (projectorType.equals("gemma3") && outputBias != null) {
                throw new IllegalArgumentException("Gemma 3's projection has no bias to plant an output direction in");
            }
            if (width <= 0 || layers <= 0 || heads <= 0 || feedForward <= 0 || projectionDim <= 0) {
                throw new IllegalArgumentException("sizes must be positive");
            }
            if (width % heads != 0 || (projectorType.equals("qwen2vl_merger") && (width / heads) % 8 != 0)) {
                throw new IllegalArgumentException("width " + width + " / heads " + heads + " must be a whole head size"
                        + (projectorType.equals("qwen2vl_merger") ? " divisible by 8 (M-RoPE sections)" : ""));
            }
            if (feedForward == width) {
                throw new IllegalArgumentException("feedForward must differ from width (mtmd reads equal sizes as a legacy file)");
            }
            if (outputBias != null && outputBias.length != projectionDim) {
                throw new IllegalArgumentException("output bias has " + outputBias.length + " values, projection is " + projectionDim + " wide");
            }
            outputBias = outputBias == null ? null : outputBias.clone();
            quietOutputs = quietOutputs == null ? new int[0] : quietOutputs.clone();
            for (int d : quietOutputs) {
                if (d < 0 || d >= projectionDim) {
                    throw new IllegalArgumentException("quiet output " + d + " outside the projection's " + projectionDim + " dimensions");
                }
            }
        }

        @Override
        public int[] quietOutputs() {
            return quietOutputs.clone();
        }

        /** Output dimensions {@code dims} carry exactly their bias value, nothing of the media. */
        public Spec withQuietOutputs(int... dims) {
            return new Spec(projectorType, width, layers, heads, feedForward, projectionDim, patchSize, melBins, seed, weightScale, outputBias, dims, gated);
        }

        @Override
        public float[] outputBias() {
            return outputBias == null ? null : outputBias.clone();
        }

        /** Qwen2.5-VL's gated tower ({@code qwen2.5vl_merger}) instead of Qwen2-VL's (qwen2vl_merger specs only). */
        public Spec withGated(boolean gatedFfn) {
            return new Spec(projectorType, width, layers, heads, feedForward, projectionDim, patchSize, melBins, seed, weightScale, outputBias, quietOutputs, gatedFfn);
        }

        /** The projector type the file names: {@code qwen2.5vl_merger} for a gated Qwen2-VL spec, the spec's type otherwise. */
        public String writtenType() {
            return gated ? "qwen2.5vl_merger" : projectorType;
        }

        public boolean isVision() {
            return !projectorType.equals("qwen2a");
        }

        public Spec withOutputBias(float[] bias) {
            return new Spec(projectorType, width, layers, heads, feedForward, projectionDim, patchSize, melBins, seed, weightScale, bias, quietOutputs, gated);
        }

        public Spec withWeightScale(float scale) {
            return new Spec(projectorType, width, layers, heads, feedForward, projectionDim, patchSize, melBins, seed, scale, outputBias, quietOutputs, gated);
        }

        public Spec withSeed(long newSeed) {
            return new Spec(projectorType, width, layers, heads, feedForward, projectionDim, patchSize, melBins, newSeed, weightScale, outputBias, quietOutputs, gated);
        }
    }

    /** A tiny Qwen2-VL vision projector (32 wide, 1 block, 14-pixel patches) for a text model of width projectionDim. */
    public static Spec vision(int projectionDim, long seed) {
        return new Spec("qwen2vl_merger", 32, 1, 4, 64, projectionDim, 14, 0, seed, 1f, null, null);
    }

    /**
     * A tiny Qwen2.5-VL vision projector ({@code qwen2.5vl_merger}: 32 wide, 2 blocks with gated SiLU FFNs
     * of 64 neurons, 14-pixel patches) for a qwen2vl text model of width projectionDim.
     */
    public static Spec visionGated(int projectionDim, long seed) {
        return new Spec("qwen2vl_merger", 32, 2, 4, 64, projectionDim, 14, 0, seed, 1f, null, null, true);
    }

    /** A tiny Qwen2-Audio projector (32 wide, 1 block, 128 mel bins) for a text model of width projectionDim. */
    public static Spec audio(int projectionDim, long seed) {
        return new Spec("qwen2a", 32, 1, 4, 64, projectionDim, 0, 128, seed, 1f, null, null);
    }

    /**
     * A tiny Gemma 3 vision projector (SigLIP encoder 32 wide, 1 block, 128-pixel images of 8-pixel
     * patches, average-pooled 4×4 into 16 tokens) for a gemma3 text model of width projectionDim.
     * Gemma 3 attends to an image's tokens bidirectionally, which the prompt decoding must honour.
     */
    public static Spec gemma3(int projectionDim, long seed) {
        return new Spec("gemma3", 32, 1, 4, 64, projectionDim, 8, 0, seed, 1f, null, null);
    }

    /** Writes the projector to {@code out} (atomically) and returns it. */
    public static Path write(Spec spec, Path out) {
        GgufWriter w = header("neuronscope-synthetic-" + spec.writtenType(), spec.isVision(), !spec.isVision());
        w.putString("clip.projector_type", spec.writtenType());
        encoder(w, spec);
        w.write(out);
        LOG.debug("wrote synthetic {} projector {} ({} wide into {})", spec.writtenType(), out, spec.width(), spec.projectionDim());
        return out;
    }

    /**
     * Writes one projector with a vision and an audio encoder, as Qwen2.5-Omni's mmproj is: the
     * projector type per modality ({@code clip.vision.projector_type}, {@code clip.audio.projector_type}),
     * tensors {@code v.*}/{@code mm.0}, {@code mm.2} for vision and {@code a.*}/{@code mm.a.*} for audio.
     */
    public static Path writeCombined(Spec vision, Spec audio, Path out) {
        if (!vision.isVision() || audio.isVision()) {
            throw new IllegalArgumentException("writeCombined takes a vision spec and an audio spec");
        }
        if (vision.projectorType().equals("gemma3")) {
            throw new IllegalArgumentException("a combined projector pairs qwen2vl_merger with qwen2a");
        }
        if (vision.projectionDim() != audio.projectionDim()) {
            throw new IllegalArgumentException("both encoders must project into the same width: " + vision.projectionDim()
                    + " vs " + audio.projectionDim());
        }
        GgufWriter w = header("neuronscope-synthetic-omni", true, true);
        w.putString("clip.vision.projector_type", vision.writtenType());
        w.putString("clip.audio.projector_type", audio.projectorType());
        encoder(w, vision);
        encoder(w, audio);
        w.write(out);
        LOG.debug("wrote synthetic vision+audio projector {}", out);
        return out;
    }

    private static GgufWriter header(String name, boolean vision, boolean audio) {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "clip");
        w.putString("general.name", name);
        w.putUint32("general.file_type", 1);
        w.putBool("clip.has_vision_encoder", vision);
        w.putBool("clip.has_audio_encoder", audio);
        return w;
    }

    /** The hyper-parameters and tensors of one encoder. */
    private static void encoder(GgufWriter w, Spec spec) {
        String m = spec.isVision() ? "vision" : "audio";
        w.putUint32("clip." + m + ".embedding_length", spec.width());
        w.putUint32("clip." + m + ".feed_forward_length", spec.feedForward());
        w.putUint32("clip." + m + ".block_count", spec.layers());
        w.putUint32("clip." + m + ".attention.head_count", spec.heads());
        w.putUint32("clip." + m + ".projection_dim", spec.projectionDim());
        w.putFloat32("clip." + m + ".attention.layer_norm_epsilon", 1e-6f);
        if (spec.projectorType().equals("gemma3")) {
            w.putUint32("clip.vision.image_size", GEMMA3_IMAGE);
            w.putUint32("clip.vision.patch_size", spec.patchSize());
            w.putFloat32Array("clip.vision.image_mean", 0.5f, 0.5f, 0.5f);
            w.putFloat32Array("clip.vision.image_std", 0.5f, 0.5f, 0.5f);
            w.putBool("clip.use_gelu", true);
            w.putUint32("clip.vision.projector.scale_factor", 4);
            gemma3(w, spec);
        } else if (spec.isVision()) {
            w.putUint32("clip.vision.image_size", 560);
            w.putUint32("clip.vision.patch_size", spec.patchSize());
            w.putFloat32Array("clip.vision.image_mean", IMAGE_MEAN);
            w.putFloat32Array("clip.vision.image_std", IMAGE_STD);
            if (spec.gated()) {
                w.putBool("clip.use_silu", true); // Qwen2.5-VL's vision MLP: SiLU(gate) * up (an audio encoder beside it keeps its own GELU)
                w.putUint32("clip.vision.n_wa_pattern", 0); // required by mtmd for qwen2.5vl_merger; 0: no window attention
            }
            vision(w, spec);
        } else {
            w.putUint32("clip.audio.num_mel_bins", spec.melBins());
            audio(w, spec);
        }
    }

    private static void vision(GgufWriter w, Spec s) {
        int e = s.width();
        int p = s.patchSize();
        // Qwen2-VL's 3-D patch embedding is stored as two 2-D kernels (one per frame of a temporal pair)
        weight(w, s, "v.patch_embd.weight", GgmlType.F16, new long[] {p, p, 3, e}, 1.0 / Math.sqrt(2.0 * p * p * 3));
        weight(w, s, "v.patch_embd.weight.1", GgmlType.F16, new long[] {p, p, 3, e}, 1.0 / Math.sqrt(2.0 * p * p * 3));
        for (int il = 0; il < s.layers(); il++) {
            block(w, s, "v.blk." + il, true);
        }
        norm(w, s, "v.post_ln", e);
        int merged = 4 * e; // 2x2 patches merged into one token
        weight(w, s, "mm.0.weight", GgmlType.F16, new long[] {merged, merged}, 1.0 / Math.sqrt(merged));
        bias(w, s, "mm.0.bias", merged, null);
        projection(w, s, "mm.2.weight", new long[] {merged, s.projectionDim()}, s.weightScale() / Math.sqrt(merged));
        projectionBias(w, s, "mm.2.bias");
    }

    private static void gemma3(GgufWriter w, Spec s) {
        int e = s.width();
        int p = s.patchSize();
        int patches = (GEMMA3_IMAGE / p) * (GEMMA3_IMAGE / p);
        weight(w, s, "v.patch_embd.weight", GgmlType.F16, new long[] {p, p, 3, e}, 1.0 / Math.sqrt(p * p * 3.0));
        bias(w, s, "v.patch_embd.bias", e, null);
        weight(w, s, "v.position_embd.weight", GgmlType.F32, new long[] {e, patches}, 0.1);
        for (int il = 0; il < s.layers(); il++) {
            block(w, s, "v.blk." + il, true);
        }
        norm(w, s, "v.post_ln", e);
        w.addTensor("mm.soft_emb_norm.weight", GgmlType.F32, new long[] {e}, (row, values) -> java.util.Arrays.fill(values, 1f));
        weight(w, s, "mm.input_projection.weight", GgmlType.F16, new long[] {s.projectionDim(), e}, s.weightScale() / Math.sqrt(e));
    }

    private static void audio(GgufWriter w, Spec s) {
        int e = s.width();
        weight(w, s, "a.conv1d.1.weight", GgmlType.F16, new long[] {3, s.melBins(), e}, 1.0 / Math.sqrt(3.0 * s.melBins()));
        bias2d(w, s, "a.conv1d.1.bias", e);
        weight(w, s, "a.conv1d.2.weight", GgmlType.F16, new long[] {3, e, e}, 1.0 / Math.sqrt(3.0 * e));
        bias2d(w, s, "a.conv1d.2.bias", e);
        weight(w, s, "a.position_embd.weight", GgmlType.F32, new long[] {e, AUDIO_POSITIONS}, 0.1);
        for (int il = 0; il < s.layers(); il++) {
            block(w, s, "a.blk." + il, false);
        }
        norm(w, s, "a.post_ln", e);
        projection(w, s, "mm.a.fc.weight", new long[] {e, s.projectionDim()}, s.weightScale() / Math.sqrt(e));
        projectionBias(w, s, "mm.a.fc.bias");
    }

    /** One pre-norm transformer block; Whisper's attention has no key bias; a gated spec's FFN has a gate. */
    private static void block(GgufWriter w, Spec s, String prefix, boolean keyBias) {
        int e = s.width();
        double sigma = 1.0 / Math.sqrt(e);
        norm(w, s, prefix + ".ln1", e);
        for (String t : new String[] {"attn_q", "attn_k", "attn_v", "attn_out"}) {
            weight(w, s, prefix + "." + t + ".weight", GgmlType.F16, new long[] {e, e}, sigma);
            if (keyBias || !t.equals("attn_k")) {
                bias(w, s, prefix + "." + t + ".bias", e, null);
            }
        }
        norm(w, s, prefix + ".ln2", e);
        if (s.gated()) {
            weight(w, s, prefix + ".ffn_gate.weight", GgmlType.F16, new long[] {e, s.feedForward()}, sigma);
            bias(w, s, prefix + ".ffn_gate.bias", s.feedForward(), null);
        }
        weight(w, s, prefix + ".ffn_up.weight", GgmlType.F16, new long[] {e, s.feedForward()}, sigma);
        bias(w, s, prefix + ".ffn_up.bias", s.feedForward(), null);
        weight(w, s, prefix + ".ffn_down.weight", GgmlType.F16, new long[] {s.feedForward(), e}, 1.0 / Math.sqrt(s.feedForward()));
        bias(w, s, prefix + ".ffn_down.bias", e, null);
    }

    /** The final projection: random rows, zero for the quiet output dimensions (a row is one output). */
    private static void projection(GgufWriter w, Spec s, String name, long[] shape, double sigma) {
        SplittableRandom rng = new SplittableRandom(seedOf(s.seed(), name));
        java.util.Set<Long> quiet = java.util.Arrays.stream(s.quietOutputs).mapToObj(d -> (long) d).collect(java.util.stream.Collectors.toSet());
        w.addTensor(name, GgmlType.F16, shape, (row, values) -> {
            for (int i = 0; i < values.length; i++) {
                double v = rng.nextGaussian() * sigma; // drawn for every row, so quiet rows leave the others unchanged
                values[i] = quiet.contains(row) ? 0f : (float) v;
            }
        });
    }

    private static void weight(GgufWriter w, Spec s, String name, GgmlType type, long[] shape, double sigma) {
        SplittableRandom rng = new SplittableRandom(seedOf(s.seed(), name));
        w.addTensor(name, type, shape, (row, values) -> {
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (rng.nextGaussian() * sigma);
            }
        });
    }

    /** The final projection's bias: small noise plus the planted output bias; quiet dimensions get the planted value exactly. */
    private static void projectionBias(GgufWriter w, Spec s, String name) {
        SplittableRandom rng = new SplittableRandom(seedOf(s.seed(), name));
        boolean[] quiet = new boolean[s.projectionDim()];
        for (int d : s.quietOutputs) {
            quiet[d] = true;
        }
        w.addTensor(name, GgmlType.F32, new long[] {s.projectionDim()}, (row, values) -> {
            for (int i = 0; i < values.length; i++) {
                double noise = rng.nextGaussian() * 0.02;
                float planted = s.outputBias == null ? 0f : s.outputBias[i];
                values[i] = quiet[i] ? planted : (float) noise + planted;
            }
        });
    }

    private static void bias(GgufWriter w, Spec s, String name, int n, float[] add) {
        SplittableRandom rng = new SplittableRandom(seedOf(s.seed(), name));
        w.addTensor(name, GgmlType.F32, new long[] {n}, (row, values) -> {
            for (int i = 0; i < n; i++) {
                values[i] = (float) (rng.nextGaussian() * 0.02) + (add == null ? 0f : add[i]);
            }
        });
    }

    /** A convolution bias, one value per output channel, broadcast over time: shape {1, channels}. */
    private static void bias2d(GgufWriter w, Spec s, String name, int channels) {
        SplittableRandom rng = new SplittableRandom(seedOf(s.seed(), name));
        w.addTensor(name, GgmlType.F32, new long[] {1, channels}, (row, values) -> values[0] = (float) (rng.nextGaussian() * 0.02));
    }

    /** A norm of weight 1 and bias 0; Qwen2.5-VL's RMS norms (a gated spec) have no bias tensor. */
    private static void norm(GgufWriter w, Spec s, String prefix, int n) {
        w.addTensor(prefix + ".weight", GgmlType.F32, new long[] {n}, (row, values) -> java.util.Arrays.fill(values, 1f));
        if (!s.gated()) {
            w.addTensor(prefix + ".bias", GgmlType.F32, new long[] {n}, (row, values) -> java.util.Arrays.fill(values, 0f));
        }
    }

    private static long seedOf(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        return h ^ (seed * 0x9E3779B97F4A7C15L);
    }
}
