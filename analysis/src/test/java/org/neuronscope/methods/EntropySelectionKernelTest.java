package org.neuronscope.methods;

import org.neuronscope.HookPoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.neuronscope.methods.EntropySelectionTest.bruteForce;
import static org.neuronscope.methods.EntropySelectionTest.flatten;

/** The fast kernel's own paths: workspace reuse, ties, every fallback, and its numeric helpers. */
class EntropySelectionKernelTest {
    private static final List<EntropySelection.Params> PARAMS = List.of(EntropySelection.Params.DEFAULTS,
            new EntropySelection.Params(0.05, 0.5, 0.5), new EntropySelection.Params(0.02, 0.9, 0.97), new EntropySelection.Params(0.3, 0.0, 0.2));

    private static void assertMatchesBruteForce(EntropySelection.Workspace ws, NeuronStatistics s, String what) {
        for (EntropySelection.Params p : PARAMS) {
            List<String> want = bruteForce(s, p.topRate(), p.filterPercentile(), p.assignPercentile());
            assertEquals(want, flatten(ws.select(s, p)), what + " " + p);
        }
    }

    private static List<String> groups(int k) {
        List<String> g = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            g.add("g" + i);
        }
        return g;
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void oneWorkspaceServesDifferentShapesInTurn(EntropySelection.Workspace ws) {
        // small (everything sampled), several blocks per layer and a ragged last one, more groups, fewer again
        int[][] shapes = {{2, 300, 3}, {3, 2500, 7}, {1, 5000, 12}, {4, 1100, 2}, {3, 2500, 7}};
        long seed = 11;
        for (int[] shape : shapes) {
            try (NeuronStatistics s = EntropySelectionTest.random(shape[0], shape[1], groups(shape[2]), seed++)) {
                assertMatchesBruteForce(ws, s, Arrays.toString(shape));
                assertEquals(flatten(EntropySelection.select(s, EntropySelection.Params.DEFAULTS)), flatten(ws.select(s, EntropySelection.Params.DEFAULTS)), "static methods");
            }
        }
    }

