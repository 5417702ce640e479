package org.neuronscope.methods;

import org.neuronscope.HookPoint;

import org.junit.jupiter.api.Test;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MINER from raw activations and attention: the test builds each sample's statistics from raw
 * tensors, and an oracle computes docs/METHODS.md §2 directly from the same raw tensors with plain loops.
 */
class MinerTest {
    static final List<String> MODS = List.of("text", "image", "audio", "video");
    static final int L = 3, N = 700;

    /** One sample's raw data: activations a[t][l][n], modality of each token (-1: special), attention A[l][i][j]. */
    record Raw(double[][][] a, int[] modality, double[][][] attention) {
    }

    static Raw raw(SplittableRandom rng, int tokens, int[] modalitiesPresent) {
        double[][][] a = new double[tokens][L][N];
        int[] mod = new int[tokens];
        for (int t = 0; t < tokens; t++) {
            mod[t] = rng.nextInt(8) == 0 ? -1 : modalitiesPresent[rng.nextInt(modalitiesPresent.length)];
            for (int l = 0; l < L; l++) {
                for (int n = 0; n < N; n++) {
                    a[t][l][n] = rng.nextGaussian() + (n % 50 == mod[t] + 1 ? 1.5 : 0); // a few planted neurons
                }
            }
        }
        double[][][] att = new double[L][tokens][tokens];
        for (int l = 0; l < L; l++) {
            for (int i = 0; i < tokens; i++) {
                double z = 0;
                for (int j = 0; j <= i; j++) { // causal rows that sum to 1
                    att[l][i][j] = Math.exp(rng.nextGaussian());
                    z += att[l][i][j];
                }
                for (int j = 0; j <= i; j++) {
                    att[l][i][j] /= z;
                }
            }
        }
        return new Raw(a, mod, att);
    }

    /** The statistics a collector would produce (plain loops over the raw data). */
    static Miner.SampleStatistics statistics(Raw r) {
        int G = MODS.size();
        double[][][] count = new double[L][G][N], sum = new double[L][G][N], max = new double[L][G][N];
        double[][][] wk = new double[L][G][N], wq = new double[L][G][N];
        long[] tokens = new long[G];
        for (double[][] x : max) {
            for (double[] y : x) {
                java.util.Arrays.fill(y, Double.NEGATIVE_INFINITY);
            }
        }
        int T = r.modality().length;
        for (int t = 0; t < T; t++) {
            if (r.modality()[t] >= 0) {
                tokens[r.modality()[t]]++;
            }
        }
        for (int l = 0; l < L; l++) {
            for (int j = 0; j < T; j++) {
                int m = r.modality()[j];
                if (m < 0) {
                    continue;
                }
                double receives = 0, pays = 0;
                for (int i = 0; i < T; i++) {
                    if (r.modality()[i] == m) {
                        receives += r.attention()[l][i][j];
                        pays += r.attention()[l][j][i];
                    }
                }
                for (int n = 0; n < N; n++) {
                    double v = r.a()[j][l][n];
                    count[l][m][n] += v > 0 ? 1 : 0;
                    sum[l][m][n] += v;
                    max[l][m][n] = Math.max(max[l][m][n], v);
                    wk[l][m][n] += receives * v;
                    wq[l][m][n] += pays * v;
                }
            }
        }
        NeuronStatistics act = NeuronStatistics.fromArrays(HookPoint.FFN_ACT, MODS, Map.of(Statistic.COUNT, count, Statistic.SUM, sum, Statistic.MAX, max), tokens, 0f, 0f);
        NeuronStatistics k = NeuronStatistics.fromArrays(HookPoint.FFN_ACT, MODS, Map.of(Statistic.WEIGHTED_SUM, wk), tokens, 0f, 0f);
        NeuronStatistics q = NeuronStatistics.fromArrays(HookPoint.FFN_ACT, MODS, Map.of(Statistic.WEIGHTED_SUM, wq), tokens, 0f, 0f);
        return new Miner.SampleStatistics(act, k, q);
    }

