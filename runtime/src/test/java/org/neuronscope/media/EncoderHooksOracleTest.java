package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufWriter;
import org.neuronscope.gguf.Quantization;
import org.neuronscope.gguf.TensorInfo;
import org.neuronscope.hooks.UnsupportedHookException;
import org.neuronscope.model.Model;
import org.neuronscope.stats.Statistic;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Oracles for the encoder hooks on every synthetic projector the testkit writes (qwen2vl_merger,
 * qwen2.5vl_merger with its gated FFN, gemma3, qwen2a, and the combined vision+audio one):
 * reductions at every point (the FFN points and the layers' output, resid.post) equal a brute force
 * over taps (fused CPU path and ggml-op path), deactivating a neuron equals an mmproj with that
 * neuron's rows zeroed (ffn_up, and ffn_gate where the FFN is gated, with their biases; and differs
 * from the unmasked run), identity masks are bit-identical, the last layer's resid.post is what the
 * projector consumes, and what the hooks do not reach fails with a message naming it.
 */
class EncoderHooksOracleTest {
    private static final Logger LOG = LoggerFactory.getLogger(EncoderHooksOracleTest.class);
    private static final Statistic[] STATS = {Statistic.COUNT, Statistic.COUNT_ABS, Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS};
    private static final float THRESHOLD = 0.05f;

    private record Setup(String name, Path model, Path mmproj, List<Module> modules) {
    }

    private static List<Setup> setups() {
        return List.of(
                new Setup("qwen2vl_merger", MultimodalFixtures.visionModel(), MultimodalFixtures.visionProjector(), List.of(Module.VISION, Module.PROJECTOR)),
                new Setup("qwen2.5vl_merger", MultimodalFixtures.visionModel(), MultimodalFixtures.gatedProjector(), List.of(Module.VISION, Module.PROJECTOR)),
                new Setup("gemma3", MultimodalFixtures.gemmaModel(), MultimodalFixtures.gemmaProjector(), List.of(Module.VISION)),
                new Setup("qwen2a", MultimodalFixtures.audioModel(), MultimodalFixtures.audioProjector(), List.of(Module.AUDIO)),
                new Setup("omni", MultimodalFixtures.visionModel(), MultimodalFixtures.omniProjector(), List.of(Module.VISION, Module.AUDIO, Module.PROJECTOR)));
    }