    /** Few distinct counts: many p equal τ, and neurons whose max p is exactly τ must be dropped. */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void tiesAtThePercentileThreshold(EntropySelection.Workspace ws) {
        for (long seed = 1; seed <= 3; seed++) {
            SplittableRandom rng = new SplittableRandom(seed);
            try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 3, 2000, groups(5), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
                for (int g = 0; g < 5; g++) {
                    s.addTokens(g, 20);
                }
                for (int l = 0; l < 3; l++) {
                    for (int g = 0; g < 5; g++) {
                        for (int n = 0; n < 2000; n++) {
                            s.set(Statistic.COUNT, l, g, n, rng.nextInt(10) < 6 ? 0 : rng.nextInt(4) * 5); // p in {0, .25, .5, .75}
                        }
                    }
                }
                EntropySelection.Result r = ws.compute(s, EntropySelection.Params.DEFAULTS);
                double tau = r.filterThreshold();
                int atTau = 0;
                for (int l = 0; l < 3; l++) {
                    for (int n = 0; n < 2000; n++) {
                        double max = 0;
                        for (int g = 0; g < 5; g++) {
                            max = Math.max(max, s.get(Statistic.COUNT, l, g, n) / 20);
                        }
                        if (max == tau) {
                            atTau++;
                            assertEquals(Double.POSITIVE_INFINITY, r.entropy()[l * 2000 + n], "max p = τ is filtered");
                        }
                    }
                }
                assertTrue(atTau > 0, "the data has neurons whose max p is τ");
                assertMatchesBruteForce(ws, s, "seed " + seed);
            }
        }
    }

    /** Mostly zero counts: τ = 0, the zero values (token-less group included) lie inside the window. */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void zeroThresholdAndAGroupWithoutTokens(EntropySelection.Workspace ws) {
        SplittableRandom rng = new SplittableRandom(5);
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 2, 3000, groups(4), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            for (int g = 0; g < 3; g++) {
                s.addTokens(g, 30);
            }
            for (int l = 0; l < 2; l++) {
                for (int g = 0; g < 4; g++) {
                    for (int n = 0; n < 3000; n++) {
                        // 4 % non-zero: τ (95th percentile of the three groups with tokens) is 0
                        double c = rng.nextInt(25) == 0 ? 1 + rng.nextInt(30) : 0;
                        s.set(Statistic.COUNT, l, g, n, g == 3 ? 0 : c); // no tokens, no counts (counts without tokens are refused)
                    }
                }
            }
            assertEquals(0.0, ws.compute(s, EntropySelection.Params.DEFAULTS).filterThreshold());
            assertMatchesBruteForce(ws, s, "zeros");
        }
    }

    /**
     * Neurons whose counts are permutations of one another have the same entropy up to the last bits
     * (the sums run in group order): the fast logarithm cannot order them, the exact pass must.
     */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void nearTiesBeyondTheFastLogarithmsResolution(EntropySelection.Workspace ws) {
        SplittableRandom rng = new SplittableRandom(8);
        int layers = 2, neurons = 4000, k = 6;
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, layers, neurons, groups(k), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            for (int g = 0; g < k; g++) {
                s.addTokens(g, 1000);
            }
            double[][] patterns = {{990, 13, 7, 3, 1, 0}, {977, 31, 5, 2, 2, 1}, {999, 2, 1, 1, 0, 0}, {900, 500, 3, 2, 1, 1}};
            for (int l = 0; l < layers; l++) {
                for (int n = 0; n < neurons; n++) {
                    double[] pattern = rng.nextInt(3) == 0 ? patterns[rng.nextInt(patterns.length)] : null;
                    for (int g = 0; g < k; g++) {
                        double c = pattern == null ? rng.nextInt(200) : pattern[Math.floorMod(g + n, k)]; // rotated
                        s.set(Statistic.COUNT, l, g, n, c);
                    }
                }
            }
            EntropySelection.Result r = ws.compute(s, EntropySelection.Params.DEFAULTS);
            // the rotations really differ in the last bits somewhere, or the test proves nothing
            boolean differ = false;
            double first = Double.NaN;
            for (int n = 0; n < neurons && !differ; n++) {
                if (s.get(Statistic.COUNT, 0, Math.floorMod(-n, k), n) == 990 && r.entropy()[n] != Double.POSITIVE_INFINITY) {
                    differ = first == first && first != r.entropy()[n];
                    first = r.entropy()[n];
                }
            }
            assertTrue(differ, "rotations of one pattern have entropies differing in the last bits");
            assertMatchesBruteForce(ws, s, "rotations");
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void aWindowThatMissesFallsBackToTheExactPercentile(EntropySelection.Workspace ws) {
        try (NeuronStatistics s = EntropySelectionTest.random(3, 2000, groups(5), 21)) {
            ws.forcedWindow = new double[] {0.0, 1e-9}; // below every plausible τ
            assertMatchesBruteForce(ws, s, "window too low");
            ws.forcedWindow = new double[] {5, 6}; // above every p
            assertMatchesBruteForce(ws, s, "window too high");
            ws.forcedWindow = new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY}; // keeps everything
            assertMatchesBruteForce(ws, s, "window of everything");
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void aCutOffTooLowFallsBackToAllSurvivors(EntropySelection.Workspace ws) {
        try (NeuronStatistics s = EntropySelectionTest.random(3, 2000, groups(5), 22)) {
            for (double cutoff : new double[] {0.0, 1e-3, 0.5}) {
                ws.forcedCutoff = cutoff;
                assertMatchesBruteForce(ws, s, "cut-off " + cutoff);
            }
            ws.forcedCutoff = Double.POSITIVE_INFINITY; // every survivor a candidate from the start
            assertMatchesBruteForce(ws, s, "cut-off ∞");
        }
    }

    /**
     * The pass's own contract, checked neuron by neuron: every neuron whose max p reaches the list
     * threshold and whose exact H is at most the cut-off is a candidate, and every candidate's H is
     * within the pass's error of the exact one. Inputs where the bounds are nearly tight (two groups
     * split almost evenly: collision entropy ≈ H; counts of one value: H = H_2 = ln m) or must not be
     * trusted (S² overflowing), cut-offs at several quantiles of H.
     */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void aPassKeepsEveryNeuronAtOrBelowTheCutOff(EntropySelection.Workspace ws) {
        int layers = 2, neurons = 1500, k = 5;
        for (String kind : List.of("random", "near-even pairs", "uniform subsets", "huge")) {
            SplittableRandom rng = new SplittableRandom(kind.hashCode());
            try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, layers, neurons, groups(k), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
                for (int g = 0; g < k; g++) {
                    s.addTokens(g, 100);
                }
                for (int l = 0; l < layers; l++) {
                    for (int n = 0; n < neurons; n++) {
                        int a = rng.nextInt(k), b = (a + 1 + rng.nextInt(k - 1)) % k, m = 1 + rng.nextInt(k);
                        double split = 0.5 + (rng.nextDouble() - 0.5) * 0.2;
                        for (int g = 0; g < k; g++) {
                            double c = switch (kind) {
                                case "near-even pairs" -> g == a ? Math.rint(100 * split) : g == b ? 100 - Math.rint(100 * split) : 0;
                                case "uniform subsets" -> Math.floorMod(g - a, k) < m ? 60 : 0;
                                case "huge" -> rng.nextInt(101) * 8e153; // S² overflows, Σp² mostly not
                                default -> rng.nextInt(3) == 0 ? rng.nextInt(101) : rng.nextInt(10);
                            };
                            s.set(Statistic.COUNT, l, g, n, c);
                        }
                    }
                }
                double[] exact = new double[layers * neurons], max = new double[layers * neurons], p = new double[k];
                for (int i = 0; i < exact.length; i++) {
                    for (int g = 0; g < k; g++) {
                        p[g] = s.get(Statistic.COUNT, i / neurons, g, i % neurons) / 100;
                    }
                    exact[i] = EntropySelection.entropy(p, k);
                    max[i] = EntropySelection.maxOf(p, k);
                }
                double[] sorted = exact.clone();
                Arrays.sort(sorted);
                EntropySelection.Kernel kernel = new EntropySelection.Kernel(s, EntropySelection.Params.DEFAULTS, ws);
                for (double listLo : new double[] {Double.NEGATIVE_INFINITY, 0.5}) {
                    for (double quantile : new double[] {0.001, 0.01, 0.1, 0.5}) {
                        double cutoff = sorted[(int) (quantile * (sorted.length - 1))];
                        kernel.pass(null, listLo, cutoff);
                        boolean[] candidate = new boolean[exact.length];
                        for (int c = 0; c < kernel.candN; c++) {
                            int i = kernel.candidateIndex(c);
                            candidate[i] = true;
                            assertTrue(Math.abs(kernel.candidateEntropy(c) - exact[i]) <= kernel.candError, kind + ": H of candidate " + i);
                        }
                        for (int i = 0; i < exact.length; i++) {
                            if (exact[i] <= cutoff && max[i] >= listLo) {
                                assertTrue(candidate[i], kind + ": neuron " + i + " (H " + exact[i] + " ≤ " + cutoff + ") is a candidate");
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * A cut-off only just above the budget's exact entropy: every neuron the bounds rule out must
     * really lie above it (a bound too aggressive by more than the slack changes the selection, and
     * with a cut-off this tight the fallback to all survivors does not hide it).
     */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void aTightCutOffLosesNoNeuron(EntropySelection.Workspace ws) {
        for (long seed = 41; seed <= 43; seed++) {
            try (NeuronStatistics s = EntropySelectionTest.random(3, 2600, groups(7), seed)) {
                for (EntropySelection.Params p : PARAMS) {
                    double[] h = ws.compute(s, p).entropy().clone();
                    Arrays.sort(h);
                    int budget = (int) Math.round(p.topRate() * 3 * 2600);
                    if (budget == 0 || !Double.isFinite(h[budget - 1])) {
                        continue;
                    }
                    List<String> want = bruteForce(s, p.topRate(), p.filterPercentile(), p.assignPercentile());
                    for (double slack : new double[] {1e-7, 1e-4, 3e-3, 2e-2}) {
                        ws.forcedCutoff = h[budget - 1] + slack;
                        assertEquals(want, flatten(ws.select(s, p)), "seed " + seed + " " + p + " cut-off + " + slack);
                    }
                    ws.forcedCutoff = Double.NaN;
                }
            }
        }
    }

    /**
     * Counts far outside the range where the float bounds and the fast logarithm are trusted: all of
     * them, or (mixed) only the first 300 neurons of layer 0, which then dominate the filter.
     */
    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void extremeCountsTakeTheExactPaths(EntropySelection.Workspace ws) {
        // 8e153: S² overflows while Σp² mostly does not (the collision bound must not be trusted there)
        for (double scale : new double[] {1e295, 1e-300, 1e-320, 1e37, 1e24, 8e153, 1e-152, -1e37, -1e295, -8e153}) {
            boolean mixed = scale < 0;
            double factor = Math.abs(scale);
            try (NeuronStatistics src = EntropySelectionTest.random(2, 2500, groups(4), 23);
                 NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 2, 2500, groups(4), EnumSet.of(Statistic.COUNT), 0f, 0f)) {
                for (int g = 0; g < 4; g++) {
                    s.addTokens(g, src.tokens(g));
                    for (int l = 0; l < 2; l++) {
                        for (int n = 0; n < 2500; n++) {
                            double c = src.get(Statistic.COUNT, l, g, n);
                            s.set(Statistic.COUNT, l, g, n, !mixed || (l == 0 && n < 300) ? c * factor : c);
                        }
                    }
                }
                assertMatchesBruteForce(ws, s, "scale " + scale);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("org.neuronscope.methods.EntropySelectionTest#kernels")
    void aSharedWorkspaceIsSafeAcrossThreads(EntropySelection.Workspace ws) throws Exception {
        try (NeuronStatistics a = EntropySelectionTest.random(2, 3000, groups(3), 31);
             NeuronStatistics b = EntropySelectionTest.random(3, 1700, groups(6), 32)) {
            List<String> wantA = bruteForce(a, 0.01, 0.95), wantB = bruteForce(b, 0.01, 0.95);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    NeuronStatistics s = i % 2 == 0 ? a : b;
                    List<String> want = i % 2 == 0 ? wantA : wantB;
                    results.add(pool.submit(() -> want.equals(flatten(ws.select(s, EntropySelection.Params.DEFAULTS)))));
                }
                for (Future<Boolean> f : results) {
                    assertTrue(f.get());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void fastLogarithmStaysWithinItsBound() {
        SplittableRandom rng = new SplittableRandom(3);
        double worst = 0;
        List<Double> xs = new ArrayList<>(List.of(1.0, Double.MIN_NORMAL, Math.nextUp(1.0), Math.nextDown(1.0), 0.5, Math.nextDown(2.0), 1 + 1.0 / 256, Math.nextDown(1 + 1.0 / 256), Double.MAX_VALUE));
        for (int i = 0; i < 1_000_000; i++) {
            xs.add(Math.scalb(1 + rng.nextDouble(), rng.nextInt(-1022, 1024)));
            xs.add(rng.nextDouble() + Double.MIN_NORMAL);
        }
        for (double x : xs) {
            worst = Math.max(worst, Math.abs(EntropySelection.lnApprox(x) - Math.log(x)));
        }
        assertTrue(worst <= 4e-13, "max |lnApprox − Math.log| = " + worst);
    }

    @Test
    void theBuildRunsTheVectorKernel() {
        assertTrue(VectorKernels.ENABLED, "tests run with --add-modules jdk.incubator.vector on a CPU with >= 4 double lanes");
        assertTrue(new EntropySelection.Workspace().toString().contains("vector"));
    }

    @Test
    void vectorLogarithmStaysWithinItsBound() {
        SplittableRandom rng = new SplittableRandom(12);
        List<Double> xs = new ArrayList<>(List.of(1.0, Double.MIN_NORMAL, Math.nextUp(1.0), Math.nextDown(1.0), 0.5, Math.nextDown(2.0),
                Math.sqrt(2), Math.nextUp(Math.sqrt(2)), Math.nextDown(Math.sqrt(2)), Math.sqrt(0.5), Math.nextDown(Math.sqrt(0.5)), Double.MAX_VALUE));
        for (int i = 0; i < 400_000; i++) { // a dense sweep of one binade, random binades, p-like values
            xs.add(1 + i / 400_000.0);
            xs.add(Math.scalb(1 + rng.nextDouble(), rng.nextInt(-1022, 1024)));
            xs.add(rng.nextDouble() + Double.MIN_NORMAL);
        }
        double[] x = xs.stream().mapToDouble(Double::doubleValue).toArray();
        double[] ln = EntropyVectorPass.ln(x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            worst = Math.max(worst, Math.abs(ln[i] - Math.log(x[i])));
        }
        assertTrue(worst <= EntropyVectorPass.LN_ERROR, "max |ln − Math.log| = " + worst);
        // anything else: finite and small, so that 0·ln 0 = 0 and tiny p stay tiny
        double[] odd = {0.0, -0.0, Double.MIN_VALUE, Double.MIN_NORMAL / 3, -1.0, -1e300, Double.POSITIVE_INFINITY, Double.NaN};
        for (double v : EntropyVectorPass.ln(odd)) {
            assertTrue(Double.isFinite(v) && Math.abs(v) < 750, "ln of an odd input: " + v);
        }
    }

    @Test
    void countThresholdsAreExactlyTheDivisionsBoundaries() {
        SplittableRandom rng = new SplittableRandom(4);
        for (int i = 0; i < 20_000; i++) {
            double t = i % 3 == 0 ? 1 + rng.nextInt(50) : rng.nextLong(1, 1L << 40);
            double p = switch (i % 4) {
                case 0 -> rng.nextInt((int) Math.min(t, 1000) + 1) / t; // a value that occurs
                case 1 -> rng.nextDouble();
                case 2 -> 0.0;
                default -> rng.nextDouble() * 1e-300;
            };
            double lo = EntropySelection.firstAtLeast(p, t), hi = EntropySelection.lastAtMost(p, t);
            for (double c : new double[] {lo, Math.nextDown(lo), Math.nextUp(lo), hi, Math.nextDown(hi), Math.nextUp(hi), Math.rint(p * t), 0.0}) {
                assertEquals(c / t < p, c < lo, "c < firstAtLeast(" + p + ", " + t + ") for c = " + c);
                assertEquals(c / t <= p, c <= hi, "c ≤ lastAtMost(" + p + ", " + t + ") for c = " + c);
            }
        }
        assertEquals(Double.NEGATIVE_INFINITY, EntropySelection.firstAtLeast(Double.NEGATIVE_INFINITY, 7));
        assertEquals(Double.POSITIVE_INFINITY, EntropySelection.lastAtMost(Double.POSITIVE_INFINITY, 7));
    }
}
