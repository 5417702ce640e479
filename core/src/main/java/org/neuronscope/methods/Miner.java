package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * MINER: modality-specific neurons in four stages (METHODS.md §2). Stage 1 (modality separation) is
 * the token groups of the statistics; this class does stage 2 (per-sample importance, min–max
 * normalised per sample, layer, modality and metric), stage 3 (aggregation over samples and
 * datasets) and stage 4 (weighted combination and selection by one of five strategies).
 */
public final class Miner {
    public enum Metric { PROB, MEAN, MAX, ATTN_K, ATTN_Q }

    public enum Strategy { LA_MU, ADAPTIVE, LU_MA, UNIFORM, RANDOM }

    /** Metric weights; defaults prob 0, mean 0.25, max 0.25, attn_k 0.5, attn_q 0. */
    public record Weights(double prob, double mean, double max, double attnK, double attnQ) {
        public static final Weights DEFAULTS = new Weights(0, 0.25, 0.25, 0.5, 0);
        /** A set that needs no attention probabilities. */
        public static final Weights MEAN_MAX = new Weights(0, 0.5, 0.5, 0, 0);

        double of(Metric m) {
            return switch (m) {
                case PROB -> prob;
                case MEAN -> mean;
                case MAX -> max;
                case ATTN_K -> attnK;
                case ATTN_Q -> attnQ;
            };
        }
    }

    /** @param ratio budget K = round(ratio·L·N), default 2 % */
    public record Params(Weights weights, double ratio, Strategy strategy, long seed) {
        public static final Params DEFAULTS = new Params(Weights.DEFAULTS, 0.02, Strategy.LA_MU, 0);

        public Params {
            if (!(ratio > 0 && ratio <= 1)) {
                throw new NeuronScopeException("ratio must be in (0, 1], got " + ratio);
            }
        }

        public Params with(Strategy s) {
            return new Params(weights, ratio, s, seed);
        }

        public Params with(Weights w) {
            return new Params(w, ratio, strategy, seed);
        }

        public Params withRatio(double r) {
            return new Params(weights, r, strategy, seed);
        }
    }

    /**
     * The statistics of one sample, groups = modalities.
     *
     * @param activations COUNT (threshold 0), SUM and MAX of the activations, per modality
     * @param attnK       SUM of w_k[j]·a[j] (column m: weights = attention token j receives from the
     *                    tokens of modality m, head-averaged, summed over those queries); null if unused
     * @param attnQ       likewise with the attention token j pays; null if unused
     */
    public record SampleStatistics(NeuronStatistics activations, NeuronStatistics attnK, NeuronStatistics attnQ) {
    }

    private Miner() {
    }

    /** Stage 2 and 3: per-sample normalised metrics, summed per dataset, combined over datasets. */
    public static final class Aggregator {
        private final int layers;
        private final int neurons;
        private final List<String> modalities;
        private final Map<String, Map<Metric, double[][]>> sums = new LinkedHashMap<>(); // dataset -> metric -> [modality][l*N+n]
        private final Map<String, Integer> samples = new LinkedHashMap<>();
        private final Map<String, boolean[]> occurs = new LinkedHashMap<>();

        public Aggregator(int layers, int neurons, List<String> modalities) {
            this.layers = layers;
            this.neurons = neurons;
            this.modalities = List.copyOf(modalities);
        }

        public List<String> modalities() {
            return modalities;
        }

        /** Adds one sample of a dataset. */
        public void add(String dataset, SampleStatistics sample) {
            NeuronStatistics a = sample.activations();
            if (a.layers() != layers || a.neurons() != neurons) {
                throw new NeuronScopeException("sample statistics of shape " + a.layers() + " x " + a.neurons() + ", expected " + layers + " x " + neurons);
            }
            Map<Metric, double[][]> d = sums.computeIfAbsent(dataset, k -> new EnumMap<>(Metric.class));
            samples.merge(dataset, 1, Integer::sum);
            boolean[] seen = occurs.computeIfAbsent(dataset, k -> new boolean[modalities.size()]);
            for (int mi = 0; mi < modalities.size(); mi++) {
                String m = modalities.get(mi);
                if (!a.groups().contains(m)) {
                    continue;
                }
                int g = a.groupIndex(m);
                long tokens = a.tokens(g);
                if (tokens == 0) {
                    continue;
                }
                seen[mi] = true;
                for (Metric metric : Metric.values()) {
                    NeuronStatistics src = metric == Metric.ATTN_K ? sample.attnK() : metric == Metric.ATTN_Q ? sample.attnQ() : a;
                    if (src == null) {
                        continue;
                    }
                    double[][] acc = d.computeIfAbsent(metric, k -> new double[modalities.size()][layers * neurons]);
                    int gi = src == a ? g : src.groupIndex(m);
                    double[] v = new double[neurons];
                    for (int l = 0; l < layers; l++) {
                        for (int n = 0; n < neurons; n++) {
                            v[n] = switch (metric) {
                                case PROB -> a.get(Statistic.COUNT, l, g, n) / tokens;
                                case MEAN -> a.get(Statistic.SUM, l, g, n) / tokens;
                                case MAX -> a.get(Statistic.MAX, l, g, n);
                                case ATTN_K, ATTN_Q -> src.get(Statistic.SUM, l, gi, n);
                            };
                        }
                        minMaxNormalise(v);
                        for (int n = 0; n < neurons; n++) {
                            acc[mi][l * neurons + n] += v[n];
                        }
                    }
                }
            }
        }