    static Media image(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int w = 56, h = 56;
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) r.nextInt(256);
        }
        return Media.imagePixels(w, h, rgb);
    }

    static Media audio(long seed, int rate) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] pcm = new float[rate / 2];
        double f = 200 + r.nextInt(800);
        for (int i = 0; i < pcm.length; i++) {
            pcm[i] = (float) (0.4 * Math.sin(2 * Math.PI * f * i / rate) + 0.05 * r.nextGaussian());
        }
        return Media.audioSamples(pcm);
    }

    private static List<Media> itemsFor(Projector p, Module module) {
        return module == Module.AUDIO || (module == Module.PROJECTOR && !p.supportsVision())
                ? List.of(audio(1, p.audioSampleRate()), audio(2, p.audioSampleRate()), audio(3, p.audioSampleRate()))
                : List.of(image(1), image(2), image(3));
    }

    /** Per module, point and layer, the taps of one encode: rows x width. */
    private static final class Taps {
        final Map<String, float[][]> rows = new HashMap<>();

        EncoderTapListener listener() {
            return (m, p, l, data, width, n) -> {
                float[][] r = new float[n][width];
                for (int i = 0; i < n; i++) {
                    MemorySegment.copy(data, ValueLayout.JAVA_FLOAT, (long) i * width * Float.BYTES, r[i], 0, width);
                }
                rows.put(m + "/" + p + "/" + l, r);
            };
        }
    }

    private static double value(Statistic s, float x) {
        return switch (s) {
            case COUNT -> x > THRESHOLD ? 1 : 0;
            case COUNT_ABS -> Math.abs(x) > THRESHOLD ? 1 : 0;
            case SUM -> x;
            case SUM_SQ -> (double) x * x;
            case SUM_ABS -> Math.abs(x);
            default -> throw new IllegalArgumentException();
        };
    }

    @Test
    void reductionsEqualBruteForceOverTaps() {
        for (Setup s : setups()) {
            for (boolean portable : new boolean[] {false, true}) {
                reductions(s, portable);
            }
        }
    }

    private void reductions(Setup s, boolean portable) {
        try (Model model = Model.load(s.model());
             Projector projector = Projector.load(model, s.mmproj(), MultimodalFixtures.params())) {
            for (Module module : s.modules()) {
                List<Media> items = itemsFor(projector, module);
                int columns = 2;
                try (EncoderHooks hooks = projector.openHooks(columns)) {
                    hooks.setPortableReductions(portable);
                    int layers = hooks.layers(module);
                    Map<String, EncoderAccumulator> acc = new HashMap<>();
                    HookPoint[] points = Module.encoderPoints(module);
                    for (HookPoint p : points) {
                        for (Statistic st : STATS) {
                            acc.put(p + "/" + st, hooks.reduce(module, p, st, THRESHOLD));
                        }
                    }
                    Taps taps = new Taps();
                    for (HookPoint p : points) {
                        hooks.tap(module, p, -1, taps.listener());
                    }
                    // brute force: [point/stat] -> [layer][column][neuron]
                    Map<String, double[][][]> expected = new HashMap<>();
                    float[][] groupWeights = {{1f, 0f}, {0f, 1f}, {0.5f, 2f}};
                    for (int k = 0; k < items.size(); k++) {
                        hooks.groupWeights(groupWeights[k]);
                        float[] rowWeights = null;
                        if (k == 2) { // per-patch weights on the last item: learn the row count from a first encode
                            hooks.groupWeights(0f, 0f);
                            projector.encode(items.get(k));
                            int rows = taps.rows.get(module + "/" + HookPoint.FFN_ACT + "/0").length;
                            rowWeights = new float[rows];
                            SplittableRandom r = new SplittableRandom(5);
                            for (int i = 0; i < rows; i++) {
                                rowWeights[i] = (float) r.nextDouble(0, 2);
                            }
                            hooks.rowWeights(module, rowWeights);
                            hooks.groupWeights(groupWeights[k]);
                        }
                        taps.rows.clear();
                        projector.encode(items.get(k));
                        for (HookPoint p : points) {
                            for (Statistic st : STATS) {
                                double[][][] e = expected.computeIfAbsent(p + "/" + st, x -> new double[layers][columns][]);
                                for (int l = 0; l < layers; l++) {
                                    float[][] rows = taps.rows.get(module + "/" + p + "/" + l);
                                    assertTrue(rows != null && rows.length > 0, s.name() + ": no tap of " + module.pointName(p) + " layer " + l);
                                    for (int c = 0; c < columns; c++) {
                                        if (e[l][c] == null) {
                                            e[l][c] = new double[rows[0].length];
                                        }
                                        for (int i = 0; i < rows.length; i++) {
                                            double w = groupWeights[k][c] * (rowWeights == null ? 1.0 : rowWeights[i]);
                                            for (int n = 0; n < rows[i].length; n++) {
                                                e[l][c][n] += w * value(st, rows[i][n]);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    hooks.rowWeights(module, null);
                    for (var en : expected.entrySet()) {
                        EncoderAccumulator a = acc.get(en.getKey());
                        double[][][] e = en.getValue();
                        for (int l = 0; l < layers; l++) {
                            for (int c = 0; c < columns; c++) {
                                for (int n = 0; n < e[l][c].length; n++) {
                                    double got = a.get(l, c, n);
                                    double want = e[l][c][n];
                                    // counts: exact under 0/1 weights, float rounding of the per-patch weights' sums otherwise
                                    double tol = a.statistic() == Statistic.COUNT || a.statistic() == Statistic.COUNT_ABS
                                            ? Math.max(1e-3, 1e-5 * Math.abs(want)) : 1e-4 * Math.max(1, Math.abs(want));
                                    if (Math.abs(got - want) > tol) {
                                        throw new AssertionError(s.name() + (portable ? " (portable)" : " (fused)") + " " + a
                                                + " layer " + l + " column " + c + " neuron " + n + ": " + got + " != brute force " + want);
                                    }
                                }
                            }
                        }
                    }
                    // and not vacuous: some count is positive in every column
                    EncoderAccumulator count = acc.get(HookPoint.FFN_ACT + "/" + Statistic.COUNT);
                    for (int c = 0; c < columns; c++) {
                        double total = 0;
                        for (int n = 0; n < count.width(); n++) {
                            total += count.get(0, c, n);
                        }
                        assertTrue(total > 0, s.name() + " " + module + ": no positive activations in column " + c);
                    }
                }
            }
        }
    }

    @Test
    void deactivationEqualsZeroedRowsAndIdentityIsBitIdentical() throws Exception {
        for (Setup s : setups()) {
            for (Module module : s.modules()) {
                int neuron = 5;
                int layer = 0;
                float[] plain;
                float[] masked;
                float[] identity;
                Media item;
                String prefix;
                try (Model model = Model.load(s.model());
                     Projector projector = Projector.load(model, s.mmproj(), MultimodalFixtures.params())) {
                    item = itemsFor(projector, module).get(0);
                    plain = projector.encode(item);
                    try (EncoderHooks hooks = projector.openHooks(1)) {
                        int layers = hooks.layers(module);
                        for (int l = 0; l < layers; l++) {
                            hooks.mask(module, HookPoint.FFN_ACT, l);
                            hooks.mask(module, HookPoint.FFN_POST, l).identity();
                        }
                        identity = projector.encode(item);
                        hooks.mask(module, HookPoint.FFN_ACT, layer).deactivate(neuron);
                        masked = projector.encode(item);
                    }
                    assertArrayEquals(plain, projector.encode(item), s.name() + ": closing the hooks leaves mtmd's graph");
                }
                assertTrue(Arrays.equals(plain, identity), s.name() + " " + module + ": identity masks must be bit-identical");
                assertFalse(Arrays.equals(plain, masked), s.name() + " " + module + ": deactivating a neuron must change the embeddings");

                prefix = switch (module) {
                    case VISION -> "v.blk." + layer + ".ffn_up";
                    case AUDIO -> "a.blk." + layer + ".ffn_up";
                    case PROJECTOR -> "mm.0";
                    default -> throw new IllegalStateException();
                };
                List<String> prefixes = List.of(prefix);
                String gate = prefix.replace(".ffn_up", ".ffn_gate");
                try (GgufFile f = GgufFile.open(s.mmproj())) {
                    if (!gate.equals(prefix) && f.containsTensor(gate + ".weight")) {
                        prefixes = List.of(prefix, gate); // a gated FFN: the neuron is its gate row and its up row
                    }
                }
                assertEquals(s.name().equals("qwen2.5vl_merger") && module == Module.VISION, prefixes.size() == 2,
                        s.name() + " " + module + ": which FFNs are gated");
                Path zeroed = MultimodalFixtures.dir().resolve("mmproj-" + s.name() + "-" + module + "-zeroed-" + neuron + ".gguf");
                zeroNeuron(s.mmproj(), zeroed, prefixes, neuron);
                float[] edited;
                try (Model model = Model.load(s.model());
                     Projector projector = Projector.load(model, zeroed, MultimodalFixtures.params())) {
                    edited = projector.encode(item);
                }
                assertEquals(plain.length, edited.length);
                float maxDiff = 0;
                for (int i = 0; i < edited.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(edited[i] - masked[i]));
                }
                assertTrue(maxDiff <= 1e-6f, s.name() + " " + module + ": deactivation vs zeroed " + prefixes + " row " + neuron + " differ by " + maxDiff);
                LOG.info("{} {}: deactivation vs zeroed {} row {}: max |Δ| {}", s.name(), module, prefixes, neuron, maxDiff);
            }
        }
    }

    @Test
    void theGatedFfnIsGated() {
        // Qwen2.5-VL's FFN as mtmd builds it: ffn.pre = gate·x + b, ffn.act = SiLU(ffn.pre), ffn.post = ffn.act ⊙ (up·x + b)
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.gatedProjector(), MultimodalFixtures.params());
             EncoderHooks hooks = projector.openHooks(1)) {
            Taps taps = new Taps();
            for (HookPoint p : Module.encoderPoints()) {
                hooks.tap(Module.VISION, p, -1, taps.listener());
            }
            projector.encode(image(4));
            for (int l = 0; l < hooks.layers(Module.VISION); l++) {
                float[][] pre = taps.rows.get("vision/ffn.pre/" + l);
                float[][] act = taps.rows.get("vision/ffn.act/" + l);
                float[][] post = taps.rows.get("vision/ffn.post/" + l);
                double maxSilu = 0;
                double maxQuick = 0;
                double maxGate = 0;
                for (int i = 0; i < pre.length; i++) {
                    for (int n = 0; n < pre[i].length; n++) {
                        double z = pre[i][n];
                        maxSilu = Math.max(maxSilu, Math.abs(act[i][n] - z / (1 + Math.exp(-z))) / (1 + Math.abs(z)));
                        maxQuick = Math.max(maxQuick, Math.abs(act[i][n] - z / (1 + Math.exp(-1.702 * z))));
                        maxGate = Math.max(maxGate, Math.abs(post[i][n] - act[i][n]));
                    }
                }
                assertTrue(maxSilu < 1e-5, "layer " + l + ": ffn.act is not SiLU(ffn.pre): " + maxSilu);
                LOG.info("gated layer {}: |act - SiLU(pre)|/(1+|pre|) {}, against GELU-quick {}, max |post - act| {}", l, maxSilu, maxQuick, maxGate);
                assertTrue(maxQuick > 1e-3, "layer " + l + ": ffn.act is also GELU-quick of ffn.pre (vacuous): " + maxQuick);
                assertTrue(maxGate > 1e-2, "layer " + l + ": ffn.post equals ffn.act: the up projection does not multiply it");
            }
        }
    }

    @Test
    void lastLayerOutputIsWhatTheProjectorConsumes() {
        for (Setup s : setups()) {
            for (Module module : s.modules()) {
                if (module == Module.PROJECTOR) {
                    continue;
                }
                lastLayerOutput(s, module);
            }
        }
    }

    /**
     * resid.post of the last layer, transcribed through what mtmd builds after the layers, equals what
     * the projector computes from it: Qwen2-VL's and Qwen2.5-VL's merger (post_ln, 2×2 patches
     * concatenated, mm.0: the projector.ffn.pre tap), Qwen2-Audio's (average of 2 frames, post_ln,
     * mm.a.fc: the embeddings) and Gemma 3's (post_ln, 4×4 average pool, RMS norm, input projection:
     * the embeddings). Each output is compared within the bound of the F16 weights' matrix product.
     */
    private void lastLayerOutput(Setup s, Module module) {
        try (Model model = Model.load(s.model());
             Projector projector = Projector.load(model, s.mmproj(), MultimodalFixtures.params());
             GgufFile f = GgufFile.open(s.mmproj())) {
            Media item = itemsFor(projector, module).get(0);
            Taps taps = new Taps();
            float[] embeddings;
            int layers;
            boolean merger = module == Module.VISION && !s.name().equals("gemma3");
            try (EncoderHooks hooks = projector.openHooks(1)) {
                layers = hooks.layers(module);
                assertEquals(f.getInt("clip." + module.id() + ".embedding_length"), hooks.width(module, HookPoint.RESID_POST, layers - 1));
                hooks.tap(module, HookPoint.RESID_POST, -1, taps.listener());
                if (merger) {
                    hooks.tap(Module.PROJECTOR, HookPoint.FFN_PRE, 0, taps.listener());
                }
                embeddings = projector.encode(item);
            }
            float[][] x = taps.rows.get(module + "/" + HookPoint.RESID_POST + "/" + (layers - 1));
            assertTrue(x != null && x.length > 0, s.name() + ": no resid.post tap");
            if (layers > 1) {
                assertFalse(Arrays.equals(x[0], taps.rows.get(module + "/" + HookPoint.RESID_POST + "/0")[0]), s.name() + ": layers' outputs equal");
            }
            String m = module == Module.VISION ? "v" : "a";
            double eps = f.getFloat("clip." + module.id() + ".attention.layer_norm_epsilon");
            boolean rms = s.name().equals("qwen2.5vl_merger");
            float[] lnW = f.row(m + ".post_ln.weight", 0);
            float[] lnB = f.containsTensor(m + ".post_ln.bias") ? f.row(m + ".post_ln.bias", 0) : null;
            int e = x[0].length;
            String what = s.name() + " " + module;
            double worst = 0; // the largest |got - want| / bound
            if (merger) {
                float[][] pre = taps.rows.get("projector/" + HookPoint.FFN_PRE + "/0");
                assertEquals(x.length / 4, pre.length, what + ": merged tokens");
                float[][] w0 = rows(f, "mm.0.weight");
                float[] b0 = f.row("mm.0.bias", 0);
                for (int t = 0; t < pre.length; t++) {
                    double[] v = new double[4 * e];
                    for (int j = 0; j < 4; j++) {
                        System.arraycopy(norm(x[4 * t + j], lnW, lnB, rms, eps), 0, v, j * e, e);
                    }
                    worst = Math.max(worst, checkProduct(what + " token " + t, w0, b0, v, pre[t]));
                }
            } else if (module == Module.AUDIO) {
                float[][] fc = rows(f, "mm.a.fc.weight");
                float[] b = f.row("mm.a.fc.bias", 0);
                int dim = fc.length;
                int tokens = x.length / 2;
                assertEquals(tokens * dim, embeddings.length, what + ": tokens after the 2-frame average");
                for (int t = 0; t < tokens; t++) {
                    float[] avg = new float[e];
                    for (int i = 0; i < e; i++) {
                        avg[i] = (x[2 * t][i] + x[2 * t + 1][i]) / 2;
                    }
                    worst = Math.max(worst, checkProduct(what + " token " + t, fc, b, norm(avg, lnW, lnB, false, eps), Arrays.copyOfRange(embeddings, t * dim, (t + 1) * dim)));
                }
            } else { // gemma3
                float[][] in = rows(f, "mm.input_projection.weight"); // [e][dim]: mtmd multiplies by its transpose
                int dim = in[0].length;
                float[][] proj = new float[dim][e];
                for (int i = 0; i < e; i++) {
                    for (int j = 0; j < dim; j++) {
                        proj[j][i] = in[i][j];
                    }
                }
                float[] soft = f.row("mm.soft_emb_norm.weight", 0);
                int side = (int) Math.round(Math.sqrt(x.length));
                int k = f.getInt("clip.vision.projector.scale_factor");
                int out = side / k;
                assertEquals(out * out * dim, embeddings.length, what + ": pooled tokens");
                for (int ty = 0; ty < out; ty++) {
                    for (int tx = 0; tx < out; tx++) {
                        double[] pooled = new double[e];
                        for (int dy = 0; dy < k; dy++) {
                            for (int dx = 0; dx < k; dx++) {
                                double[] v = norm(x[(ty * k + dy) * side + tx * k + dx], lnW, lnB, false, eps);
                                for (int i = 0; i < e; i++) {
                                    pooled[i] += v[i] / (k * k);
                                }
                            }
                        }
                        double ms = 0;
                        for (double p : pooled) {
                            ms += p * p / e;
                        }
                        double[] u = new double[e];
                        for (int i = 0; i < e; i++) {
                            u[i] = pooled[i] / Math.sqrt(ms + eps) * soft[i];
                        }
                        int t = ty * out + tx;
                        worst = Math.max(worst, checkProduct(what + " token " + t, proj, null, u, Arrays.copyOfRange(embeddings, t * dim, (t + 1) * dim)));
                    }
                }
            }
            LOG.info("{}: last resid.post ({} rows) through the projector's input: worst |Δ| / F16 bound {}", what, x.length, worst);
        }
    }

    /** The rows of a 2-D tensor (row r: ne0 values). */
    private static float[][] rows(GgufFile f, String name) {
        TensorInfo t = f.tensor(name);
        float[][] r = new float[(int) t.rows()][];
        for (int i = 0; i < r.length; i++) {
            r[i] = f.row(name, i);
        }
        return r;
    }

    /** ggml's norm (LayerNorm: centred, or RMS) times the weight, plus the bias. */
    private static double[] norm(float[] x, float[] w, float[] b, boolean rms, double eps) {
        int n = x.length;
        double mean = 0;
        if (!rms) {
            for (float v : x) {
                mean += v / (double) n;
            }
        }
        double var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean) / n;
        }
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            y[i] = (x[i] - mean) / Math.sqrt(var + eps) * w[i] + (b == null ? 0 : b[i]);
        }
        return y;
    }

    /**
     * got[r] = Σ_i w[r][i]·v[i] + b[r] within the error of ggml's product with F16 weights: v rounded
     * to F16 (relative 2^-11) and the F32 sum, bounded by Σ|w||v|; and not vacuously (the bound is small).
     */
    private static double checkProduct(String what, float[][] w, float[] b, double[] v, float[] got) {
        assertEquals(w.length, got.length, what + ": output width");
        double worst = 0;
        double scale = 0;
        for (int r = 0; r < w.length; r++) {
            double want = b == null ? 0 : b[r];
            double abs = 0;
            for (int i = 0; i < v.length; i++) {
                want += w[r][i] * v[i];
                abs += Math.abs(w[r][i] * v[i]);
            }
            double bound = abs * (Math.pow(2, -11) + v.length * Math.pow(2, -23)) * 1.25 + 1e-5;
            worst = Math.max(worst, Math.abs(got[r] - want) / bound);
            scale = Math.max(scale, Math.abs(want));
            if (Math.abs(got[r] - want) > bound) {
                throw new AssertionError(what + " output " + r + ": " + got[r] + " != " + want + " (bound " + bound + ")");
            }
        }
        assertTrue(scale > 0.1, what + ": outputs near zero, the comparison says little");
        return worst;
    }

    /** A copy of the mmproj with row n of {prefix}.weight and element n of {prefix}.bias zeroed, for each prefix (an independent edit). */
    static void zeroNeuron(Path in, Path out, List<String> prefixes, int n) {
        try (GgufFile src = GgufFile.open(in)) {
            GgufWriter w = new GgufWriter();
            src.metadata().forEach(w::put);
            for (TensorInfo t : src.tensors().values()) {
                MemorySegment data = src.tensorData(t.name());
                long rowBytes = t.rowBytes();
                String prefix = prefixes.stream().filter(x -> t.name().equals(x + ".weight") || t.name().equals(x + ".bias")).findFirst().orElse("");
                if (t.name().equals(prefix + ".weight")) {
                    w.addEncodedTensor(t.name(), t.type(), t.shape(), (r, dst) -> {
                        if (r == n) {
                            dst.fill((byte) 0);
                        } else {
                            dst.copyFrom(data.asSlice(r * rowBytes, rowBytes));
                        }
                    });
                } else if (t.name().equals(prefix + ".bias")) {
                    assertEquals(GgmlType.F32, t.type());
                    float[] v = new float[(int) t.rowLength()];
                    w.addEncodedTensor(t.name(), t.type(), t.shape(), (r, dst) -> {
                        Quantization.decodeRow(t.type(), data.asSlice(r * rowBytes, rowBytes), v);
                        v[n] = 0f;
                        Quantization.encodeRow(t.type(), v, dst);
                    });
                } else {
                    w.copyTensor(src, t.name());
                }
            }
            w.write(out);
        }
    }

    @Test
    void whatTheHooksDoNotReachFailsClearly() {
        try (Model model = Model.load(MultimodalFixtures.gemmaModel());
             Projector projector = Projector.load(model, MultimodalFixtures.gemmaProjector(), MultimodalFixtures.params());
             EncoderHooks hooks = projector.openHooks(1)) {
            var e = assertThrows(UnsupportedHookException.class, () -> hooks.reduce(Module.PROJECTOR, HookPoint.FFN_ACT, Statistic.SUM, 0f));
            assertTrue(e.getMessage().contains("gemma3") && e.getMessage().contains("projector.ffn"), e.getMessage());
            assertThrows(UnsupportedHookException.class, () -> hooks.reduce(Module.AUDIO, HookPoint.FFN_ACT, Statistic.SUM, 0f));
            var lang = assertThrows(IllegalArgumentException.class, () -> hooks.mask(Module.LANGUAGE, HookPoint.FFN_ACT, 0));
            assertTrue(lang.getMessage().contains("Session"), lang.getMessage());
            var resid = assertThrows(UnsupportedHookException.class, () -> hooks.tap(Module.PROJECTOR, HookPoint.RESID_POST, 0, (m, p, l, d, w, n) -> { }));
            assertTrue(resid.getMessage().contains("projector.resid.post"), resid.getMessage());
            var residMask = assertThrows(IllegalArgumentException.class, () -> hooks.mask(Module.VISION, HookPoint.RESID_POST, 0));
            assertTrue(residMask.getMessage().contains("vision.resid.post"), residMask.getMessage());
            var up = assertThrows(UnsupportedHookException.class, () -> hooks.reduce(Module.VISION, HookPoint.FFN_UP, Statistic.SUM, 0f));
            assertTrue(up.getMessage().contains("vision.ffn.up") && up.getMessage().contains("resid.post"), up.getMessage());
            assertThrows(IllegalArgumentException.class, () -> hooks.mask(Module.VISION, HookPoint.FFN_PRE, 0));
            assertThrows(IllegalArgumentException.class, () -> hooks.mask(Module.VISION, HookPoint.FFN_ACT, 7));
            assertThrows(IllegalStateException.class, () -> projector.openHooks(1));
            // per-patch weights of the wrong length fail the encode, naming both counts
            hooks.reduce(Module.VISION, HookPoint.FFN_ACT, Statistic.COUNT, 0f);
            hooks.group(0);
            hooks.rowWeights(Module.VISION, new float[3]);
            var enc = assertThrows(NeuronScopeException.class, () -> projector.encode(image(1)));
            assertTrue(enc.getMessage().contains("have 3 rows"), enc.getMessage());
            hooks.rowWeights(Module.VISION, null);
            // a tap listener's exception fails the encode and comes back as the cause
            hooks.tap(Module.VISION, HookPoint.FFN_POST, 0, (m, p, l, d, w, n) -> {
                throw new IllegalStateException("listener says no");
            });
            var tap = assertThrows(NeuronScopeException.class, () -> projector.encode(image(1)));
            assertTrue(tap.getCause() instanceof IllegalStateException, String.valueOf(tap.getCause()));
        }
        try (Model model = Model.load(MultimodalFixtures.audioModel());
             Projector projector = Projector.load(model, MultimodalFixtures.audioProjector(), MultimodalFixtures.params());
             EncoderHooks hooks = projector.openHooks(1)) {
            var e = assertThrows(UnsupportedHookException.class, () -> hooks.layers(Module.PROJECTOR));
            assertTrue(e.getMessage().contains("qwen2a"), e.getMessage());
            assertEquals(List.of(Module.AUDIO), hooks.modules());
        }
    }
}
