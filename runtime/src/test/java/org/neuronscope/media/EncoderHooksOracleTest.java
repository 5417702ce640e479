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
 * gemma3, qwen2a, and the combined vision+audio one): reductions equal a brute force over taps
 * (fused CPU path and ggml-op path), deactivating a neuron equals an mmproj with that neuron's
 * ffn_up row and bias zeroed (and differs from the unmasked run), identity masks are bit-identical,
 * and what the hooks do not reach fails with a message naming it.
 */
class EncoderHooksOracleTest {
    private static final Statistic[] STATS = {Statistic.COUNT, Statistic.COUNT_ABS, Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS};
    private static final float THRESHOLD = 0.05f;

    private record Setup(String name, Path model, Path mmproj, List<Module> modules) {
    }

    private static List<Setup> setups() {
        return List.of(
                new Setup("qwen2vl_merger", MultimodalFixtures.visionModel(), MultimodalFixtures.visionProjector(), List.of(Module.VISION, Module.PROJECTOR)),
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
                    for (HookPoint p : Module.encoderPoints()) {
                        for (Statistic st : STATS) {
                            acc.put(p + "/" + st, hooks.reduce(module, p, st, THRESHOLD));
                        }
                    }
                    Taps taps = new Taps();
                    for (HookPoint p : Module.encoderPoints()) {
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
                        for (HookPoint p : Module.encoderPoints()) {
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
                Path zeroed = MultimodalFixtures.dir().resolve("mmproj-" + s.name() + "-" + module + "-zeroed-" + neuron + ".gguf");
                zeroNeuron(s.mmproj(), zeroed, prefix, neuron);
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
                assertTrue(maxDiff <= 1e-6f, s.name() + " " + module + ": deactivation vs zeroed " + prefix + " row " + neuron + " differ by " + maxDiff);
            }
        }
    }

    /** A copy of the mmproj with row n of {prefix}.weight and element n of {prefix}.bias zeroed (an independent edit). */
    static void zeroNeuron(Path in, Path out, String prefix, int n) {
        try (GgufFile src = GgufFile.open(in)) {
            GgufWriter w = new GgufWriter();
            src.metadata().forEach(w::put);
            for (TensorInfo t : src.tensors().values()) {
                MemorySegment data = src.tensorData(t.name());
                long rowBytes = t.rowBytes();
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
            var resid = assertThrows(UnsupportedHookException.class, () -> hooks.tap(Module.VISION, HookPoint.RESID_POST, 0, (m, p, l, d, w, n) -> { }));
            assertTrue(resid.getMessage().contains("vision.resid.post"), resid.getMessage());
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
