package org.neuronscope.hooks;

import org.neuronscope.stats.Statistic;


import org.neuronscope.HookPoint;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.gguf.GgufEdits;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hooks against independent oracles, on every architecture claimed:
 * in-graph reductions against a brute-force Java computation over the raw taps of the same run;
 * deactivation against a GGUF whose ffn_up/ffn_gate rows are zeroed; identity masks against no
 * masks (bit-identical); count(act > 0) against count(gate > 0); two halves merged against the whole.
 */
class NeuronHooksOracleTest {
    private static final int GROUPS = 3;
    private static final int TOKENS = 45;
    private static final HookPoint[] POINTS = HookPoint.neuronPoints();

    static List<String> architectures() {
        return SyntheticFixtures.ARCHITECTURES;
    }

    /** Every architecture, with the fused CPU pass and with the portable ggml-op path GPUs run. */
    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> architecturesAndPaths() {
        return SyntheticFixtures.ARCHITECTURES.stream().flatMap(a -> java.util.stream.Stream.of(
                org.junit.jupiter.params.provider.Arguments.of(a, false), org.junit.jupiter.params.provider.Arguments.of(a, true)));
    }

    /** Tokens of a fixed pseudo-random prompt, valid for the vocabulary. */
    private static int[] prompt(Model model, long seed, int n) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 100 + rng.nextInt(Math.min(20000, model.vocabularySize() - 200));
        }
        return t;
    }

    private static int[] groups(int n) {
        int[] g = new int[n];
        for (int i = 0; i < n; i++) {
            g[i] = (i * 7 / 5) % GROUPS; // uneven, interleaved groups
        }
        return g;
    }

    private static SessionParams params() {
        // batch split into micro-batches of 16: checks the mapping of micro-batch rows to batch entries
        return SessionParams.defaults().withContextSize(256).withBatchSize(64).withUbatchSize(16).withThreads(2);
    }

    /** Decodes the prompt in one batch, logits only for the last token (llama.cpp's usual pruning). */
    private static void decode(Session session, int[] tokens, int start) {
        try (Batch batch = Batch.ofTokens(tokens.length)) {
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], start + i, 0, i == tokens.length - 1);
            }
            session.decode(batch);
        }
    }

    /** Raw tap rows per (point, layer): [batchEntry][width], copied during the callback. */
    private static final class Taps {
        final Map<HookPoint, float[][][]> rows = new EnumMap<>(HookPoint.class);

        Taps(HookScope hooks, int tokens) {
            for (HookPoint p : POINTS) {
                float[][][] perLayer = new float[hooks.hooks().layers()][][];
                for (int l = 0; l < hooks.hooks().layers(); l++) {
                    perLayer[l] = new float[tokens][];
                }
                rows.put(p, perLayer);
                hooks.tap(p, -1, (point, layer, data, width, n, batchIndex) -> {
                    for (int i = 0; i < n; i++) {
                        rows.get(point)[layer][batchIndex[i]] = data.asSlice((long) i * width * Float.BYTES, (long) width * Float.BYTES)
                                .toArray(ValueLayout.JAVA_FLOAT);
                    }
                });
            }
        }
    }

    @ParameterizedTest(name = "{0}, portable={1}")
    @MethodSource("architecturesAndPaths")
    void reductionsEqualBruteForceOverTheTaps(String arch, boolean portable) {
        try (Model model = Model.load(SyntheticFixtures.tiny(arch));
             Session session = model.newSession(params());
             HookScope hooks = session.hooks().openScope()) {
            hooks.hooks().setPortableReductions(portable);
            int layers = model.layerCount();
            int[] tokens = prompt(model, 1, TOKENS);
            int[] group = groups(TOKENS);
            hooks.tokenWeights(GROUPS).setGroups(group);
            Map<HookPoint, Map<Statistic, Accumulator>> acc = new EnumMap<>(HookPoint.class);
            float threshold = 0.05f;
            for (HookPoint p : POINTS) {
                Map<Statistic, Accumulator> m = new EnumMap<>(Statistic.class);
                for (Statistic r : Statistic.values()) {
                    if (r.isExtremum() || r == Statistic.WEIGHTED_SUM) {
                        continue; // MAX and MIN come from taps; WEIGHTED_SUM is SUM under one-hot weights
                    }
                    m.put(r, hooks.reduce(p, r, r == Statistic.COUNT_ABS ? 0.1f : r == Statistic.COUNT ? threshold : 0f));
                }
                acc.put(p, m);
            }
            Taps taps = new Taps(hooks, TOKENS);
            decode(session, tokens, 0);

            for (HookPoint p : POINTS) {
                for (int l = 0; l < layers; l++) {
                    float[][] x = taps.rows.get(p)[l];
                    for (int t = 0; t < TOKENS; t++) {
                        assertTrue(x[t] != null, arch + ": " + p + " layer " + l + " never showed token " + t + " (every layer must see every token)");
                    }
                    int width = x[0].length;
                    assertEquals(hooks.hooks().width(p, l), width);
                    for (int g = 0; g < GROUPS; g++) {
                        for (int n = 0; n < width; n++) {
                            double count = 0, countAbs = 0, sum = 0, sumSq = 0, sumAbs = 0;
                            for (int t = 0; t < TOKENS; t++) {
                                if (group[t] != g) {
                                    continue;
                                }
                                double v = x[t][n];
                                count += v > threshold ? 1 : 0;
                                countAbs += Math.abs(v) > 0.1 ? 1 : 0;
                                sum += v;
                                sumSq += v * v;
                                sumAbs += Math.abs(v);
                            }
                            String where = arch + " " + p + " layer " + l + " group " + g + " neuron " + n;
                            var m = acc.get(p);
                            assertEquals(count, m.get(Statistic.COUNT).get(l, g, n), where + " COUNT");
                            assertEquals(countAbs, m.get(Statistic.COUNT_ABS).get(l, g, n), where + " COUNT_ABS");
                            assertClose(sum, m.get(Statistic.SUM).get(l, g, n), sumAbs, where + " SUM");
                            assertClose(sumSq, m.get(Statistic.SUM_SQ).get(l, g, n), sumSq, where + " SUM_SQ");
                            assertClose(sumAbs, m.get(Statistic.SUM_ABS).get(l, g, n), sumAbs, where + " SUM_ABS");
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("architectures")
    @org.neuronscope.testkit.ExpectNativeErrors("attention probabilities asked of a flash-attention session: the decode must fail")
    void attentionProbabilitiesAreCausalDistributions(String arch) {
        SessionParams noFlash = params().withFlashAttention(SessionParams.FlashAttention.OFF);
        try (Model model = Model.load(SyntheticFixtures.tiny(arch)); Session session = model.newSession(noFlash);
             HookScope hooks = session.hooks().openScope()) {
            int[] tokens = prompt(model, 6, 30);
            float[][][] probs = new float[model.layerCount()][tokens.length][];
            hooks.tap(HookPoint.ATTN_PROBS, -1, (p, layer, data, width, n, idx) -> {
                for (int i = 0; i < n; i++) {
                    probs[layer][idx[i]] = data.asSlice((long) i * width * 4, (long) width * 4).toArray(ValueLayout.JAVA_FLOAT);
                }
            });
            decode(session, tokens, 0);
            float[] first = null;
            for (int l = 0; l < model.layerCount(); l++) {
                for (int i = 0; i < tokens.length; i++) {
                    float[] row = probs[l][i];
                    assertTrue(row.length >= tokens.length, "one column per KV cell");
                    double sum = 0;
                    for (int j = 0; j < row.length; j++) {
                        if (j > i) {
                            assertEquals(0f, row[j], arch + " layer " + l + ": token " + i + " attends to the future cell " + j);
                        }
                        sum += row[j];
                    }
                    assertEquals(1.0, sum, 1e-4, arch + " layer " + l + " token " + i + ": probabilities must sum to 1");
                }
                assertEquals(1.0f, probs[l][0][0], 1e-6f, "the first token can only attend to itself");
                if (l == 0) {
                    first = probs[0][tokens.length - 1].clone();
                }
            }
            session.clearMemory();
            decode(session, tokens, 0);
            assertArrayEquals(first, probs[0][tokens.length - 1], "the same prompt gives the same attention");
        }
        // with flash attention the probabilities never exist: a clear error, not empty data
        try (Model model = Model.load(SyntheticFixtures.tiny(arch));
             Session session = model.newSession(params().withFlashAttention(SessionParams.FlashAttention.ON));
             HookScope hooks = session.hooks().openScope()) {
            hooks.tap(HookPoint.ATTN_PROBS, 0, (p, layer, data, width, n, idx) -> { });
            var e = org.junit.jupiter.api.Assertions.assertThrows(org.neuronscope.model.DecodeException.class,
                    () -> decode(session, prompt(model, 6, 8), 0));
            assertTrue(e.getMessage().contains("flash attention"), e.getMessage());
        }
    }

    private static void assertClose(double expected, double actual, double scale, String what) {
        assertEquals(expected, actual, 1e-5 * Math.max(1.0, scale), what);
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void countOfActivationAboveZeroEqualsCountOfGateAboveZero(String arch) {
        try (Model model = Model.load(SyntheticFixtures.tiny(arch));
             Session session = model.newSession(params());
             HookScope hooks = session.hooks().openScope()) {
            int[] tokens = prompt(model, 2, TOKENS);
            int[] group = groups(TOKENS);
            hooks.tokenWeights(GROUPS).setGroups(group);
            // alone, count(act > 0) is computed on the gate and llama.cpp's fused SwiGLU/GeGLU stays
            Accumulator count = hooks.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);
            float[][][] gate = new float[model.layerCount()][TOKENS][];
            hooks.tap(HookPoint.FFN_PRE, -1, (p, layer, data, width, n, idx) -> {
                for (int i = 0; i < n; i++) {
                    gate[layer][idx[i]] = data.asSlice((long) i * width * 4, (long) width * 4).toArray(ValueLayout.JAVA_FLOAT);
                }
            });
            decode(session, tokens, 0);
            long total = 0;
            for (int l = 0; l < model.layerCount(); l++) {
                for (int g = 0; g < GROUPS; g++) {
                    for (int n = 0; n < gate[l][0].length; n++) {
                        int expected = 0;
                        for (int t = 0; t < TOKENS; t++) {
                            expected += group[t] == g && gate[l][t][n] > 0 ? 1 : 0;
                        }
                        assertEquals(expected, count.get(l, g, n), arch + " layer " + l + " group " + g + " neuron " + n);
                        total += expected;
                    }
                }
            }
            assertTrue(total > 0, "no neuron fired at all: the oracle would be vacuous");
        }
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void deactivationEqualsZeroedWeightRows(String arch, @TempDir Path tmp) {
        Path original = SyntheticFixtures.tiny(arch);
        int layer = 1;
        int[] neurons = {5, 17, 99};
        Path zeroed = tmp.resolve("zeroed.gguf");
        GgufEdits.zeroRows(original, zeroed, Map.of(
                "blk." + layer + ".ffn_up.weight", neurons,
                "blk." + layer + ".ffn_gate.weight", neurons));
        int[] tokens;
        float[] plain;
        float[] byWeights;
        try (Model model = Model.load(zeroed); Session session = model.newSession(params())) {
            tokens = prompt(model, 3, 20);
            decode(session, tokens, 0);
            byWeights = session.logitsArray(tokens.length - 1);
        }
        try (Model model = Model.load(original); Session session = model.newSession(params());
             HookScope hooks = session.hooks().openScope()) {
            decode(session, tokens, 0);
            plain = session.logitsArray(tokens.length - 1);
            for (HookPoint point : new HookPoint[] {HookPoint.FFN_ACT, HookPoint.FFN_POST}) {
                LayerMask iv = hooks.mask(point, layer);
                for (int n : neurons) {
                    iv.deactivate(n);
                }
                session.clearMemory();
                decode(session, tokens, 0);
                float[] masked = session.logitsArray(tokens.length - 1);
                assertEquals(0.0, maxAbsDiff(masked, byWeights), 1e-4, arch + " " + point + ": deactivation != zeroed rows");
                assertTrue(maxAbsDiff(masked, plain) > 1e-3, arch + " " + point + ": deactivation changed nothing");
                hooks.removeMask(point, layer);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void identityMasksGiveBitIdenticalLogitsAndValuesChangeWithoutACall(String arch) {
        try (Model model = Model.load(SyntheticFixtures.tiny(arch)); Session session = model.newSession(params());
             HookScope hooks = session.hooks().openScope()) {
            int[] tokens = prompt(model, 4, 30);
            decode(session, tokens, 0);
            float[] plain = session.logitsArray(tokens.length - 1);
            for (int l = 0; l < model.layerCount(); l++) {
                hooks.mask(HookPoint.FFN_POST, l).affine(0, 1.0f, 0.0f).scale(1, 1.0f);
                hooks.mask(HookPoint.FFN_ACT, l).scale(2, 1.0f);
            }
            session.clearMemory();
            decode(session, tokens, 0);
            assertArrayEquals(plain, session.logitsArray(tokens.length - 1), arch + ": scale 1 / shift 0 must not change a bit");

            // zero copy: a value written in Java changes the next decode, with no call to the hooks
            MemorySegment scale = hooks.mask(HookPoint.FFN_POST, 0).scaleSegment();
            for (int n = 0; n < 64; n++) {
                scale.setAtIndex(ValueLayout.JAVA_FLOAT, n, 0.0f);
            }
            session.clearMemory();
            decode(session, tokens, 0);
            assertTrue(maxAbsDiff(plain, session.logitsArray(tokens.length - 1)) > 1e-3, arch + ": mask change had no effect");
        }
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void statisticsOfTwoHalvesMergeToTheWhole(String arch) {
        int samples = 4;
        try (Model model = Model.load(SyntheticFixtures.tiny(arch)); Session session = model.newSession(params())) {
            int[][] prompts = new int[samples][];
            for (int s = 0; s < samples; s++) {
                prompts[s] = prompt(model, 10 + s, 12 + 5 * s);
            }
            double[][] counts = new double[3][];
            double[][] sums = new double[3][];
            int[][] ranges = {{0, 2}, {2, 4}, {0, 4}};
            for (int r = 0; r < 3; r++) {
                try (HookScope hooks = session.hooks().openScope()) {
                    TokenWeights w = hooks.tokenWeights(GROUPS);
                    Accumulator count = hooks.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);
                    Accumulator sum = hooks.reduce(HookPoint.FFN_POST, Statistic.SUM, 0f);
                    for (int s = ranges[r][0]; s < ranges[r][1]; s++) {
                        w.setGroups(groups(prompts[s].length));
                        session.clearMemory();
                        decode(session, prompts[s], 0);
                    }
                    counts[r] = count.toArray();
                    sums[r] = sum.toArray();
                }
            }
            for (int i = 0; i < counts[2].length; i++) {
                assertEquals(counts[2][i], counts[0][i] + counts[1][i], "count " + i + " of " + arch);
                assertEquals(sums[2][i], sums[0][i] + sums[1][i], 1e-9 * Math.max(1, Math.abs(sums[2][i])), "sum " + i + " of " + arch);
            }
            assertTrue(Arrays.stream(counts[2]).sum() > 0);
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