    /** docs/METHODS.md §2 stage 2 straight from the raw data: metric vector of (layer, modality), min-max normalised. */
    static double[] oracleMetric(Raw r, Miner.Metric metric, int m, int l) {
        int T = r.modality().length;
        List<Integer> tm = new ArrayList<>();
        for (int t = 0; t < T; t++) {
            if (r.modality()[t] == m) {
                tm.add(t);
            }
        }
        double[] v = new double[N];
        for (int n = 0; n < N; n++) {
            double acc = metric == Miner.Metric.MAX ? Double.NEGATIVE_INFINITY : 0;
            for (int j : tm) {
                double a = r.a()[j][l][n];
                switch (metric) {
                    case PROB -> acc += a > 0 ? 1.0 / tm.size() : 0;
                    case MEAN -> acc += a / tm.size();
                    case MAX -> acc = Math.max(acc, a);
                    case ATTN_K -> {
                        double w = 0;
                        for (int i : tm) {
                            w += r.attention()[l][i][j];
                        }
                        acc += w * a;
                    }
                    case ATTN_Q -> {
                        double w = 0;
                        for (int i : tm) {
                            w += r.attention()[l][j][i];
                        }
                        acc += w * a;
                    }
                }
            }
            v[n] = acc;
        }
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        for (int n = 0; n < N; n++) {
            v[n] = hi > lo ? (v[n] - lo) / (hi - lo) : 0;
        }
        return v;
    }

    // two datasets: A (text, image; 3 samples) and B (text, audio; 2 samples); video never occurs
    static final int[][] PRESENT = {{0, 1}, {0, 1}, {0, 1}, {0, 2}, {0, 2}};

    static List<Raw> raws() {
        SplittableRandom rng = new SplittableRandom(17);
        List<Raw> out = new ArrayList<>();
        for (int[] p : PRESENT) {
            out.add(raw(rng, 12 + rng.nextInt(8), p));
        }
        return out;
    }

    static Miner.Aggregator aggregate(List<Raw> raws) {
        Miner.Aggregator agg = new Miner.Aggregator(L, N, MODS);
        for (int s = 0; s < raws.size(); s++) {
            Miner.SampleStatistics st = statistics(raws.get(s));
            agg.add(s < 3 ? "A" : "B", st);
            st.activations().close();
            st.attnK().close();
            st.attnQ().close();
        }
        return agg;
    }

    /** Samples [from, to) of raws, named as {@link #aggregate} names them. */
    static Miner.Aggregator aggregate(List<Raw> raws, int from, int to) {
        Miner.Aggregator agg = new Miner.Aggregator(L, N, MODS);
        for (int s = from; s < to; s++) {
            Miner.SampleStatistics st = statistics(raws.get(s));
            agg.add(s < 3 ? "A" : "B", st);
            st.activations().close();
            st.attnK().close();
            st.attnQ().close();
        }
        return agg;
    }

