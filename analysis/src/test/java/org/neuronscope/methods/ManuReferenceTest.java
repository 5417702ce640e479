package org.neuronscope.methods;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MANU's reference protocol against a transcription of MANU's code ({@code prune/prune_utility.py}):
 * the importances of every Linear output as {@code collect_feedforward_activations} reduces them
 * (here over the tokens, the library's documented reduction), {@code compute_combined_scores_incremental}'s
 * loops over metrics and layer names, and {@code compute_top_k_pruning_mask}'s concatenation, int(),
 * k-th largest and {@code >=}. The transcription works on raw values, not on the library's sums.
 */
class ManuReferenceTest {
    static final int L = 3, FF = 7, EMBD = 5, T = 12;
    static final String[] MODULES = {"gate_proj", "up_proj", "down_proj"};
    static final HookPoint[] POINTS = {HookPoint.FFN_PRE, HookPoint.FFN_UP, HookPoint.FFN_DOWN};

    /** Raw values [module][layer][unit][token] of one set; a few units copied so that scores tie. */
    static double[][][][] values(long seed, boolean forget) {
        SplittableRandom rng = new SplittableRandom(seed);
        double[][][][] v = new double[3][L][][];
        for (int m = 0; m < 3; m++) {
            int width = m == 2 ? EMBD : FF;
            for (int l = 0; l < L; l++) {
                v[m][l] = new double[width][T];
                for (int u = 0; u < width; u++) {
                    double scale = 0.05 + rng.nextDouble() * (forget && (u + l + m) % 4 == 0 ? 3 : 1);
                    for (int t = 0; t < T; t++) {
                        v[m][l][u][t] = rng.nextGaussian() * scale + (rng.nextDouble() < 0.2 ? 0 : 0.02);
                    }
                }
            }
        }
        // ties: up unit (1, 2) and down unit (2, 0) are copies of gate unit (1, 2), in both sets alike
        v[1][1][2] = v[0][1][2].clone();
        v[2][2][0] = v[0][1][2].clone();
        return v;
    }

    static NeuronStatistics stats(HookPoint h, double[][][] v, String group) {
        int width = v[0].length;
        Map<Statistic, double[][][]> a = new EnumMap<>(Statistic.class);
        for (Statistic s : new Statistic[] {Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.COUNT_ABS}) {
            a.put(s, new double[L][1][width]);
        }
        for (int l = 0; l < L; l++) {
            for (int u = 0; u < width; u++) {
                for (double z : v[l][u]) {
                    a.get(Statistic.SUM)[l][0][u] += z;
                    a.get(Statistic.SUM_SQ)[l][0][u] += z * z;
                    a.get(Statistic.SUM_ABS)[l][0][u] += Math.abs(z);
                    a.get(Statistic.COUNT_ABS)[l][0][u] += Math.abs(z) > 0.1 ? 1 : 0;
                }
            }
        }
        return NeuronStatistics.fromArrays(h, List.of(group), a, new long[] {T}, 0f, 0.1f);
    }

    // ------------------------------------------------------------------ the transcription

    /** final_scores[metric][layer_name]: I_abs, I_freq, I_var, I_rms of every unit (clamped to ±1e3), names as the code's hooks. */
    static Map<String, Map<String, double[]>> finalScores(double[][][][] v, int modules) {
        Map<String, Map<String, double[]>> out = new LinkedHashMap<>();
        for (String metric : List.of("I_abs", "I_freq", "I_var", "I_rms")) {
            out.put(metric, new LinkedHashMap<>());
        }
        for (int l = 0; l < L; l++) { // registration order: for each layer gate_proj, up_proj, down_proj
            for (int m = 3 - modules; m < 3; m++) {
                String name = "lang_" + MODULES[m] + "_" + l;
                int width = v[m][l].length;
                double[] abs = new double[width], freq = new double[width], var = new double[width], rms = new double[width];
                for (int u = 0; u < width; u++) {
                    double sa = 0, sf = 0, s = 0, sq = 0;
                    for (double raw : v[m][l][u]) {
                        double z = Math.max(-1e3, Math.min(1e3, raw)); // clamp(min=-1e3, max=1e3)
                        sa += Math.abs(z);
                        sf += Math.abs(z) > 1e-1 ? 1 : 0;
                        s += z;
                        sq += z * z;
                    }
                    double mean = s / T;
                    abs[u] = sa / T;
                    freq[u] = sf / T;
                    double dev = 0;
                    for (double raw : v[m][l][u]) {
                        double z = Math.max(-1e3, Math.min(1e3, raw));
                        dev += (z - mean) * (z - mean);
                    }
                    var[u] = Math.sqrt(dev / T);
                    rms[u] = Math.sqrt(sq / T);
                }
                out.get("I_abs").put(name, abs);
                out.get("I_freq").put(name, freq);
                out.get("I_var").put(name, var);
                out.get("I_rms").put(name, rms);
            }
        }
        return out;
    }

    /** compute_combined_scores_incremental: for metric, for layer_name: combined += w·(f/(r + eps) − 1). */
    static Map<String, double[]> combined(Map<String, Map<String, double[]>> forget, Map<String, Map<String, double[]>> retain) {
        Map<String, Double> weights = Map.of("I_abs", 2.0, "I_freq", 0.0, "I_var", 2.0, "I_rms", 2.0);
        double epsilon = 1e-5;
        Map<String, double[]> combined = new LinkedHashMap<>();
        for (String metric : forget.keySet()) {
            for (String layer : forget.get(metric).keySet()) {
                double[] f = forget.get(metric).get(layer), r = retain.get(metric).get(layer);
                double[] c = new double[f.length];
                for (int i = 0; i < f.length; i++) {
                    c[i] = weights.get(metric) * (f[i] / (r[i] + epsilon) - 1);
                }
                if (!combined.containsKey(layer)) {
                    combined.put(layer, c);
                } else {
                    double[] acc = combined.get(layer);
                    for (int i = 0; i < acc.length; i++) {
                        acc[i] += c[i];
                    }
                }
            }
        }
        return combined;
    }

    /** compute_top_k_pruning_mask: cat, k = int(pct/100·numel), topk(...)[-1] as threshold, mask = scores >= threshold. */
    static Map<String, boolean[]> mask(Map<String, double[]> combined, double topKPercent) {
        List<Double> all = new ArrayList<>();
        combined.values().forEach(s -> {
            for (double x : s) {
                all.add(x);
            }
        });
        int k = (int) ((topKPercent / 100) * all.size());
        List<Double> sorted = new ArrayList<>(all);
        sorted.sort((a, b) -> Double.compare(b, a)); // torch.topk(largest=True)
        double threshold = sorted.get(k - 1);
        Map<String, boolean[]> masks = new LinkedHashMap<>();
        combined.forEach((name, s) -> {
            boolean[] m = new boolean[s.length];
            for (int i = 0; i < s.length; i++) {
                m[i] = s[i] >= threshold;
            }
            masks.put(name, m);
        });
        return masks;
    }

    // ------------------------------------------------------------------ the tests

    static TreeSet<String> pruned(Map<String, boolean[]> masks) {
        TreeSet<String> out = new TreeSet<>();
        masks.forEach((name, m) -> {
            for (int i = 0; i < m.length; i++) {
                if (m[i]) {
                    out.add(name + ":" + i);
                }
            }
        });
        return out;
    }

    static TreeSet<String> selected(Map<HookPoint, NeuronSet> sets) {
        TreeSet<String> out = new TreeSet<>();
        sets.forEach((h, set) -> {
            String module = MODULES[List.of(POINTS).indexOf(h)];
            set.neurons("forget").forEach(n -> out.add("lang_" + module + "_" + n.layer() + ":" + n.neuron()));
        });
        return out;
    }

    private static Map<HookPoint, NeuronStatistics> statsOf(double[][][][] v, String group, int modules) {
        Map<HookPoint, NeuronStatistics> m = new LinkedHashMap<>();
        for (int i = 3 - modules; i < 3; i++) {
            m.put(POINTS[i], stats(POINTS[i], v[i], group));
        }
        return m;
    }

    @Test
    void gateUpDownPooledAsTheCodeCutsThem() {
        double[][][][] f = values(11, true), r = values(12, false);
        Map<String, double[]> combined = combined(finalScores(f, 3), finalScores(r, 3));
        Map<HookPoint, NeuronStatistics> fs = statsOf(f, "forget", 3), rs = statsOf(r, "retain", 3);
        int units = L * (2 * FF + EMBD);
        boolean sawTie = false, sawUnevenModules = false;
        // a budget whose threshold is the planted tie: k ends at the first of the three copies
        List<Double> desc = new ArrayList<>();
        combined.values().forEach(a -> {
            for (double x : a) {
                desc.add(x);
            }
        });
        desc.sort((a, b) -> Double.compare(b, a));
        int firstCopy = desc.indexOf(combined.get("lang_gate_proj_1")[2]);
        double atTie = (firstCopy + 1.5) / units * 100;
        for (double percent : new double[] {2, 5, 10, 12.5, 20, 33, 50, 100, atTie}) {
            Manu.Params p = new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.CODE, percent / 100);
            TreeSet<String> want = pruned(mask(combined, percent));
            Map<HookPoint, NeuronSet> got = Manu.selectReference(fs, "forget", rs, "retain", p, "forget");
            assertEquals(want, selected(got), percent + " %");
            int k = (int) ((percent / 100) * units);
            sawTie |= want.size() > k;
            for (NeuronSet s : got.values()) {
                assertEquals("reference", s.params().get("protocol"));
                assertEquals("ffn.pre,ffn.up,ffn.down", s.params().get("units"));
                assertEquals(Integer.toString(units), s.params().get("pooled_units"));
                assertEquals(Integer.toString(k), s.params().get("budget"));
                // the per-module cut of the specification would take int(α·L·width) of each module: the pooled one does not
                sawUnevenModules |= s.size("forget") != (int) (percent / 100 * s.layers() * s.neurons());
            }
        }
        assertTrue(sawTie, "the planted copies tie at some threshold, and the >= takes them all");
        assertTrue(sawUnevenModules, "pooling lets modules compete for the budget");
    }

    @Test
    void nonGatedScoresUpAndDownOnly() {
        double[][][][] f = values(21, true), r = values(22, false);
        Map<String, double[]> combined = combined(finalScores(f, 2), finalScores(r, 2));
        for (double percent : new double[] {5, 15}) {
            Map<HookPoint, NeuronSet> got = Manu.selectReference(statsOf(f, "forget", 2), "forget", statsOf(r, "retain", 2), "retain",
                    new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.CODE, percent / 100), "forget");
            assertEquals(pruned(mask(combined, percent)), selected(got), percent + " %");
            assertEquals(List.of(HookPoint.FFN_UP, HookPoint.FFN_DOWN), List.copyOf(got.keySet()));
        }
        // against the three-module pool, the two-module one is a different cut (the transcriptions differ too)
        assertNotEquals(pruned(mask(combined(finalScores(f, 3), finalScores(r, 3)), 15)), pruned(mask(combined, 15)));
    }

    @Test
    void refusesWhatTheCodeDoesNotScore() {
        double[][][][] f = values(31, true), r = values(32, false);
        Manu.Params p = Manu.Params.DEFAULTS;
        Map<HookPoint, NeuronStatistics> upOnly = new LinkedHashMap<>(Map.of(HookPoint.FFN_UP, stats(HookPoint.FFN_UP, f[1], "forget")));
        Map<HookPoint, NeuronStatistics> upOnlyR = new LinkedHashMap<>(Map.of(HookPoint.FFN_UP, stats(HookPoint.FFN_UP, r[1], "retain")));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Manu.selectReference(upOnly, "forget", upOnlyR, "retain", p, "forget"))
                .getMessage().contains("ffn.down"));
        Map<HookPoint, NeuronStatistics> fs = statsOf(f, "forget", 3), rs = statsOf(r, "retain", 3);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Manu.selectReference(fs, "forget", rs, "retain",
                new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.PAPER, 0.02), "forget")).getMessage().contains("CODE"));
        Map<HookPoint, NeuronStatistics> withAct = new LinkedHashMap<>(fs);
        withAct.put(HookPoint.FFN_ACT, stats(HookPoint.FFN_ACT, f[0], "forget"));
        Map<HookPoint, NeuronStatistics> withActR = new LinkedHashMap<>(rs);
        withActR.put(HookPoint.FFN_ACT, stats(HookPoint.FFN_ACT, r[0], "retain"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Manu.selectReference(withAct, "forget", withActR, "retain", p, "forget"))
                .getMessage().contains("ffn.act"));
        // statistics filed under the wrong point
        Map<HookPoint, NeuronStatistics> swapped = new LinkedHashMap<>(fs);
        swapped.put(HookPoint.FFN_PRE, stats(HookPoint.FFN_UP, f[0], "forget"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Manu.selectReference(swapped, "forget", rs, "retain", p, "forget"))
                .getMessage().contains("collected at"));
    }
}
