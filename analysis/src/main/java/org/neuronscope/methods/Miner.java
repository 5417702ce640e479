package org.neuronscope.methods;

import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Set;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * MINER: modality-specific neurons in four stages (docs/METHODS.md §2). Stage 1 (modality separation) is
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

        public Weights {
            for (double v : new double[] {prob, mean, max, attnK, attnQ}) {
                if (!Double.isFinite(v)) {
                    throw new IllegalArgumentException("MINER weights must be finite: " + this);
                }
            }
        }

        /**
         * The text form of the command line's {@code --weights}: {@code defaults}, {@code mean-max}, or
         * metric=weight pairs of prob, mean, max, attn_k, attn_q (metrics not named weigh 0).
         */
        public static Weights parse(String text) {
            switch (text) {
                case "defaults":
                    return DEFAULTS;
                case "mean-max":
                    return MEAN_MAX;
                default:
                    break;
            }
            Map<String, Double> w = new java.util.HashMap<>();
            for (String part : text.split(",")) {
                String[] kv = part.split("=", 2);
                String k = kv[0].strip().toLowerCase(java.util.Locale.ROOT);
                if (kv.length != 2 || !List.of("prob", "mean", "max", "attn_k", "attn_q").contains(k)) {
                    throw new IllegalArgumentException("--weights must be defaults, mean-max or metric=weight pairs of prob, mean, max, attn_k, attn_q; got "
                            + text);
                }
                try {
                    w.put(k, Double.parseDouble(kv[1].strip()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--weights: '" + kv[1] + "' is not a number (in " + text + ")");
                }
            }
            return new Weights(w.getOrDefault("prob", 0.0), w.getOrDefault("mean", 0.0), w.getOrDefault("max", 0.0),
                    w.getOrDefault("attn_k", 0.0), w.getOrDefault("attn_q", 0.0));
        }

        /** Whether a weight needs attention probabilities (attn_k or attn_q). */
        public boolean needsAttention() {
            return attnK != 0 || attnQ != 0;
        }

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

    /**
     * How stage 4 turns the ratio into budgets and draws the random baseline.
     * <ul>
     * <li>{@code SPECIFICATION}: K = round(ratio·L·N) and round(K/M), round(K/L), round(K/(M·L));
     *     RANDOM draws K distinct neurons.</li>
     * <li>{@code REFERENCE}: as MINER's released code ({@code utils/func.py}, stage 4): K = int(ratio·L·N)
     *     and K // M, K // L, K // (M·L), floored; RANDOM draws K pairs (randint(0, L−1),
     *     randint(0, N−1)) <em>with replacement</em> from Python's {@code random} seeded with the seed
     *     (the code's is 2024), so repeated pairs make the set smaller than K. The draws equal the
     *     reference's when nothing else consumed Python's generator after {@code set_seed}.</li>
     * </ul>
     * Not reproduced under REFERENCE: the code's UNIFORM takes each layer's top from an L×N matrix
     * that is zero elsewhere (zeros of other layers can tie into it, in torch.topk's unspecified order).
     * M counts the modalities that occur, as the code's aggregation drops those never seen.
     */
    public enum Stage4 { SPECIFICATION, REFERENCE }

    /**
     * Which attention the attn_k and attn_q metrics of stage 2 weight the activations with (the
     * collector computes them: {@code MinerCollector}).
     * <ul>
     * <li>{@code SPECIFICATION}: the model's own head-averaged (causal) attention probabilities A,
     *     restricted to T_m: w_k[j] = Σ_{i∈T_m} A[i,j], w_q[i] = Σ_{j∈T_m} A[i,j].</li>
     * <li>{@code REFERENCE}: as MINER's released code ({@code invasive_modification_for_attn_score.py:15-50},
     *     {@code utils/func.py:96-108}): A = mean over heads of softmax(q·k/√d) over the whole prompt with
     *     no mask (the model itself stays causal), restricted to T_m and softmaxed again: attn_k weighs
     *     position i with the row sum of softmax(A_m, dim 0), attn_q position j with the column sum of
     *     softmax(A_m, dim 1).</li>
     * </ul>
     */
    public enum Attention { SPECIFICATION, REFERENCE }

    /**
     * @param ratio    budget K = round(ratio·L·N) (floored under {@link Stage4#REFERENCE}), default 2 %
     *                 (the paper also uses 0.1, 0.5, 1, 1.5, 5, 10 %)
     * @param strategy default LA_MU
     * @param seed     RANDOM's seed
     * @param stage4   the specification's budgets and draws, or the reference code's
     * @param attention the attention the aggregated attn_k/attn_q were collected with (recorded in the
     *                 set's params as {@code attention}; stage 4 itself does not depend on it)
     */
    public record Params(Weights weights, double ratio, Strategy strategy, long seed, Stage4 stage4, Attention attention) {
        public static final Params DEFAULTS = new Params(Weights.DEFAULTS, 0.02, Strategy.LA_MU, 0, Stage4.SPECIFICATION);

        public Params {
            if (!(ratio > 0 && ratio <= 1)) {
                throw new IllegalArgumentException("ratio must be in (0, 1], got " + ratio);
            }
            if (weights == null || strategy == null || stage4 == null || attention == null) {
                throw new IllegalArgumentException("weights, strategy, stage4 and attention must not be null");
            }
        }

        /** With the specification's attention. */
        public Params(Weights weights, double ratio, Strategy strategy, long seed, Stage4 stage4) {
            this(weights, ratio, strategy, seed, stage4, Attention.SPECIFICATION);
        }

        /** The specification's stage 4. */
        public Params(Weights weights, double ratio, Strategy strategy, long seed) {
            this(weights, ratio, strategy, seed, Stage4.SPECIFICATION);
        }

        public Params with(Strategy s) {
            return new Params(weights, ratio, s, seed, stage4, attention);
        }

        public Params with(Weights w) {
            return new Params(w, ratio, strategy, seed, stage4, attention);
        }

        public Params with(Stage4 s) {
            return new Params(weights, ratio, strategy, seed, s, attention);
        }

        public Params with(Attention a) {
            return new Params(weights, ratio, strategy, seed, stage4, a);
        }

        public Params withRatio(double r) {
            return new Params(weights, r, strategy, seed, stage4, attention);
        }

        /** budget / parts, rounded or floored as the stage 4 says. */
        int share(int budget, int parts) {
            return stage4 == Stage4.REFERENCE ? budget / parts : (int) Math.round((double) budget / parts);
        }
    }

    /**
     * The statistics of one sample, groups = modalities (a modality absent from the sample is either
     * not a group or a group with 0 tokens).
     *
     * @param activations COUNT (threshold 0: a &gt; 0), SUM and MAX of the activations a[t,n] over the
     *                    tokens of each modality, and its token counts |T_m|
     * @param attnK       WEIGHTED_SUM {@code Σ_{j∈T_m} w_k[j]·a[j,n]} per modality m, where
     *                    {@code w_k[j] = Σ_{i∈T_m} A[i,j]} is the attention token j <em>receives</em>
     *                    from the modality's tokens (A: attention probabilities averaged over heads,
     *                    rows = queries); the weight column of group m is w_k restricted to T_m.
     *                    Null when no weight needs attn_k.
     * @param attnQ       likewise with {@code w_q[j] = Σ_{i∈T_m} A[j,i]}, the attention token j
     *                    <em>pays</em> to the modality's tokens; null when unused
     */
    public record SampleStatistics(NeuronStatistics activations, NeuronStatistics attnK, NeuronStatistics attnQ) {
        public SampleStatistics {
            if (activations == null) {
                throw new IllegalArgumentException("a MINER sample needs its activation statistics");
            }
            for (NeuronStatistics a : new NeuronStatistics[] {attnK, attnQ}) {
                if (a != null && (a.layers() != activations.layers() || a.neurons() != activations.neurons())) {
                    throw new IllegalArgumentException("attention statistics of shape " + a.layers() + " x " + a.neurons()
                            + " for activations of " + activations.layers() + " x " + activations.neurons());
                }
            }
        }
    }

    private Miner() {
    }

    /**
     * Stage 2 for one sample, metric and modality: the raw metric per neuron, [layer][neuron], each
     * layer min–max normalised across its N neurons ({@code (v − min)/(max − min)}; a constant layer
     * becomes all 0). Null when the sample has no token of the modality.
     */
    public static double[] sampleScore(SampleStatistics sample, Metric metric, String modality) {
        NeuronStatistics a = sample.activations();
        if (!a.groups().contains(modality)) {
            return null;
        }
        int g = a.groupIndex(modality);
        long tokens = a.tokens(g);
        if (tokens == 0) {
            return null;
        }
        NeuronStatistics src = switch (metric) {
            case ATTN_K -> sample.attnK();
            case ATTN_Q -> sample.attnQ();
            default -> a;
        };
        if (src == null) {
            throw new IllegalArgumentException(metric + " needs attention statistics, which this sample lacks");
        }
        Statistic stat = switch (metric) {
            case PROB -> Statistic.COUNT;
            case MEAN -> Statistic.SUM;
            case MAX -> Statistic.MAX;
            case ATTN_K, ATTN_Q -> Statistic.WEIGHTED_SUM;
        };
        if (metric == Metric.PROB && a.countThreshold() != 0f) {
            throw new IllegalArgumentException("MINER's prob needs COUNT with threshold 0 (a > 0), not " + a.countThreshold());
        }
        int gi = src.groupIndex(modality);
        MemorySegment seg = src.segment(stat);
        int layers = a.layers();
        int neurons = a.neurons();
        double div = metric == Metric.PROB || metric == Metric.MEAN ? tokens : 1;
        double[] out = new double[layers * neurons];
        for (int l = 0; l < layers; l++) {
            MemorySegment.copy(seg, ValueLayout.JAVA_DOUBLE, src.offset(l, gi) * Double.BYTES, out, l * neurons, neurons);
            if (div != 1) {
                for (int n = l * neurons; n < (l + 1) * neurons; n++) {
                    out[n] = out[n] / div;
                }
            }
            minMaxNormalise(out, l * neurons, neurons);
        }
        return out;
    }

    /**
     * Stage 3: per dataset, the per-sample scores are summed and divided by the dataset's sample
     * count; the datasets' results are summed and, per modality, divided by the number of datasets in
     * which the modality occurs (has tokens in at least one sample).
     */
    public static final class Aggregator {
        private final int layers;
        private final int neurons;
        private final List<String> modalities;
        private final Set<Metric> metrics;
        private final Map<String, Map<Metric, double[][]>> sums = new LinkedHashMap<>(); // dataset -> metric -> [modality][l*N+n]
        private final Map<String, Integer> samples = new LinkedHashMap<>();
        private final Map<String, boolean[]> occurs = new LinkedHashMap<>();

        /** An aggregator of every metric the samples supply. */
        public Aggregator(int layers, int neurons, List<String> modalities) {
            this(layers, neurons, modalities, EnumSet.allOf(Metric.class));
        }

        /** An aggregator of only {@code metrics} (memory: one L·N array per dataset, metric and modality). */
        public Aggregator(int layers, int neurons, List<String> modalities, Set<Metric> metrics) {
            if (layers <= 0 || neurons <= 0 || modalities.isEmpty() || modalities.stream().distinct().count() != modalities.size()) {
                throw new IllegalArgumentException("an aggregator needs layers, neurons and distinct modalities (got " + layers + ", " + neurons + ", " + modalities + ")");
            }
            this.layers = layers;
            this.neurons = neurons;
            this.modalities = List.copyOf(modalities);
            this.metrics = metrics.isEmpty() ? EnumSet.noneOf(Metric.class) : EnumSet.copyOf(metrics);
        }

        public List<String> modalities() {
            return modalities;
        }

        public int layers() {
            return layers;
        }

        public int neurons() {
            return neurons;
        }

        /** The metrics it aggregates (of those the samples supply). */
        public Set<Metric> metrics() {
            return metrics.isEmpty() ? EnumSet.noneOf(Metric.class) : EnumSet.copyOf(metrics);
        }

        /** Adds one sample of a dataset (metrics needing absent attention statistics are skipped). */
        public void add(String dataset, SampleStatistics sample) {
            NeuronStatistics a = sample.activations();
            if (a.layers() != layers || a.neurons() != neurons) {
                throw new IllegalArgumentException("sample statistics of shape " + a.layers() + " x " + a.neurons() + ", expected " + layers + " x " + neurons);
            }
            // a sample may lack some of our modalities (absent) or hold more groups (the base modalities a union
            // was measured from), but one sharing none was collected for something else
            if (modalities.stream().noneMatch(a.groups()::contains)) {
                throw new IllegalArgumentException("the sample's groups " + a.groups() + " include none of this aggregator's " + modalities);
            }
            Map<Metric, double[][]> d = sums.computeIfAbsent(dataset, k -> new EnumMap<>(Metric.class));
            samples.merge(dataset, 1, Integer::sum);
            boolean[] seen = occurs.computeIfAbsent(dataset, k -> new boolean[modalities.size()]);
            for (int mi = 0; mi < modalities.size(); mi++) {
                String m = modalities.get(mi);
                for (Metric metric : metrics) {
                    if ((metric == Metric.ATTN_K && sample.attnK() == null) || (metric == Metric.ATTN_Q && sample.attnQ() == null)
                            || (metric != Metric.ATTN_K && metric != Metric.ATTN_Q && !a.has(statisticOf(metric)))) {
                        continue;
                    }
                    double[] v = sampleScore(sample, metric, m);
                    if (v == null) {
                        break; // the modality is absent from this sample
                    }
                    seen[mi] = true;
                    double[] acc = d.computeIfAbsent(metric, k -> new double[modalities.size()][])[mi];
                    if (acc == null) {
                        d.get(metric)[mi] = v;
                    } else {
                        for (int i = 0; i < acc.length; i++) {
                            acc[i] += v[i];
                        }
                    }
                }
            }
        }

        /**
         * Adds another aggregator's samples (stage 3's sums of a later slice of the same datasets, e.g.
         * one Spark partition): sample counts and occurrences exactly, the per-sample score sums by
         * adding the other's sums elementwise. Merging slices in dataset order gives what adding their
         * samples one by one gives, up to how the additions associate; with one slice, bit for bit.
         * Datasets new to this aggregator are appended in the other's order.
         */
        public void merge(Aggregator other) {
            if (other.layers != layers || other.neurons != neurons || !other.modalities.equals(modalities) || !other.metrics.equals(metrics)) {
                throw new IllegalArgumentException("cannot merge a MINER aggregate of " + other.layers + " x " + other.neurons + " " + other.modalities
                        + " " + other.metrics + " into one of " + layers + " x " + neurons + " " + modalities + " " + metrics);
            }
            for (var e : other.sums.entrySet()) {
                String dataset = e.getKey();
                Map<Metric, double[][]> d = sums.computeIfAbsent(dataset, k -> new EnumMap<>(Metric.class));
                samples.merge(dataset, other.samples.get(dataset), Integer::sum);
                boolean[] seen = occurs.computeIfAbsent(dataset, k -> new boolean[modalities.size()]);
                boolean[] theirs = other.occurs.get(dataset);
                for (int mi = 0; mi < seen.length; mi++) {
                    seen[mi] |= theirs[mi];
                }
                for (var m : e.getValue().entrySet()) {
                    double[][] mine = d.computeIfAbsent(m.getKey(), k -> new double[modalities.size()][]);
                    double[][] add = m.getValue();
                    for (int mi = 0; mi < add.length; mi++) {
                        if (add[mi] == null) {
                            continue;
                        }
                        if (mine[mi] == null) {
                            mine[mi] = add[mi].clone();
                        } else {
                            double[] acc = mine[mi];
                            double[] v = add[mi];
                            for (int i = 0; i < acc.length; i++) {
                                acc[i] += v[i];
                            }
                        }
                    }
                }
            }
        }

        /** The number of samples added for a dataset (0 if none). */
        public int samples(String dataset) {
            return samples.getOrDefault(dataset, 0);
        }

        /** The datasets, in the order their first sample was added. */
        public List<String> datasets() {
            return List.copyOf(sums.keySet());
        }

        private static final int BINARY_VERSION = 1;

        /**
         * The aggregate's exact state in a binary form (float64 sums as IEEE bits, counts as integers,
         * every map in its order), which {@link #read} turns back into an equal aggregator: what a
         * distributed job writes per partition and sends to its driver.
         */
        public void write(java.io.DataOutput out) throws java.io.IOException {
            out.writeInt(BINARY_VERSION);
            out.writeInt(layers);
            out.writeInt(neurons);
            out.writeInt(modalities.size());
            for (String m : modalities) {
                out.writeUTF(m);
            }
            out.writeInt(metrics.size());
            for (Metric m : metrics) {
                out.writeUTF(m.name());
            }
            out.writeInt(sums.size());
            for (var e : sums.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(samples.get(e.getKey()));
                for (boolean b : occurs.get(e.getKey())) {
                    out.writeBoolean(b);
                }
                out.writeInt(e.getValue().size());
                for (var m : e.getValue().entrySet()) {
                    out.writeUTF(m.getKey().name());
                    for (double[] acc : m.getValue()) {
                        out.writeBoolean(acc != null);
                        if (acc != null) {
                            for (double v : acc) {
                                out.writeLong(Double.doubleToRawLongBits(v));
                            }
                        }
                    }
                }
            }
        }

        /** The inverse of {@link #write}; a malformed input is refused naming what is wrong. */
        public static Aggregator read(java.io.DataInput in) throws java.io.IOException {
            int version = in.readInt();
            if (version != BINARY_VERSION) {
                throw new java.io.IOException("not a MINER aggregate of version " + BINARY_VERSION + " (version " + version + ")");
            }
            int layers = in.readInt();
            int neurons = in.readInt();
            int mc = in.readInt();
            if (layers <= 0 || neurons <= 0 || mc <= 0 || (long) layers * neurons > Integer.MAX_VALUE || mc > 1024) {
                throw new java.io.IOException("a MINER aggregate of " + layers + " x " + neurons + " with " + mc + " modalities");
            }
            List<String> modalities = new ArrayList<>();
            for (int i = 0; i < mc; i++) {
                modalities.add(in.readUTF());
            }
            int metricCount = in.readInt();
            Set<Metric> metrics = EnumSet.noneOf(Metric.class);
            for (int i = 0; i < metricCount; i++) {
                metrics.add(metricOf(in.readUTF()));
            }
            Aggregator agg = new Aggregator(layers, neurons, modalities, metrics);
            int datasets = in.readInt();
            for (int d = 0; d < datasets; d++) {
                String name = in.readUTF();
                agg.samples.put(name, in.readInt());
                boolean[] seen = new boolean[mc];
                for (int mi = 0; mi < mc; mi++) {
                    seen[mi] = in.readBoolean();
                }
                agg.occurs.put(name, seen);
                Map<Metric, double[][]> byMetric = new EnumMap<>(Metric.class);
                agg.sums.put(name, byMetric);
                int held = in.readInt();
                for (int k = 0; k < held; k++) {
                    double[][] acc = new double[mc][];
                    byMetric.put(metricOf(in.readUTF()), acc);
                    for (int mi = 0; mi < mc; mi++) {
                        if (in.readBoolean()) {
                            double[] v = new double[layers * neurons];
                            for (int i = 0; i < v.length; i++) {
                                v[i] = Double.longBitsToDouble(in.readLong());
                            }
                            acc[mi] = v;
                        }
                    }
                }
            }
            return agg;
        }

        private static Metric metricOf(String name) throws java.io.IOException {
            try {
                return Metric.valueOf(name);
            } catch (IllegalArgumentException e) {
                throw new java.io.IOException("unknown MINER metric '" + name + "' in an aggregate");
            }
        }

        /** {@link #write} into a byte array. */
        public byte[] toBytes() {
            var bytes = new java.io.ByteArrayOutputStream();
            try (var out = new java.io.DataOutputStream(bytes)) {
                write(out);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e); // a byte array does not fail
            }
            return bytes.toByteArray();
        }

        /** {@link #read} from a byte array (all of it). */
        public static Aggregator fromBytes(byte[] b) throws java.io.IOException {
            var in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(b));
            Aggregator agg = read(in);
            if (in.available() != 0) {
                throw new java.io.IOException(in.available() + " bytes after a MINER aggregate");
            }
            return agg;
        }

        /** The number of datasets in which a modality occurs. */
        public int datasetsWith(String modality) {
            int mi = indexOf(modality);
            return (int) occurs.values().stream().filter(o -> o[mi]).count();
        }

        private int indexOf(String modality) {
            int mi = modalities.indexOf(modality);
            if (mi < 0) {
                throw new IllegalArgumentException("unknown modality '" + modality + "' (modalities: " + modalities + ")");
            }
            return mi;
        }

        /** The aggregated score of a metric for a modality, [layer][neuron] (all 0 if never seen). */
        public double[] score(Metric metric, String modality) {
            List<Term> terms = new ArrayList<>();
            terms(indexOf(modality), metric, 1.0, terms);
            return materialise(terms.toArray(Term[]::new));
        }

        /** Whether any sample supplied a metric. */
        public boolean hasMetric(Metric m) {
            return sums.values().stream().anyMatch(d -> d.containsKey(m));
        }

        /** Whether a modality occurs in any dataset. */
        public boolean occurs(String modality) {
            return datasetsWith(modality) > 0;
        }

        /** Stage 4's W_m = Σ_metric w_metric · score[metric, m]; a metric of weight 0 is never read. */
        public double[] combined(String modality, Weights w) {
            return materialise(combinedTerms(indexOf(modality), w));
        }

        /**
         * W_m as terms c·acc: with D_m the datasets in which the modality occurs, score = Σ_d
         * acc_d / (samples_d · |D_m|) (stage 3, the sum over a dataset's samples held in acc_d), so W_m =
         * Σ_metric Σ_d (w_metric / (samples_d · |D_m|)) · acc_{metric, d}.
         */
        Term[] combinedTerms(int mi, Weights w) {
            List<Term> terms = new ArrayList<>();
            for (Metric m : Metric.values()) {
                if (w.of(m) == 0) {
                    continue;
                }
                if (!hasMetric(m)) {
                    throw new IllegalArgumentException("weight " + w.of(m) + " on " + m + " but no sample supplied it"
                            + (m == Metric.ATTN_K || m == Metric.ATTN_Q ? " (attention statistics)" : ""));
                }
                terms(mi, m, w.of(m), terms);
            }
            return terms.toArray(Term[]::new);
        }

        /** The terms of one metric's score for modality {@code mi}, times {@code weight}, appended to {@code into}. */
        private void terms(int mi, Metric metric, double weight, List<Term> into) {
            int datasetsWith = (int) occurs.values().stream().filter(o -> o[mi]).count();
            for (var e : sums.entrySet()) {
                double[][] acc = e.getValue().get(metric);
                if (occurs.get(e.getKey())[mi] && acc != null && acc[mi] != null) {
                    into.add(new Term(weight / ((double) samples.get(e.getKey()) * datasetsWith), acc[mi]));
                }
            }
        }

        private double[] materialise(Term[] terms) {
            double[] out = new double[layers * neurons];
            fill(terms, 0, out.length, out);
            return out;
        }
    }

    /** One addend of an aggregated score: {@code coefficient · values[i]}. */
    record Term(double coefficient, double[] values) {
    }

    /** {@code out[j] = Σ_terms c · values[from + j]} for j in [0, length), summed from 0 in term order. */
    static void fill(Term[] terms, int from, int length, double[] out) {
        if (terms.length == 0) {
            Arrays.fill(out, 0, length, 0.0);
            return;
        }
        double c0 = terms[0].coefficient();
        double[] v0 = terms[0].values();
        int t = 1;
        if (terms.length >= 2) { // the first two together: two streams from memory at once
            double c1 = terms[1].coefficient();
            double[] v1 = terms[1].values();
            for (int j = 0; j < length; j++) {
                out[j] = (c0 * v0[from + j] + 0.0) + c1 * v1[from + j];
            }
            t = 2;
        } else {
            for (int j = 0; j < length; j++) {
                out[j] = c0 * v0[from + j] + 0.0; // + 0.0: what 0.0 + x gives (−0.0 becomes 0.0)
            }
        }
        for (; t < terms.length; t++) {
            double c = terms[t].coefficient();
            double[] v = terms[t].values();
            for (int j = 0; j < length; j++) {
                out[j] += c * v[from + j];
            }
        }
    }

    /** The same sum at one index (the same operations in the same order as {@link #fill}). */
    static double valueAt(Term[] terms, int i) {
        double s = 0.0;
        for (Term t : terms) {
            s += t.coefficient() * t.values()[i];
        }
        return s;
    }

    private static Statistic statisticOf(Metric m) {
        return switch (m) {
            case PROB -> Statistic.COUNT;
            case MEAN -> Statistic.SUM;
            case MAX -> Statistic.MAX;
            case ATTN_K, ATTN_Q -> Statistic.WEIGHTED_SUM;
        };
    }

    /** Min–max normalisation of v[from, from+n); a constant (or non-finite range) slice becomes 0. */
    static void minMaxNormalise(double[] v, int from, int n) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = from; i < from + n; i++) {
            min = Math.min(min, v[i]);
            max = Math.max(max, v[i]);
        }
        double range = max - min;
        boolean ok = range > 0 && Double.isFinite(range);
        for (int i = from; i < from + n; i++) {
            v[i] = ok ? (v[i] - min) / range : 0.0;
        }
    }

    /**
     * Stage 4: W_m for every modality that occurs in some dataset (M of them), then the budget
     * K = round(ratio·L·N) spent by the strategy (ties: lower layer, lower neuron, then modality order):
     * <ul>
     * <li>{@code LA_MU}: per modality, the global top round(K/M) of W_m (a neuron may be in several);</li>
     * <li>{@code ADAPTIVE}: the global top K of Σ_m W_m, each in its arg-max modality (first on ties);</li>
     * <li>{@code LU_MA}: per layer, the top round(K/L) (modality, neuron) pairs by W_m;</li>
     * <li>{@code UNIFORM}: per (layer, modality), the top round(K/(M·L)) of W_m;</li>
     * <li>{@code RANDOM}: K distinct (layer, neuron) pairs drawn with the seed, in group "random"
     *     (the aggregator's scores are not read).</li>
     * </ul>
     * Scores in the set are W_m (RANDOM: 0). Modalities that never occur get an empty group.
     */
    public static NeuronSet select(Aggregator agg, HookPoint hookPoint, Params params) {
        int layers = agg.layers;
        int neurons = agg.neurons;
        boolean reference = params.stage4() == Stage4.REFERENCE;
        // Python evaluates select_ratio * L * N left to right in doubles, as Java does here
        int budget = reference ? (int) (params.ratio() * layers * neurons) : (int) Math.round(params.ratio() * layers * neurons);
        Map<String, String> p = new LinkedHashMap<>();
        p.put("strategy", params.strategy().name());
        p.put("ratio", Double.toString(params.ratio()));
        p.put("weights", params.weights().toString());
        p.put("budget", Integer.toString(budget));
        p.put("seed", Long.toString(params.seed()));
        p.put("stage4", params.stage4().name().toLowerCase(java.util.Locale.ROOT));
        if (params.weights().needsAttention()) {
            p.put("attention", params.attention().name().toLowerCase(java.util.Locale.ROOT));
        }
        NeuronSet set = new NeuronSet("miner", hookPoint, layers, neurons, p);
        if (params.strategy() == Strategy.RANDOM) {
            set.ensureGroup("random");
            if (reference) {
                PythonRandom py = new PythonRandom(params.seed());
                java.util.BitSet drawn = new java.util.BitSet(layers * neurons);
                for (int k = 0; k < budget; k++) {
                    int l = py.randint(0, layers - 1); // the tuple's first element is drawn first
                    int n = py.randint(0, neurons - 1);
                    drawn.set(l * neurons + n);
                }
                drawn.stream().forEach(i -> set.add("random", i / neurons, i % neurons, 0));
                return set;
            }
            SplittableRandom rng = new SplittableRandom(params.seed());
            for (int i : RandomBaseline.sample(rng, layers * neurons, budget)) {
                set.add("random", i / neurons, i % neurons, 0);
            }
            return set;
        }
        agg.modalities.forEach(set::ensureGroup);
        List<String> mods = agg.modalities.stream().filter(agg::occurs).toList();
        if (mods.isEmpty()) {
            return set;
        }
        int mCount = mods.size();
        Term[][] w = new Term[mCount][];
        for (int mi = 0; mi < mCount; mi++) {
            w[mi] = agg.combinedTerms(agg.indexOf(mods.get(mi)), params.weights());
        }
        int size = layers * neurons;
        switch (params.strategy()) {
            case LA_MU -> {
                int perModality = params.share(budget, mCount);
                for (int mi = 0; mi < mCount; mi++) {
                    Term[] terms = w[mi];
                    Selection.Top top = Selection.largest(size, perModality, neurons, (from, length, out) -> fill(terms, from, length, out));
                    set.addAll(mods.get(mi), top.index(), top.score());
                }
            }
            case ADAPTIVE -> {
                double[] one = new double[Selection.CHUNK];
                Selection.Top top = Selection.largest(size, budget, neurons, (from, length, out) -> { // length ≤ CHUNK
                    Arrays.fill(out, 0, length, 0.0);
                    for (Term[] terms : w) { // Σ_m W_m, each W_m as combined() rounds it
                        fill(terms, from, length, one);
                        for (int j = 0; j < length; j++) {
                            out[j] += one[j];
                        }
                    }
                });
                for (int i : top.index()) {
                    int best = 0;
                    double bestW = valueAt(w[0], i);
                    for (int mi = 1; mi < mCount; mi++) {
                        double v = valueAt(w[mi], i);
                        if (v > bestW) {
                            best = mi;
                            bestW = v;
                        }
                    }
                    set.add(mods.get(best), i / neurons, i % neurons, bestW);
                }
            }
            case LU_MA -> {
                int perLayer = params.share(budget, layers);
                double[] row = new double[neurons];
                double[] pairs = new double[neurons * mCount]; // [neuron][modality]: lower neuron first on ties
                for (int l = 0; l < layers; l++) {
                    for (int mi = 0; mi < mCount; mi++) {
                        fill(w[mi], l * neurons, neurons, row);
                        for (int n = 0; n < neurons; n++) {
                            pairs[n * mCount + mi] = row[n];
                        }
                    }
                    Selection.Top top = Selection.largest(pairs, perLayer);
                    for (int j = 0; j < top.index().length; j++) {
                        int i = top.index()[j];
                        set.add(mods.get(i % mCount), l, i / mCount, top.score()[j]);
                    }
                }
            }
            case UNIFORM -> {
                int perCell = params.share(budget, mCount * layers);
                double[] row = new double[neurons];
                for (int mi = 0; mi < mCount; mi++) {
                    for (int l = 0; l < layers; l++) {
                        fill(w[mi], l * neurons, neurons, row);
                        Selection.Top top = Selection.largest(row, perCell);
                        for (int j = 0; j < top.index().length; j++) {
                            set.add(mods.get(mi), l, top.index()[j], top.score()[j]);
                        }
                    }
                }
            }
            default -> throw new IllegalStateException(params.strategy().name());
        }
        return set;
    }
}