    @Test
    void slicesMergedInOrderEqualTheWholeAndTheBinaryFormIsExact() throws Exception {
        List<Raw> raws = raws();
        Miner.Aggregator whole = aggregate(raws);
        // slices cutting dataset A in two; merged in order through the binary form
        Miner.Aggregator merged = new Miner.Aggregator(L, N, MODS);
        for (int[] cut : new int[][] {{0, 2}, {2, 4}, {4, 5}}) {
            merged.merge(Miner.Aggregator.fromBytes(aggregate(raws, cut[0], cut[1]).toBytes()));
        }
        assertEquals(whole.datasets(), merged.datasets());
        for (String d : List.of("A", "B")) {
            assertEquals(whole.samples(d), merged.samples(d));
        }
        for (String m : MODS) {
            assertEquals(whole.datasetsWith(m), merged.datasetsWith(m), m);
            for (Miner.Metric metric : Miner.Metric.values()) {
                double[] a = whole.score(metric, m);
                double[] b = merged.score(metric, m);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(a[i], b[i], 1e-12 * Math.max(1, Math.abs(a[i])), metric + " " + m + " " + i);
                }
            }
        }
        for (Miner.Strategy st : List.of(Miner.Strategy.LA_MU, Miner.Strategy.ADAPTIVE)) {
            Miner.Params p = Miner.Params.DEFAULTS.with(st);
            NeuronSet a = Miner.select(whole, HookPoint.FFN_ACT, p);
            NeuronSet b = Miner.select(merged, HookPoint.FFN_ACT, p);
            assertEquals(a.groupNames(), b.groupNames());
            assertTrue(a.size() > 0);
            for (String g : a.groupNames()) {
                assertEquals(a.describe(g), b.describe(g), st + " " + g);
            }
        }
        // one slice merged into an empty aggregator is the same state, bit for bit
        Miner.Aggregator one = new Miner.Aggregator(L, N, MODS);
        one.merge(whole);
        assertArrayEquals(whole.toBytes(), one.toBytes());
        assertArrayEquals(whole.toBytes(), Miner.Aggregator.fromBytes(whole.toBytes()).toBytes());
        assertThrows(IllegalArgumentException.class, () -> new Miner.Aggregator(L, N, List.of("text")).merge(whole));
        byte[] cut = java.util.Arrays.copyOf(whole.toBytes(), 100);
        assertThrows(java.io.IOException.class, () -> Miner.Aggregator.fromBytes(cut));
    }

    @Test
    void perSampleScoresMatchTheDefinitionOnRawActivations() {
        Raw r = raws().get(0);
        Miner.SampleStatistics st = statistics(r);
        for (Miner.Metric metric : Miner.Metric.values()) {
            for (int m : new int[] {0, 1}) {
                double[] got = Miner.sampleScore(st, metric, MODS.get(m));
                for (int l = 0; l < L; l++) {
                    double[] want = oracleMetric(r, metric, m, l);
                    for (int n = 0; n < N; n++) {
                        assertEquals(want[n], got[l * N + n], 1e-9, metric + " modality " + m + " layer " + l + " neuron " + n);
                    }
                }
            }
        }
        assertEquals(null, Miner.sampleScore(st, Miner.Metric.MEAN, "video"), "absent modality");
        Miner.SampleStatistics noAttention = new Miner.SampleStatistics(st.activations(), null, null);
        assertThrows(IllegalArgumentException.class, () -> Miner.sampleScore(noAttention, Miner.Metric.ATTN_K, "text"));
    }

    @Test
    void aggregationDividesBySamplesThenByDatasetsWhereTheModalityOccurs() {
        List<Raw> raws = raws();
        Miner.Aggregator agg = aggregate(raws);
        assertEquals(2, agg.datasetsWith("text"));
        assertEquals(1, agg.datasetsWith("image"));
        assertEquals(0, agg.datasetsWith("video"));
        for (Miner.Metric metric : Miner.Metric.values()) {
            for (int m = 0; m < 3; m++) {
                double[] want = new double[L * N];
                int datasets = 0;
                for (int[] range : new int[][] {{0, 3}, {3, 5}}) {
                    boolean occurs = false;
                    for (int s = range[0]; s < range[1]; s++) {
                        for (int x : PRESENT[s]) {
                            occurs |= x == m && hasTokens(raws.get(s), m);
                        }
                    }
                    if (!occurs) {
                        continue;
                    }
                    datasets++;
                    for (int s = range[0]; s < range[1]; s++) {
                        if (!hasTokens(raws.get(s), m)) {
                            continue;
                        }
                        for (int l = 0; l < L; l++) {
                            double[] v = oracleMetric(raws.get(s), metric, m, l);
                            for (int n = 0; n < N; n++) {
                                want[l * N + n] += v[n] / (range[1] - range[0]);
                            }
                        }
                    }
                }
                for (int i = 0; i < want.length; i++) {
                    want[i] /= datasets;
                }
                assertArrayEquals(want, agg.score(metric, MODS.get(m)), 1e-9, metric + " " + MODS.get(m));
            }
        }
        // W_m with the default weights
        double[] w = agg.combined("image", Miner.Weights.DEFAULTS);
        double[] mean = agg.score(Miner.Metric.MEAN, "image"), max = agg.score(Miner.Metric.MAX, "image"), k = agg.score(Miner.Metric.ATTN_K, "image");
        for (int i = 0; i < w.length; i++) {
            assertEquals(0.25 * mean[i] + 0.25 * max[i] + 0.5 * k[i], w[i], 1e-12);
        }
    }

    private static boolean hasTokens(Raw r, int m) {
        for (int x : r.modality()) {
            if (x == m) {
                return true;
            }
        }
        return false;
    }

    /** Indices of the top k of v (descending, ties by lower index), by a full sort. */
    static List<Integer> top(double[] v, int k) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < v.length; i++) {
            idx.add(i);
        }
        idx.sort(Comparator.<Integer>comparingDouble(i -> -v[i]).thenComparingInt(i -> i));
        return idx.subList(0, Math.min(k, idx.size()));
    }

    static Set<String> members(NeuronSet set, String g) {
        Set<String> s = new HashSet<>();
        set.neurons(g).forEach(n -> s.add(n.layer() + ":" + n.neuron()));
        return s;
    }

    @Test
    void strategiesSpendTheBudgetAsSpecified() {
        Miner.Aggregator agg = aggregate(raws());
        List<String> occurring = List.of("text", "image", "audio"); // video never occurs: M = 3
        Miner.Params params = Miner.Params.DEFAULTS;
        assertEquals(0.02, params.ratio());
        assertEquals(Miner.Strategy.LA_MU, params.strategy());
        int K = (int) Math.round(0.02 * L * N); // 42
        Map<String, double[]> w = new java.util.LinkedHashMap<>();
        occurring.forEach(m -> w.put(m, agg.combined(m, params.weights())));

        NeuronSet lamu = Miner.select(agg, HookPoint.FFN_ACT, params);
        assertEquals(0, lamu.size("video"));
        for (String m : occurring) {
            Set<String> want = new HashSet<>();
            top(w.get(m), Math.round(K / 3f)).forEach(i -> want.add(i / N + ":" + i % N));
            assertEquals(want, members(lamu, m), "LA_MU " + m);
        }

        NeuronSet adaptive = Miner.select(agg, HookPoint.FFN_ACT, params.with(Miner.Strategy.ADAPTIVE));
        double[] total = new double[L * N];
        w.values().forEach(v -> { for (int i = 0; i < total.length; i++) total[i] += v[i]; });
        Map<String, Set<String>> want = new java.util.HashMap<>();
        for (int i : top(total, K)) {
            String best = occurring.get(0);
            for (String m : occurring) {
                if (w.get(m)[i] > w.get(best)[i]) {
                    best = m;
                }
            }
            want.computeIfAbsent(best, x -> new HashSet<>()).add(i / N + ":" + i % N);
        }
        for (String m : occurring) {
            assertEquals(want.getOrDefault(m, Set.of()), members(adaptive, m), "ADAPTIVE " + m);
        }
        assertEquals(K, adaptive.size());

        NeuronSet luma = Miner.select(agg, HookPoint.FFN_ACT, params.with(Miner.Strategy.LU_MA));
        for (int l = 0; l < L; l++) {
            List<double[]> pairs = new ArrayList<>(); // {score, neuron, modality}
            for (int n = 0; n < N; n++) {
                for (int mi = 0; mi < 3; mi++) {
                    pairs.add(new double[] {w.get(occurring.get(mi))[l * N + n], n, mi});
                }
            }
            pairs.sort(Comparator.<double[]>comparingDouble(p -> -p[0]).thenComparingDouble(p -> p[1]).thenComparingDouble(p -> p[2]));
            Set<String> wantPairs = new HashSet<>(), got = new HashSet<>();
            pairs.subList(0, Math.round(K / (float) L)).forEach(p -> wantPairs.add(occurring.get((int) p[2]) + "@" + (int) p[1]));
            for (String m : occurring) {
                for (int n : luma.neurons(m, l)) {
                    got.add(m + "@" + n);
                }
            }
            assertEquals(wantPairs, got, "LU_MA layer " + l);
        }

        NeuronSet uniform = Miner.select(agg, HookPoint.FFN_ACT, params.with(Miner.Strategy.UNIFORM).withRatio(0.05)); // K = 105, K/(M·L) = 12 (11.67)
        for (String m : occurring) {
            for (int l = 0; l < L; l++) {
                double[] row = java.util.Arrays.copyOfRange(w.get(m), l * N, (l + 1) * N);
                int[] wantRow = top(row, (int) Math.round(Math.round(0.05 * L * N) / (3.0 * L))).stream().mapToInt(Integer::intValue).sorted().toArray();
                assertArrayEquals(wantRow, uniform.neurons(m, l), "UNIFORM " + m + " layer " + l);
            }
        }

        NeuronSet r1 = Miner.select(agg, HookPoint.FFN_ACT, params.with(Miner.Strategy.RANDOM));
        NeuronSet r2 = Miner.select(agg, HookPoint.FFN_ACT, params.with(Miner.Strategy.RANDOM));
        NeuronSet r3 = Miner.select(agg, HookPoint.FFN_ACT, new Miner.Params(params.weights(), params.ratio(), Miner.Strategy.RANDOM, 99));
        assertEquals(K, r1.size("random"));
        assertEquals(r1.describe("random"), r2.describe("random"), "seeded");
        assertNotEquals(r1.describe("random"), r3.describe("random"), "another seed, another set");
    }

    /** CPython 3.11's own outputs (random.seed(s); getrandbits / randint), the oracle of the reference draws. */
    @Test
    void pythonRandomReproducesCPython() {
        PythonRandom bits = new PythonRandom(2024);
        assertEquals(List.of(2019024262L, 780421486L, 3127871324L), List.of(bits.getrandbits(32), bits.getrandbits(32), bits.getrandbits(32)));
        Object[][] cases = {
                {2024L, 28, 18944, new int[] {15, 5954, 23, 9953, 6, 13437, 24, 8690, 17, 8033, 20, 16328}},
                {0L, 4, 50, new int[] {3, 48, 3, 2, 2, 32, 3, 25, 2, 30}},
                {(1L << 40) + 7, 3, 1000, new int[] {2, 765, 2, 584, 2, 487, 1, 970}}};
        for (Object[] c : cases) {
            PythonRandom py = new PythonRandom((Long) c[0]);
            int[] want = (int[]) c[3];
            int[] got = new int[want.length];
            for (int k = 0; k < got.length; k += 2) {
                got[k] = py.randint(0, (Integer) c[1] - 1);
                got[k + 1] = py.randint(0, (Integer) c[2] - 1);
            }
            assertArrayEquals(want, got, "seed " + c[0]);
        }
    }

    /** Stage 4 as MINER's code runs it: floored budgets, the random baseline drawn with replacement (seed 2024). */
    @Test
    void referenceStage4FloorsBudgetsAndDrawsWithReplacement() {
        Miner.Aggregator agg = aggregate(raws());
        List<String> occurring = List.of("text", "image", "audio");
        Miner.Params ref = Miner.Params.DEFAULTS.with(Miner.Stage4.REFERENCE);
        // K = int(0.05·3·700) = int(105.00000000000001) = 105; K // (M·L) = 11 where the specification rounds 11.67 to 12
        NeuronSet uniform = Miner.select(agg, HookPoint.FFN_ACT, ref.with(Miner.Strategy.UNIFORM).withRatio(0.05));
        assertEquals("reference", uniform.params().get("stage4"));
        for (String m : occurring) {
            double[] w = agg.combined(m, ref.weights());
            for (int l = 0; l < L; l++) {
                int[] wantRow = top(java.util.Arrays.copyOfRange(w, l * N, (l + 1) * N), 11).stream().mapToInt(Integer::intValue).sorted().toArray();
                assertArrayEquals(wantRow, uniform.neurons(m, l), "UNIFORM " + m + " layer " + l);
            }
        }
        NeuronSet lamu = Miner.select(agg, HookPoint.FFN_ACT, ref.withRatio(0.0481)); // K = int(101.01) = 101, K // 3 = 33 (round: 34)
        for (String m : occurring) {
            assertEquals(33, lamu.size(m), "LA_MU " + m);
        }
        assertEquals(34, Miner.select(agg, HookPoint.FFN_ACT, Miner.Params.DEFAULTS.withRatio(0.0481)).size("text"), "the specification rounds");

        // random.seed(2024); [(randint(0, 2), randint(0, 699)) for _ in range(42)] in CPython 3.11 (42 distinct pairs)
        int[][] python = {{0, 209}, {0, 230}, {0, 265}, {0, 316}, {0, 333}, {0, 357}, {0, 377}, {0, 416}, {0, 421}, {0, 475}, {0, 544},
                {1, 127}, {1, 139}, {1, 186}, {1, 205}, {1, 353}, {1, 396}, {1, 399}, {1, 424}, {1, 425}, {1, 581}, {1, 609}, {1, 668},
                {2, 76}, {2, 114}, {2, 142}, {2, 144}, {2, 211}, {2, 236}, {2, 251}, {2, 271}, {2, 326}, {2, 338}, {2, 345}, {2, 419},
                {2, 426}, {2, 431}, {2, 479}, {2, 510}, {2, 592}, {2, 630}, {2, 668}};
        NeuronSet random = Miner.select(agg, HookPoint.FFN_ACT, new Miner.Params(ref.weights(), 0.02, Miner.Strategy.RANDOM, 2024, Miner.Stage4.REFERENCE));
        Set<String> want = new HashSet<>();
        for (int[] pair : python) {
            want.add(pair[0] + ":" + pair[1]);
        }
        assertEquals(want, members(random, "random"));
        // with replacement: random.seed(5); [(randint(0, 0), randint(0, 2)) for _ in range(3)] = [(0, 2), (0, 2), (0, 1)]
        NeuronSet tiny = Miner.select(new Miner.Aggregator(1, 3, MODS), HookPoint.FFN_ACT,
                new Miner.Params(ref.weights(), 1.0, Miner.Strategy.RANDOM, 5, Miner.Stage4.REFERENCE));
        assertEquals(Set.of("0:1", "0:2"), members(tiny, "random"), "a pair drawn twice is one neuron");
    }

    @Test
    void meanAndMaxWeightsNeedNoAttention() {
        SplittableRandom rng = new SplittableRandom(3);
        Miner.Aggregator agg = new Miner.Aggregator(L, N, MODS);
        for (int s = 0; s < 3; s++) {
            Miner.SampleStatistics st = statistics(raw(rng, 10, new int[] {0, 1}));
            agg.add("only", new Miner.SampleStatistics(st.activations(), null, null));
        }
        assertThrows(IllegalArgumentException.class, () -> Miner.select(agg, HookPoint.FFN_ACT, Miner.Params.DEFAULTS), "attn_k has weight 0.5");
        NeuronSet set = Miner.select(agg, HookPoint.FFN_ACT, Miner.Params.DEFAULTS.with(Miner.Weights.MEAN_MAX));
        assertEquals(Math.round(0.02 * L * N / 2.0), set.size("image"));
        assertTrue(set.neurons("image").stream().filter(x -> x.neuron() % 50 == 2).count() >= set.size("image") / 2,
                "the planted image neurons (n % 50 == 2) dominate: " + set.describe("image"));
    }
}