        /** The aggregated score of a metric for a modality, [layer][neuron] (all 0 if never seen). */
        public double[] score(Metric metric, String modality) {
            int mi = modalities.indexOf(modality);
            if (mi < 0) {
                throw new NeuronScopeException("unknown modality " + modality);
            }
            double[] out = new double[layers * neurons];
            int datasetsWith = 0;
            for (var e : sums.entrySet()) {
                if (!occurs.get(e.getKey())[mi]) {
                    continue;
                }
                datasetsWith++;
                double[][] acc = e.getValue().get(metric);
                if (acc == null) {
                    continue;
                }
                int count = samples.get(e.getKey());
                for (int i = 0; i < out.length; i++) {
                    out[i] += acc[mi][i] / count;
                }
            }
            if (datasetsWith > 0) {
                for (int i = 0; i < out.length; i++) {
                    out[i] /= datasetsWith;
                }
            }
            return out;
        }

        boolean hasMetric(Metric m) {
            return sums.values().stream().anyMatch(d -> d.containsKey(m));
        }

        /** W_m = Σ_metric w_metric · score[metric, m]. */
        public double[] combined(String modality, Weights w) {
            double[] out = new double[layers * neurons];
            for (Metric m : Metric.values()) {
                if (w.of(m) == 0) {
                    continue;
                }
                if (!hasMetric(m)) {
                    throw new NeuronScopeException("weight " + w.of(m) + " on " + m + " but no sample supplied it"
                            + (m == Metric.ATTN_K || m == Metric.ATTN_Q ? " (attention statistics)" : ""));
                }
                double[] s = score(m, modality);
                for (int i = 0; i < out.length; i++) {
                    out[i] += w.of(m) * s[i];
                }
            }
            return out;
        }
    }

    /** Min–max normalisation across the neurons of a layer; a constant vector becomes 0. */
    static void minMaxNormalise(double[] v) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        double range = max - min;
        for (int i = 0; i < v.length; i++) {
            v[i] = range > 0 && Double.isFinite(range) ? (v[i] - min) / range : 0.0;
        }
    }

    /** Stage 4. */
    public static NeuronSet select(Aggregator agg, String hookPoint, Params params) {
        int layers = agg.layers;
        int neurons = agg.neurons;
        List<String> mods = agg.modalities;
        int budget = (int) Math.round(params.ratio() * layers * neurons);
        NeuronSet set = new NeuronSet("miner", hookPoint, layers, neurons, Map.of(
                "strategy", params.strategy().name(), "ratio", Double.toString(params.ratio()),
                "weights", params.weights().toString(), "budget", Integer.toString(budget), "seed", Long.toString(params.seed())));
        if (params.strategy() == Strategy.RANDOM) {
            set.ensureGroup("random");
            SplittableRandom rng = new SplittableRandom(params.seed());
            for (int i : RandomBaseline.sample(rng, layers * neurons, budget)) {
                set.add("random", i / neurons, i % neurons, 0);
            }
            return set;
        }
        mods.forEach(set::ensureGroup);
        List<double[]> w = new ArrayList<>();
        for (String m : mods) {
            w.add(agg.combined(m, params.weights()));
        }
        switch (params.strategy()) {
            case LA_MU -> {
                int perModality = (int) Math.round((double) budget / mods.size());
                for (int mi = 0; mi < mods.size(); mi++) {
                    for (int i : Selection.largest(w.get(mi), perModality)) {
                        set.add(mods.get(mi), i / neurons, i % neurons, w.get(mi)[i]);
                    }
                }
            }
            case ADAPTIVE -> {
                double[] total = new double[layers * neurons];
                for (double[] v : w) {
                    for (int i = 0; i < total.length; i++) {
                        total[i] += v[i];
                    }
                }
                for (int i : Selection.largest(total, budget)) {
                    int best = 0;
                    for (int mi = 1; mi < mods.size(); mi++) {
                        if (w.get(mi)[i] > w.get(best)[i]) {
                            best = mi;
                        }
                    }
                    set.add(mods.get(best), i / neurons, i % neurons, w.get(best)[i]);
                }
            }
            case LU_MA -> {
                int perLayer = (int) Math.round((double) budget / layers);
                for (int l = 0; l < layers; l++) {
                    double[] pairs = new double[mods.size() * neurons]; // [modality][neuron]
                    for (int mi = 0; mi < mods.size(); mi++) {
                        System.arraycopy(w.get(mi), l * neurons, pairs, mi * neurons, neurons);
                    }
                    for (int i : Selection.largest(pairs, perLayer)) {
                        set.add(mods.get(i / neurons), l, i % neurons, pairs[i]);
                    }
                }
            }
            case UNIFORM -> {
                int perCell = (int) Math.round((double) budget / (mods.size() * layers));
                for (int mi = 0; mi < mods.size(); mi++) {
                    for (int l = 0; l < layers; l++) {
                        double[] row = java.util.Arrays.copyOfRange(w.get(mi), l * neurons, (l + 1) * neurons);
                        for (int n : Selection.largest(row, perCell)) {
                            set.add(mods.get(mi), l, n, row[n]);
                        }
                    }
                }
            }
            default -> throw new IllegalStateException();
        }
        return set;
    }
}
