package org.neuronscope.methods;

import org.neuronscope.HookPoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EntropySelectionTest {
    /** Both kernels: the scalar one, and the vector one that the build's JVMs run (--add-modules jdk.incubator.vector). */
    static List<EntropySelection.Workspace> kernels() {
        return List.of(new EntropySelection.Workspace(false), new EntropySelection.Workspace(true));
    }

    static NeuronStatistics random(int layers, int neurons, List<String> groups, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, layers, neurons, groups, EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.MAX), 0f, 0.1f);
        for (int g = 0; g < groups.size(); g++) {
            long tokens = 50 + rng.nextInt(100);
            s.addTokens(g, tokens);
            for (int l = 0; l < layers; l++) {
                for (int n = 0; n < neurons; n++) {
                    // a skewed distribution with many ties (integer counts)
                    double c = rng.nextInt(10) < 7 ? rng.nextInt((int) tokens / 4 + 1) : rng.nextInt((int) tokens + 1);
                    s.set(Statistic.COUNT, l, g, n, c);
                    s.set(Statistic.SUM, l, g, n, rng.nextGaussian() * tokens);
                    s.set(Statistic.MAX, l, g, n, rng.nextDouble() * 3);
                }
            }
        }
        return s;
    }

    /**
     * A text+image dataset grouped by modality has empty audio and video groups: they must not enter P
     * (their L·N zeros would move τ from the 95th percentile of the real values to about the 92nd).
     * The selection equals the one over the groups with tokens alone, and the empty groups get nothing.
     */
    /**
     * Statistics whose token counts were never recorded (the counts added by hand, addTokens forgotten)
     * would select nothing, silently: they are refused, naming the group and the token counts.
     */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void countsWithoutTokensAreRefused(EntropySelection.Workspace ws) {
        try (NeuronStatistics s = random(2, 50, List.of("en", "fr", "zh"), 3)) {
            s.setTokens(1, 0); // fr has counts but no tokens
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> ws.select(s, EntropySelection.Params.DEFAULTS));
            assertTrue(e.getMessage().contains("group 'fr' has non-zero counts but 0 tokens"), e.getMessage());
            assertTrue(e.getMessage().contains("fr=0"), e.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ws.compute(s, EntropySelection.Params.DEFAULTS));
            for (int g = 0; g < 3; g++) {
                s.setTokens(g, 0);
            }
            e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ws.select(s, EntropySelection.Params.DEFAULTS));
            assertTrue(e.getMessage().contains("group 'en' has non-zero counts but 0 tokens"), e.getMessage());
        }
        try (NeuronStatistics empty = new NeuronStatistics(HookPoint.FFN_ACT, 2, 50, List.of("en", "fr"), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> ws.select(empty, EntropySelection.Params.DEFAULTS));
            assertTrue(e.getMessage().startsWith("no group has any tokens (tokens per group: en=0, fr=0)"), e.getMessage());
        }
    }

    @Test
    void groupsWithoutTokensDoNotEnterThePercentiles() {
        List<String> groups = List.of("text", "image", "audio", "video");
        SplittableRandom rng = new SplittableRandom(11);
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 3, 2000, groups, EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            s.addTokens(0, 60);
            s.addTokens(1, 90);
            for (int l = 0; l < 3; l++) {
                for (int n = 0; n < 2000; n++) {
                    s.set(Statistic.COUNT, l, 0, n, rng.nextInt(61));
                    s.set(Statistic.COUNT, l, 1, n, rng.nextInt(4) == 0 ? rng.nextInt(91) : rng.nextInt(5));
                }
            }
            try (NeuronStatistics real = s.subset(List.of("text", "image"))) {
                for (EntropySelection.Params params : List.of(EntropySelection.Params.DEFAULTS, new EntropySelection.Params(0.05, 0.9, 0.9))) {
                    NeuronSet withEmpty = EntropySelection.select(s, params);
                    NeuronSet alone = EntropySelection.select(real, params);
                    assertEquals(flatten(alone), flatten(withEmpty), params.toString());
                    assertEquals(groups, withEmpty.groupNames());
                    assertEquals(0, withEmpty.size("audio"));
                    assertEquals(0, withEmpty.size("video"));
                    assertEquals("audio,video", withEmpty.params().get("groups_without_tokens"));
                    EntropySelection.Result r = EntropySelection.compute(s, params);
                    EntropySelection.Result ra = EntropySelection.compute(real, params);
                    assertEquals(ra.filterThreshold(), r.filterThreshold(), "τ over the real values only");
                    assertEquals(flatten(alone), flatten(r.selected()));
                    assertArrayEquals(ra.entropy(), r.entropy());
                    assertEquals(0.0, r.probability()[(0 * 4 + 2) * 2000 + 7], "p of an empty group");
                    assertEquals(ra.probability()[(1 * 2 + 1) * 2000 + 7], r.probability()[(1 * 4 + 1) * 2000 + 7]);
                }
            }
            // counting the empty groups as zeros would lower τ: the old definition gives another threshold
            double[] values = new double[3 * 2000 * 2];
            int i = 0;
            for (int l = 0; l < 3; l++) {
                for (int n = 0; n < 2000; n++) {
                    values[i++] = s.get(Statistic.COUNT, l, 0, n) / 60;
                    values[i++] = s.get(Statistic.COUNT, l, 1, n) / 90;
                }
            }
            Arrays.sort(values);
            assertEquals(values[(int) Math.round(0.95 * values.length) - 1], EntropySelection.compute(s, EntropySelection.Params.DEFAULTS).filterThreshold(), 1e-12);
            double[] withZeros = Arrays.copyOf(values, values.length * 2); // + the empty groups' L·N zeros each
            Arrays.sort(withZeros);
            assertTrue(withZeros[(int) Math.round(0.95 * withZeros.length) - 1] < values[(int) Math.round(0.95 * values.length) - 1] - 0.05,
                    "the zeros would have lowered τ");
        }
    }

    /** docs/METHODS.md §1 written out with plain loops, a full sort and explicit tie rules. */
    static List<String> bruteForce(NeuronStatistics s, double topRate, double pct) {
        return bruteForce(s, topRate, pct, pct);
    }

    static List<String> bruteForce(NeuronStatistics s, double topRate, double pct, double assignPct) {
        // only the groups with tokens take part (all of them if none has any)
        List<Integer> present = new ArrayList<>();
        for (int k = 0; k < s.groupCount(); k++) {
            if (s.tokens(k) > 0) {
                present.add(k);
            }
        }
        if (present.isEmpty()) {
            for (int k = 0; k < s.groupCount(); k++) {
                present.add(k);
            }
        }
        int L = s.layers(), N = s.neurons(), K = present.size();
        double[][][] p = new double[L][N][K];
        List<Double> all = new ArrayList<>();
        for (int l = 0; l < L; l++) {
            for (int n = 0; n < N; n++) {
                for (int k = 0; k < K; k++) {
                    int g = present.get(k);
                    p[l][n][k] = s.tokens(g) == 0 ? 0 : s.get(Statistic.COUNT, l, g, n) / s.tokens(g);
                    all.add(p[l][n][k]);
                }
            }
        }
        all.sort(Comparator.naturalOrder());
        int kth = (int) Math.round(pct * all.size());
        double tau = kth == 0 ? Double.NEGATIVE_INFINITY : all.get(kth - 1);
        int kthAssign = (int) Math.round(assignPct * all.size());
        double tauAssign = kthAssign == 0 ? Double.NEGATIVE_INFINITY : all.get(kthAssign - 1);
        List<double[]> candidates = new ArrayList<>(); // {H, l, n}
        for (int l = 0; l < L; l++) {
            for (int n = 0; n < N; n++) {
                double sum = 0, max = 0;
                for (int k = 0; k < K; k++) {
                    sum += p[l][n][k];
                    max = Math.max(max, p[l][n][k]);
                }
                if (max <= tau) {
                    continue;
                }
                double h = 0;
                for (int k = 0; k < K; k++) {
                    double q = sum == 0 ? 0 : p[l][n][k] / sum;
                    if (q > 0) {
                        h -= q * Math.log(q);
                    }
                }
                candidates.add(new double[] {h, l, n});
            }
        }
        candidates.sort(Comparator.<double[]>comparingDouble(c -> c[0]).thenComparingDouble(c -> c[1]).thenComparingDouble(c -> c[2]));
        int budget = (int) Math.round(topRate * L * N);
        List<String> out = new ArrayList<>();
        for (double[] c : candidates.subList(0, Math.min(budget, candidates.size()))) {
            int l = (int) c[1], n = (int) c[2];
            for (int k = 0; k < K; k++) {
                if (p[l][n][k] > tauAssign) {
                    out.add(s.groups().get(present.get(k)) + "@" + l + ":" + n);
                }
            }
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    static List<String> flatten(NeuronSet set) {
        List<String> out = new ArrayList<>();
        for (String g : set.groupNames()) {
            set.neurons(g).forEach(n -> out.add(g + "@" + n.layer() + ":" + n.neuron()));
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void matchesAStraightforwardImplementationOnThousandsOfNeurons(EntropySelection.Workspace ws) {
        for (long seed = 1; seed <= 3; seed++) {
            try (NeuronStatistics s = random(6, 1500, List.of("en", "fr", "zh", "de"), seed)) {
                NeuronSet set = ws.select(s, EntropySelection.Params.DEFAULTS);
                assertEquals(bruteForce(s, 0.01, 0.95), flatten(set), "seed " + seed);
                NeuronSet other = ws.select(s, new EntropySelection.Params(0.05, 0.5, 0.5));
                assertEquals(bruteForce(s, 0.05, 0.5), flatten(other), "seed " + seed + " other params");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void handCheckableCase(EntropySelection.Workspace ws) {
        // 1 layer, 4 neurons, 2 groups of 10 tokens
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 1, 4, List.of("a", "b"), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            s.addTokens(0, 10);
            s.addTokens(1, 10);
            double[][] counts = {{10, 0}, {5, 5}, {0, 0}, {9, 1}}; // neuron -> group counts
            for (int n = 0; n < 4; n++) {
                for (int g = 0; g < 2; g++) {
                    s.set(Statistic.COUNT, 0, g, n, counts[n][g]);
                }
            }
            // p values: 1, 0, .5, .5, 0, 0, .9, .1; sorted: 0 0 0 .1 .5 .5 .9 1; k = round(0.5·8) = 4 -> τ = 0.1
            EntropySelection.Result r = ws.compute(s, new EntropySelection.Params(0.5, 0.5, 0.5));
            assertEquals(0.1, r.filterThreshold(), 1e-12);
            assertEquals(0.0, r.entropy()[0], 1e-12);                     // all in a: H = 0
            assertEquals(Math.log(2), r.entropy()[1], 1e-12);             // even split
            assertEquals(Double.POSITIVE_INFINITY, r.entropy()[2]);       // never fires: dropped
            double q = 0.9;
            assertEquals(-(q * Math.log(q) + 0.1 * Math.log(0.1)), r.entropy()[3], 1e-12);
            // budget round(0.5·4) = 2: neurons 0 (H 0) and 3 (H .325); 3 goes to a only (p_b = .1 is not > τ)
            assertEquals(List.of("a@0:0", "a@0:3"), flatten(r.selected()));
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void entropyIsBoundedAndInvariantToGroupOrder(EntropySelection.Workspace ws) {
        List<String> groups = List.of("g0", "g1", "g2", "g3", "g4");
        try (NeuronStatistics s = random(3, 800, groups, 9); NeuronStatistics reversed = reversedGroups(s)) {
            EntropySelection.Result a = ws.compute(s, EntropySelection.Params.DEFAULTS);
            EntropySelection.Result b = ws.compute(reversed, EntropySelection.Params.DEFAULTS);
            for (double h : a.entropy()) {
                assertTrue(h == Double.POSITIVE_INFINITY || (h >= -1e-12 && h <= Math.log(groups.size()) + 1e-12), "H = " + h);
            }
            assertTrue(Arrays.equals(a.entropy(), b.entropy()) || maxDiff(a.entropy(), b.entropy()) < 1e-12);
            assertEquals(new TreeSet<>(flatten(a.selected())), new TreeSet<>(flatten(b.selected())));
            assertEquals(Math.round(0.01 * 3 * 800), a.selected().size(), "defaults: 1 % of L·N");
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void thePercentileIsGlobalNotPerGroup(EntropySelection.Workspace ws) {
        // group b fires far more often: a per-group percentile would let a's neurons pass, a global one must not
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 1, 100, List.of("a", "b"), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            s.addTokens(0, 100);
            s.addTokens(1, 100);
            for (int n = 0; n < 100; n++) {
                s.set(Statistic.COUNT, 0, 0, n, n % 10);       // a: p <= 0.09
                s.set(Statistic.COUNT, 0, 1, n, 50 + n % 50);  // b: p in [0.5, 0.99]
            }
            EntropySelection.Result r = ws.compute(s, new EntropySelection.Params(0.5, 0.95, 0.95));
            assertTrue(r.filterThreshold() >= 0.5, "τ = " + r.filterThreshold());
            assertEquals(0, r.selected().size("a"), "no neuron of a passes a global 95th percentile");
        }
    }

    @Test
    void defaultsAreLapes() {
        assertEquals(new EntropySelection.Params(0.01, 0.95, 0.95), EntropySelection.Params.DEFAULTS);
    }

    /** Many specific neurons (one dominant group) and ties: the entropy bound prunes hard here. */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void skewedInputsWithTiesMatchTheStraightforwardImplementation(EntropySelection.Workspace ws) {
        List<String> groups = List.of("g0", "g1", "g2", "g3", "g4", "g5", "g6");
        for (long seed = 4; seed <= 5; seed++) {
            SplittableRandom rng = new SplittableRandom(seed);
            int L = 4, N = 2500;
            try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, L, N, groups, EnumSet.of(Statistic.COUNT), 0f, 0f)) {
                for (int g = 0; g < groups.size(); g++) {
                    s.addTokens(g, g == 6 ? 0 : 40); // a group without tokens: left out of P
                }
                int[][] patterns = new int[30][groups.size()];
                for (int[] p : patterns) {
                    for (int g = 0; g < p.length; g++) {
                        // the group without tokens has no counts either (counts without tokens are refused)
                        p[g] = g == 6 ? 0 : rng.nextInt(3) == 0 ? rng.nextInt(41) : rng.nextInt(4);
                    }
                }
                for (int l = 0; l < L; l++) {
                    for (int n = 0; n < N; n++) {
                        int[] p = patterns[rng.nextInt(patterns.length)]; // repeated count vectors: exact ties
                        for (int g = 0; g < groups.size(); g++) {
                            s.set(Statistic.COUNT, l, g, n, p[g]);
                        }
                    }
                }
                for (EntropySelection.Params params : List.of(EntropySelection.Params.DEFAULTS, new EntropySelection.Params(0.2, 0.9, 0.95),
                        new EntropySelection.Params(0.02, 0.0, 0.5))) {
                    NeuronSet fast = ws.select(s, params);
                    List<String> want = bruteForce(s, params.topRate(), params.filterPercentile(), params.assignPercentile());
                    assertEquals(want, flatten(fast), "seed " + seed + " " + params);
                    assertEquals(flatten(fast), flatten(ws.compute(s, params).selected()));
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void equalEntropiesGoToTheLowerLayerThenNeuron(EntropySelection.Workspace ws) {
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 3, 10, List.of("a", "b"), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            s.addTokens(0, 10);
            s.addTokens(1, 10);
            for (int l = 0; l < 3; l++) {
                for (int n = 0; n < 10; n++) {
                    s.set(Statistic.COUNT, l, 0, n, 9); // every neuron identical: H ties everywhere
                    s.set(Statistic.COUNT, l, 1, n, 1);
                }
            }
            s.set(Statistic.COUNT, 2, 1, 9, 0); // the one lowest entropy (H = 0)
            NeuronSet set = ws.select(s, new EntropySelection.Params(0.1, 0.0, 0.0)); // budget 3, τ = −∞
            assertEquals("[0:0, 0:1, 2:9]", set.describe("a"));
        }
    }

    private static NeuronStatistics reversedGroups(NeuronStatistics s) {
        List<String> rev = new ArrayList<>(s.groups());
        java.util.Collections.reverse(rev);
        NeuronStatistics r = new NeuronStatistics(s.hookPoint(), s.layers(), s.neurons(), rev, s.statistics(), 0f, 0.1f);
        int K = s.groupCount();
        for (int g = 0; g < K; g++) {
            r.addTokens(K - 1 - g, s.tokens(g));
            for (int l = 0; l < s.layers(); l++) {
                for (int n = 0; n < s.neurons(); n++) {
                    r.set(Statistic.COUNT, l, K - 1 - g, n, s.get(Statistic.COUNT, l, g, n));
                }
            }
        }
        return r;
    }

    private static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                m = Math.max(m, Math.abs(a[i] - b[i]));
            }
        }
        return m;
    }

    /** Fractional (weighted) counts and the selected neurons' scores: exactly the straightforward entropies. */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void weightedCountsAndScoresMatchTheStraightforwardImplementation(EntropySelection.Workspace ws) {
        SplittableRandom rng = new SplittableRandom(11);
        List<String> groups = List.of("a", "b", "c");
        int L = 3, N = 4000;
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, L, N, groups, EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            for (int g = 0; g < groups.size(); g++) {
                s.addTokens(g, 37 + 11 * g);
            }
            for (int l = 0; l < L; l++) {
                for (int g = 0; g < groups.size(); g++) {
                    for (int n = 0; n < N; n++) {
                        s.set(Statistic.COUNT, l, g, n, rng.nextDouble() * s.tokens(g) * (rng.nextInt(5) == 0 ? 1 : 0.3));
                    }
                }
            }
            NeuronSet fast = ws.select(s, EntropySelection.Params.DEFAULTS);
            assertEquals(bruteForce(s, 0.01, 0.95), flatten(fast));
            for (String g : fast.groupNames()) {
                for (NeuronSet.Neuron n : fast.neurons(g)) {
                    double sum = 0;
                    double[] p = new double[groups.size()];
                    for (int k = 0; k < p.length; k++) {
                        p[k] = s.get(Statistic.COUNT, n.layer(), k, n.neuron()) / s.tokens(k);
                        sum += p[k];
                    }
                    double h = 0;
                    for (double v : p) {
                        double q = v / sum;
                        if (q > 0) {
                            h -= q * Math.log(q);
                        }
                    }
                    assertEquals(h, n.score(), "score of " + g + "@" + n.layer() + ":" + n.neuron() + " is its exact entropy");
                }
            }
        }
    }

    /**
     * LAPE's identify.py transcribed loop by loop (activation(): probs, normalised probs with NaN → 0,
     * entropy, kthvalue(round(len·filter_rate)), dropped neurons at +∞, topk(round(len·top_rate)) of the
     * smallest entropies, assignment by selected_probs > activation_bar), with Python's round (half to even).
     * Counts are drawn from a wide range so that no two entropies tie (topk's order among ties is unspecified).
     */
    static List<String> identifyPy(long[][][] overZero, long[] n, List<String> langs, double topRate, double filterRate, double barRatio) {
        int layers = overZero.length, inter = overZero[0].length, langNum = n.length;
        double[][][] probs = new double[layers][inter][langNum];
        List<Double> flattened = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < inter; i++) {
                for (int k = 0; k < langNum; k++) {
                    probs[l][i][k] = (double) overZero[l][i][k] / n[k];
                    flattened.add(probs[l][i][k]);
                }
            }
        }
        List<Double> sorted = new ArrayList<>(flattened);
        sorted.sort(Comparator.naturalOrder());
        double topProbValue = sorted.get((int) Math.rint(flattened.size() * filterRate) - 1); // kthvalue is 1-based
        double[] entropy = new double[layers * inter];
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < inter; i++) {
                double sum = 0;
                for (double v : probs[l][i]) {
                    sum += v;
                }
                double e = 0;
                int topPosition = 0;
                for (int k = 0; k < langNum; k++) {
                    double q = sum == 0 ? 0 : probs[l][i][k] / sum; // NaN -> 0
                    e -= q > 0 ? q * Math.log(q) : 0;
                    topPosition += probs[l][i][k] > topProbValue ? 1 : 0;
                }
                entropy[l * inter + i] = topPosition == 0 ? Double.POSITIVE_INFINITY : e;
            }
        }
        int topEntropyValue = (int) Math.rint(entropy.length * topRate);
        Integer[] order = new Integer[entropy.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> entropy[i]));
        double activationBar = sorted.get((int) Math.rint(flattened.size() * barRatio) - 1);
        List<String> out = new ArrayList<>();
        for (int j = 0; j < topEntropyValue; j++) {
            int row = order[j] / inter, col = order[j] % inter;
            for (int k = 0; k < langNum; k++) {
                if (probs[row][col][k] > activationBar) {
                    out.add(langs.get(k) + "@" + row + ":" + col);
                }
            }
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    /** L·N = 250 at 1 % is 2.5 neurons and |P| = 750 at 95 % is rank 712.5: Python rounds both down to even, Java up. */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void pythonRoundingAsIdentifyPyRoundsIt(EntropySelection.Workspace ws) {
        List<String> langs = List.of("en", "zh", "fr");
        int layers = 2, inter = 125;
        SplittableRandom rng = new SplittableRandom(5);
        long[] n = {1_000_003, 999_983, 1_000_033};
        long[][][] overZero = new long[layers][inter][langs.size()];
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, layers, inter, langs, EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            for (int k = 0; k < langs.size(); k++) {
                s.addTokens(k, n[k]);
                for (int l = 0; l < layers; l++) {
                    for (int i = 0; i < inter; i++) {
                        // a few neurons specific to one language, the rest spread
                        long c = rng.nextInt(10) == 0 && k == i % 3 ? 900_000 + rng.nextInt(90_000) : rng.nextInt(300_000);
                        overZero[l][i][k] = c;
                        s.set(Statistic.COUNT, l, k, i, c);
                    }
                }
            }
            var python = EntropySelection.Params.DEFAULTS.with(EntropySelection.Rounding.PYTHON);
            NeuronSet set = ws.select(s, python);
            assertEquals(identifyPy(overZero, n, langs, 0.01, 0.95, 0.95), flatten(set));
            assertEquals("2", set.params().get("budget"), "round(2.5) = 2 in Python");
            assertEquals("python", set.params().get("rounding"));
            assertEquals("3", ws.select(s, EntropySelection.Params.DEFAULTS).params().get("budget"), "Math.round(2.5) = 3");
        }
    }
}
