package org.neuronscope.methods;

import org.neuronscope.HookPoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MinerManuTest {
    static final List<String> MODS = List.of("text", "image", "audio");
    static final int L = 4, N = 500;

    static NeuronStatistics sample(SplittableRandom rng, List<String> mods) {
        NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, L, N, mods, EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.MAX), 0f, 0.1f);
        for (int g = 0; g < mods.size(); g++) {
            int tokens = 5 + rng.nextInt(40);
            s.addTokens(g, tokens);
            for (int l = 0; l < L; l++) {
                for (int n = 0; n < N; n++) {
                    s.set(Statistic.COUNT, l, g, n, rng.nextInt(tokens + 1));
                    s.set(Statistic.SUM, l, g, n, rng.nextGaussian() * tokens);
                    s.set(Statistic.MAX, l, g, n, rng.nextDouble() * 4);
                }
            }
        }
        return s;
    }

    @Test
    void aggregationMatchesAStraightforwardImplementation() {
        SplittableRandom rng = new SplittableRandom(5);
        Miner.Aggregator agg = new Miner.Aggregator(L, N, MODS);
        // dataset A: 3 samples with text+image; dataset B: 2 samples with text+audio
        NeuronStatistics[] a = {sample(rng, List.of("text", "image")), sample(rng, List.of("text", "image")), sample(rng, List.of("text", "image"))};
        NeuronStatistics[] b = {sample(rng, List.of("text", "audio")), sample(rng, List.of("text", "audio"))};
        for (NeuronStatistics s : a) {
            agg.add("A", new Miner.SampleStatistics(s, null, null));
        }
        for (NeuronStatistics s : b) {
            agg.add("B", new Miner.SampleStatistics(s, null, null));
        }
        // brute force for MEAN of text (in both datasets) and MAX of image (only A)
        double[] textMean = new double[L * N];
        for (NeuronStatistics[] ds : new NeuronStatistics[][] {a, b}) {
            for (NeuronStatistics s : ds) {
                int g = s.groupIndex("text");
                for (int l = 0; l < L; l++) {
                    double[] v = new double[N];
                    for (int n = 0; n < N; n++) {
                        v[n] = s.get(Statistic.SUM, l, g, n) / s.tokens(g);
                    }
                    double min = Arrays.stream(v).min().orElseThrow(), max = Arrays.stream(v).max().orElseThrow();
                    for (int n = 0; n < N; n++) {
                        textMean[l * N + n] += (v[n] - min) / (max - min) / ds.length / 2; // per-dataset mean, over 2 datasets
                    }
                }
            }
        }
        assertArrayEquals(textMean, agg.score(Miner.Metric.MEAN, "text"), 1e-12);
        double[] imageMax = agg.score(Miner.Metric.MAX, "image");
        double[] audioProb = agg.score(Miner.Metric.PROB, "audio");
        for (int i = 0; i < L * N; i++) {
            assertTrue(imageMax[i] >= 0 && imageMax[i] <= 1);
            assertTrue(audioProb[i] >= 0 && audioProb[i] <= 1);
        }
        // min-max per (sample, layer): the aggregate of image (3 samples of one dataset) reaches 1 only where
        // one neuron was the maximum of every sample, and stays > 0 wherever one sample was above its minimum
        assertTrue(Arrays.stream(imageMax, 0, N).max().orElseThrow() <= 1.0);
        assertTrue(Arrays.stream(imageMax, 0, N).filter(v -> v > 0).count() >= N - 3);

        // the default weights need attention statistics; mean+max does not
        assertThrows(IllegalArgumentException.class, () -> Miner.select(agg, HookPoint.FFN_ACT, Miner.Params.DEFAULTS));
        Miner.Params meanMax = Miner.Params.DEFAULTS.with(Miner.Weights.MEAN_MAX);
        int K = (int) Math.round(0.02 * L * N);

        NeuronSet lamu = Miner.select(agg, HookPoint.FFN_ACT, meanMax);
        for (String m : MODS) {
            assertEquals(Math.round((double) K / MODS.size()), lamu.size(m), "LA_MU: K/M per modality");
        }
        double[] wText = agg.combined("text", Miner.Weights.MEAN_MAX);
        double cut = lamu.neurons("text").stream().mapToDouble(NeuronSet.Neuron::score).min().orElseThrow();
        assertEquals(lamu.size("text"), Arrays.stream(wText).filter(w -> w > cut).count() + Arrays.stream(wText).filter(w -> w == cut).limit(1).count());

        NeuronSet adaptive = Miner.select(agg, HookPoint.FFN_ACT, meanMax.with(Miner.Strategy.ADAPTIVE));
        assertEquals(K, adaptive.size(), "ADAPTIVE: K neurons, each in one modality");
        assertEquals(K, MODS.stream().mapToInt(adaptive::size).sum());

        NeuronSet luma = Miner.select(agg, HookPoint.FFN_ACT, meanMax.with(Miner.Strategy.LU_MA));
        for (int l = 0; l < L; l++) {
            int inLayer = 0;
            for (String m : MODS) {
                inLayer += luma.neurons(m, l).length;
            }
            assertEquals(Math.round((double) K / L), inLayer, "LU_MA: K/L pairs per layer");
        }
        NeuronSet uniform = Miner.select(agg, HookPoint.FFN_ACT, meanMax.with(Miner.Strategy.UNIFORM).withRatio(0.06));
        for (String m : MODS) {
            for (int l = 0; l < L; l++) {
                assertEquals(Math.round(0.06 * L * N / (MODS.size() * L)), uniform.neurons(m, l).length, "UNIFORM per (layer, modality)");
            }
        }
        NeuronSet r1 = Miner.select(agg, HookPoint.FFN_ACT, meanMax.with(Miner.Strategy.RANDOM));
        NeuronSet r2 = Miner.select(agg, HookPoint.FFN_ACT, meanMax.with(Miner.Strategy.RANDOM));
        assertEquals(K, r1.size("random"));
        assertEquals(r1.describe("random"), r2.describe("random"), "seeded");
    }

    @Test
    void manuScoresFollowTheFormulas() {
        int layers = 2, neurons = 300;
        SplittableRandom rng = new SplittableRandom(3);
        double[][][] forgetValues = new double[layers][neurons][];
        double[][][] retainValues = new double[layers][neurons][];
        NeuronStatistics f = new NeuronStatistics(HookPoint.FFN_POST, layers, neurons, List.of("forget"),
                EnumSet.of(Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.COUNT_ABS), 0f, 0.1f);
        NeuronStatistics r = new NeuronStatistics(HookPoint.FFN_POST, layers, neurons, List.of("retain"),
                EnumSet.of(Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.COUNT_ABS), 0f, 0.1f);
        f.addTokens(0, 40);
        r.addTokens(0, 40);
        for (int l = 0; l < layers; l++) {
            for (int n = 0; n < neurons; n++) {
                forgetValues[l][n] = fill(f, l, n, rng, n % 7 == 0 ? 3.0 : 0.5);
                retainValues[l][n] = fill(r, l, n, rng, 0.5);
            }
        }
        Map<Manu.Metric, double[]> fi = Manu.importance(f, 0);
        Map<Manu.Metric, double[]> ri = Manu.importance(r, 0);
        double[] s = Manu.scores(fi, ri, Manu.Params.DEFAULTS);
        double[] paper = Manu.scores(fi, ri, new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.PAPER, 0.02));
        for (int l = 0; l < layers; l++) {
            for (int n = 0; n < neurons; n++) {
                Map<Manu.Metric, Double> bf = Manu.importanceOfValues(forgetValues[l][n]);
                Map<Manu.Metric, Double> br = Manu.importanceOfValues(retainValues[l][n]);
                int i = l * neurons + n;
                for (Manu.Metric m : Manu.Metric.values()) {
                    assertEquals(bf.get(m), fi.get(m)[i], 1e-9, m + " from sums vs raw values");
                }
                double expected = 2 * (bf.get(Manu.Metric.ABS) / (br.get(Manu.Metric.ABS) + 1e-5) - 1)
                        + 2 * (bf.get(Manu.Metric.VAR) / (br.get(Manu.Metric.VAR) + 1e-5) - 1)
                        + 2 * (bf.get(Manu.Metric.RMS) / (br.get(Manu.Metric.RMS) + 1e-5) - 1);
                assertEquals(expected, s[i], 1e-9);
                double sumF = bf.values().stream().mapToDouble(Double::doubleValue).sum();
                double sumR = br.values().stream().mapToDouble(Double::doubleValue).sum();
                assertEquals(sumF / (sumR + 1e-5), paper[i], 1e-9);
            }
        }
        NeuronSet pruned = Manu.select(f, 0, r, 0, Manu.Params.DEFAULTS, "forget");
        assertEquals(Math.round(0.02 * layers * neurons), pruned.size("forget"));
        assertTrue(pruned.neurons("forget").stream().allMatch(x -> x.neuron() % 7 == 0), "the planted forget-heavy neurons score highest");
        // the ±1000 clamp and the 1e-5 epsilon
        Map<Manu.Metric, Double> clamped = Manu.importanceOfValues(new double[] {5000, -5000});
        assertEquals(1000, clamped.get(Manu.Metric.ABS), 0);
        assertEquals(1000, clamped.get(Manu.Metric.RMS), 0);
        assertEquals(1000, clamped.get(Manu.Metric.VAR), 0);
        Map<Manu.Metric, double[]> zero = Map.of(Manu.Metric.ABS, new double[] {0}, Manu.Metric.FREQ, new double[] {0},
                Manu.Metric.VAR, new double[] {0}, Manu.Metric.RMS, new double[] {0});
        Map<Manu.Metric, double[]> one = Map.of(Manu.Metric.ABS, new double[] {1}, Manu.Metric.FREQ, new double[] {1},
                Manu.Metric.VAR, new double[] {1}, Manu.Metric.RMS, new double[] {1});
        assertEquals(6 * (1 / 1e-5 - 1), Manu.scores(one, zero, Manu.Params.DEFAULTS)[0], 1e-6);
    }

    /**
     * MANU's code cut (compute_top_k_pruning_mask, transcribed): k = int(percent/100·count), the k-th
     * largest score is the threshold, and every unit scoring at least that is pruned — ties included.
     */
    @Test
    void manuReferenceCutFloorsAndKeepsTiesAtTheThreshold() {
        int layers = 2, neurons = 250, size = layers * neurons;
        SplittableRandom rng = new SplittableRandom(8);
        Set<Statistic> sums = EnumSet.of(Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.COUNT_ABS);
        try (NeuronStatistics f = new NeuronStatistics(HookPoint.FFN_PRE, layers, neurons, List.of("forget"), sums, 0f, 0.1f);
             NeuronStatistics r = new NeuronStatistics(HookPoint.FFN_PRE, layers, neurons, List.of("retain"), sums, 0f, 0.1f)) {
            f.addTokens(0, 40);
            r.addTokens(0, 40);
            for (int l = 0; l < layers; l++) {
                for (int n = 0; n < neurons; n++) {
                    boolean hot = n % 10 == 0; // 50 neurons with identical statistics: one tied score at the top
                    double a = hot ? 120 : 10 + rng.nextDouble() * 30;
                    f.set(Statistic.SUM, l, 0, n, a);
                    f.set(Statistic.SUM_ABS, l, 0, n, a);
                    f.set(Statistic.SUM_SQ, l, 0, n, hot ? 900 : a * a / 20);
                    f.set(Statistic.COUNT_ABS, l, 0, n, hot ? 40 : 20);
                    double b = hot ? 20 : 10 + rng.nextDouble() * 30;
                    r.set(Statistic.SUM, l, 0, n, b);
                    r.set(Statistic.SUM_ABS, l, 0, n, b);
                    r.set(Statistic.SUM_SQ, l, 0, n, hot ? 100 : b * b / 20);
                    r.set(Statistic.COUNT_ABS, l, 0, n, 20);
                }
            }
            double[] scores = Manu.scores(Manu.importance(f, 0), Manu.importance(r, 0), Manu.Params.DEFAULTS);
            for (double alpha : new double[] {0.02, 0.025, 0.15}) {
                Manu.Params exact = new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.CODE, alpha);
                Manu.Params reference = exact.with(Manu.Cut.REFERENCE);
                // the transcription
                int k = (int) (alpha * size);
                double[] sorted = scores.clone();
                java.util.Arrays.sort(sorted);
                double threshold = sorted[size - k];
                Set<String> want = new java.util.TreeSet<>();
                for (int i = 0; i < size; i++) {
                    if (scores[i] >= threshold) {
                        want.add(i / neurons + ":" + i % neurons);
                    }
                }
                NeuronSet got = Manu.select(f, 0, r, 0, reference, "forget");
                Set<String> have = new java.util.TreeSet<>();
                got.neurons("forget").forEach(x -> have.add(x.layer() + ":" + x.neuron()));
                assertEquals(want, have, "alpha " + alpha);
                assertEquals("reference", got.params().get("cut"));
                assertEquals(Long.toString(k), got.params().get("budget"));
                assertEquals(Math.round(alpha * size), Manu.select(f, 0, r, 0, exact, "forget").size("forget"), "the exact cut");
            }
            assertEquals(50, Manu.select(f, 0, r, 0, Manu.Params.DEFAULTS.with(Manu.Cut.REFERENCE), "forget").size("forget"),
                    "k = 10, but all 50 tied neurons score the threshold");
        }
    }

    @Test
    void manuHandCheckedAndPerGroup() {
        // forget tokens z = {2, -2, 0.05}: I_abs = 4.05/3, I_freq = 2/3, I_rms = sqrt(8.0025/3), I_var = sqrt(8.0025/3 - (0.05/3)^2)
        Map<Manu.Metric, Double> f = Manu.importanceOfValues(new double[] {2, -2, 0.05});
        assertEquals(4.05 / 3, f.get(Manu.Metric.ABS), 1e-15);
        assertEquals(2.0 / 3, f.get(Manu.Metric.FREQ), 1e-15);
        assertEquals(Math.sqrt(8.0025 / 3), f.get(Manu.Metric.RMS), 1e-15);
        assertEquals(Math.sqrt(8.0025 / 3 - Math.pow(0.05 / 3, 2)), f.get(Manu.Metric.VAR), 1e-15);
        // two groups, one neuron each layer that only the forget set of group "text" drives
        double[][][] sum = new double[2][2][20], sq = new double[2][2][20], abs = new double[2][2][20], cnt = new double[2][2][20];
        for (int l = 0; l < 2; l++) {
            for (int g = 0; g < 2; g++) {
                for (int n = 0; n < 20; n++) {
                    sq[l][g][n] = 10;
                    abs[l][g][n] = 10;
                    cnt[l][g][n] = 10;
                }
            }
        }
        double[][][] fsq = new double[2][2][20], fabs = new double[2][2][20];
        for (int l = 0; l < 2; l++) {
            for (int g = 0; g < 2; g++) {
                fsq[l][g] = sq[l][g].clone();
                fabs[l][g] = abs[l][g].clone();
            }
        }
        fsq[1][0][4] = 1000;
        fabs[1][0][4] = 100;  // "text" group, layer 1, neuron 4
        fsq[0][1][7] = 1000;
        fabs[0][1][7] = 100;  // "image+text" group, layer 0, neuron 7
        List<String> groups = List.of("text", "image+text");
        try (NeuronStatistics forget = NeuronStatistics.fromArrays(HookPoint.FFN_POST, groups,
                Map.of(Statistic.SUM, sum, Statistic.SUM_SQ, fsq, Statistic.SUM_ABS, fabs, Statistic.COUNT_ABS, cnt), new long[] {10, 10}, 0f, 0.1f);
             NeuronStatistics retain = NeuronStatistics.fromArrays(HookPoint.FFN_POST, groups,
                     Map.of(Statistic.SUM, sum, Statistic.SUM_SQ, sq, Statistic.SUM_ABS, abs, Statistic.COUNT_ABS, cnt), new long[] {10, 10}, 0f, 0.1f)) {
            NeuronSet set = Manu.select(forget, retain, new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.CODE, 0.025)); // 1 of 40 per group
            assertEquals("[1:4]", set.describe("text"));
            assertEquals("[0:7]", set.describe("image+text"));
            double expected = 2 * (10 / (1 + 1e-5) - 1) + 2 * (Math.sqrt(100) / (1 + 1e-5) - 1) + 2 * (Math.sqrt(100) / (1 + 1e-5) - 1);
            assertEquals(expected, set.neurons("text").get(0).score(), 1e-9, "abs 10/1, var sqrt(100)/1, rms sqrt(100)/1");
        }
        // sums of unclamped values are refused when MAX proves a value beyond ±1000
        try (NeuronStatistics s = NeuronStatistics.fromArrays(HookPoint.FFN_POST, List.of("f"), Map.of(Statistic.SUM, new double[][][] {{{1}}},
                Statistic.SUM_SQ, new double[][][] {{{1}}}, Statistic.SUM_ABS, new double[][][] {{{1}}}, Statistic.COUNT_ABS, new double[][][] {{{1}}},
                Statistic.MAX, new double[][][] {{{1500}}}), new long[] {1}, 0f, 0.1f)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> Manu.importance(s, 0)).getMessage().contains("1000"));
        }
        Map<Manu.Metric, double[]> big = Map.of(Manu.Metric.ABS, new double[] {1e9}, Manu.Metric.FREQ, new double[] {1},
                Manu.Metric.VAR, new double[] {0}, Manu.Metric.RMS, new double[] {0});
        assertEquals((1e9 + 1) / (1 + 1e-5), Manu.scores(big, Map.of(Manu.Metric.ABS, new double[] {1}, Manu.Metric.FREQ, new double[] {0},
                Manu.Metric.VAR, new double[] {0}, Manu.Metric.RMS, new double[] {0}), new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.PAPER, 0.02))[0], 1e-3,
                "paper variant: ΣI_f / (ΣI_r + ε)");
    }

    private static double[] fill(NeuronStatistics s, int l, int n, SplittableRandom rng, double scale) {
        double[] z = new double[40];
        double sum = 0, sq = 0, abs = 0, cnt = 0;
        for (int t = 0; t < z.length; t++) {
            z[t] = rng.nextGaussian() * scale + (scale > 1 ? 1 : 0);
            sum += z[t];
            sq += z[t] * z[t];
            abs += Math.abs(z[t]);
            cnt += Math.abs(z[t]) > 0.1 ? 1 : 0;
        }
        s.set(Statistic.SUM, l, 0, n, sum);
        s.set(Statistic.SUM_SQ, l, 0, n, sq);
        s.set(Statistic.SUM_ABS, l, 0, n, abs);
        s.set(Statistic.COUNT_ABS, l, 0, n, cnt);
        return z;
    }

    @Test
    void neuronSetsAndStatisticsRoundTripOnDisk(@TempDir Path tmp) throws Exception {
        NeuronSet set = new NeuronSet("lape", HookPoint.FFN_ACT, 3, 10, Map.of("top_rate", "0.01"));
        set.add("en", 0, 3, 0.5).add("en", 2, 1, 0.25).add("fr", 2, 1, 0.25).add("fr", 1, 9, 0.1);
        set.save(tmp.resolve("set.json"));
        NeuronSet back = NeuronSet.load(tmp.resolve("set.json"));
        assertEquals(set.describe("en"), back.describe("en"));
        assertEquals(set.describe("fr"), back.describe("fr"));
        assertEquals(Map.of("top_rate", "0.01"), back.params());
        NeuronSet.Overlap o = back.overlap("en", "fr");
        assertEquals(1, o.shared());
        assertEquals(1.0 / 3, o.jaccard(), 1e-12);
        NeuronSet random = RandomBaseline.matching(back, "fr", 1, true);
        assertArrayEquals(back.perLayerCounts("fr"), random.perLayerCounts("fr"));
        assertEquals(RandomBaseline.matching(back, "fr", 1, true).describe("fr"), random.describe("fr"));

        SplittableRandom rng = new SplittableRandom(1);
        try (NeuronStatistics s = sample(rng, MODS); NeuronStatistics t = sample(rng, MODS)) {
            s.save(tmp.resolve("stats"));
            try (NeuronStatistics loaded = NeuronStatistics.load(tmp.resolve("stats"))) {
                for (Statistic st : s.statistics()) {
                    assertArrayEquals(s.segment(st).toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE),
                            loaded.segment(st).toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE));
                }
                loaded.merge(t);
                assertEquals(s.tokens(1) + t.tokens(1), loaded.tokens(1));
                assertEquals(s.get(Statistic.SUM, 2, 1, 7) + t.get(Statistic.SUM, 2, 1, 7), loaded.get(Statistic.SUM, 2, 1, 7), 1e-9);
                assertEquals(Math.max(s.get(Statistic.MAX, 1, 0, 3), t.get(Statistic.MAX, 1, 0, 3)), loaded.get(Statistic.MAX, 1, 0, 3));
            }
            // numpy's header: magic, version 1.0, a dict naming dtype and shape
            byte[] npy = java.nio.file.Files.readAllBytes(tmp.resolve("stats").resolve("count.npy"));
            String header = new String(npy, 10, 118, java.nio.charset.StandardCharsets.US_ASCII);
            assertTrue(header.contains("'descr': '<f8'") && header.contains("'shape': (4, 3, 500)"), header);
        }
    }
}
