package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.SoftReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Activation-probability entropy (LAPE; MMNeuron's domain variant), docs/METHODS.md §1, from the COUNT
 * statistic (threshold 0: activation &gt; 0) and the token count of each group. Only the K groups
 * that have tokens take part (a text+image dataset's empty audio and video groups would otherwise
 * add L·N zeros to P and move τ); the others get no neurons, and the set names them in its
 * {@code groups_without_tokens} parameter.
 * <ol>
 * <li>{@code p[l,n,k] = count[l,k,n] / tokens(k)};</li>
 * <li>{@code q[l,n,k] = p[l,n,k] / Σ_k' p[l,n,k']} (0 when the sum is 0);</li>
 * <li>{@code H[l,n] = −Σ_k q ln q} (natural log, 0·ln 0 = 0), summed in group order;</li>
 * <li>{@code τ} = the k-th smallest of <em>all</em> L·N·K values p (k = round(filterPercentile·|P|),
 *     1-based; k = 0 gives τ = −∞); a neuron with {@code max_k p ≤ τ} is dropped (H = +∞);</li>
 * <li>the round(topRate·L·N) neurons with the lowest H are selected, ranked globally; equal H: lower
 *     layer, then lower neuron, first;</li>
 * <li>each selected neuron goes to every group k with {@code p[l,n,k] > τ_assign}, τ_assign being the
 *     same order statistic for assignPercentile (so a neuron may be in several groups, or in none
 *     when assignPercentile is above filterPercentile).</li>
 * </ol>
 * Every selected neuron's score in the {@link NeuronSet} is its entropy H.
 *
 * <p>{@link #select} is the fast kernel. It first samples a few thousand neurons: their p bracket τ
 * in a narrow window, their entropies give a cut-off U a little above the budget's. Then one pass
 * over the counts, block by block so that every count is fetched from memory once:
 * <ul>
 * <li>float approximations of each neuron's max p, Σp and Σp^1.5 (vectorized by C2);</li>
 * <li>neurons whose max p is surely below the window have all K values below it; the others' raw
 *     counts are classified against per-group count thresholds equivalent to the window (no
 *     division), the few values inside it kept for the order statistic;</li>
 * <li>of those, neurons whose Rényi entropy H_1.5 ≤ H does not already exceed U get an approximate
 *     H by a fast logarithm (error bounded by {@code approxError}) and are kept as candidates.</li>
 * </ul>
 * τ is then the right order statistic of the kept values, and only the candidates whose
 * approximate H is within twice the error of the budget-th smallest get the exact H (Math.log, the
 * formula above). Every approximation is only used with a margin that covers its error, and
 * whenever a guess turns out wrong (τ outside the window, fewer than budget entropies ≤ U) an exact
 * slower path follows, so the result is bit-identical to computing everything ({@link #compute}).
 * Counts are assumed finite and non-negative, as COUNT statistics are.
 *
 * <p>Where the JVM has the Vector API ({@code --add-modules jdk.incubator.vector}, see
 * {@link VectorKernels}), the pass is {@link EntropyVectorPass}: the same outputs from vectors of
 * neurons, with a collision-entropy bound and a polynomial logarithm in place of the float bounds and
 * the table logarithm. Everything around the pass is shared, and so is the result.</p>
 */
public final class EntropySelection {
    private static final Logger LOG = LoggerFactory.getLogger(EntropySelection.class);

    /** Defaults (docs/METHODS.md): top rate 1 %, filter percentile 0.95, assignment percentile 0.95. */
    public record Params(double topRate, double filterPercentile, double assignPercentile, Rounding rounding) {
        public static final Params DEFAULTS = new Params(0.01, 0.95, 0.95);

        /** Parameters with {@link Rounding#HALF_UP}. */
        public Params(double topRate, double filterPercentile, double assignPercentile) {
            this(topRate, filterPercentile, assignPercentile, Rounding.HALF_UP);
        }

        /** These parameters with another rounding of the budget and of the percentiles' ranks. */
        public Params with(Rounding r) {
            return new Params(topRate, filterPercentile, assignPercentile, r);
        }

        public Params {
            java.util.Objects.requireNonNull(rounding, "rounding");
            if (!(topRate >= 0 && topRate <= 1)) {
                throw new IllegalArgumentException("topRate must be in [0, 1], got " + topRate);
            }
            if (!(filterPercentile >= 0 && filterPercentile <= 1) || !(assignPercentile >= 0 && assignPercentile <= 1)) {
                throw new IllegalArgumentException("percentiles must be in [0, 1], got filter " + filterPercentile + ", assign " + assignPercentile);
            }
        }

        Map<String, String> asMap() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("top_rate", Double.toString(topRate));
            m.put("filter_percentile", Double.toString(filterPercentile));
            m.put("assign_percentile", Double.toString(assignPercentile));
            m.put("rounding", rounding.name().toLowerCase(java.util.Locale.ROOT));
            return m;
        }
    }

    /**
     * How {@code round(x)} is taken for the budget round(topRate·L·N) and the ranks round(percentile·|P|).
     * They differ only where x is exactly half-way, e.g. 2.5 (L·N = 250 at 1 %).
     */
    public enum Rounding {
        /** Halves up (Java's {@code Math.round}): the default. */
        HALF_UP,
        /** Halves to even, as Python's {@code round} in LAPE's {@code identify.py} (the reference protocol). */
        PYTHON;

        long round(double x) {
            return this == PYTHON ? (long) Math.rint(x) : Math.round(x);
        }
    }

    /**
     * Everything the selection computed, for inspection and reports.
     *
     * @param probability p laid out [layer][group][neuron]
     * @param entropy     H laid out [layer][neuron] (+∞ for filtered neurons)
     */
    public record Result(double[] probability, double[] entropy, double filterThreshold, double assignThreshold, NeuronSet selected) {
    }

    /** Neurons sampled (in runs), their K values to bracket percentiles, their entropies to guess the cut-off. */
    static final int NEURON_SAMPLE = 4096;
    static final int RUN = 8;
    /** Neurons per block of the pass: the K rows of a block (K·2048 doubles) stay in L2 while used. */
    static final int BLOCK = 2048;

    private EntropySelection() {
    }

    /**
     * Each thread's workspace for the static methods: confined to its thread, so never shared, and
     * softly referenced, so the few megabytes it holds go when memory is short.
     */
    private static final ThreadLocal<SoftReference<Workspace>> LOCAL = new ThreadLocal<>();

    private static Workspace localWorkspace() {
        SoftReference<Workspace> ref = LOCAL.get();
        Workspace ws = ref == null ? null : ref.get();
        if (ws == null) {
            ws = new Workspace();
            LOCAL.set(new SoftReference<>(ws));
        }
        return ws;
    }

    /** LAPE's selection (the fast kernel), with the calling thread's {@link Workspace}. */
    public static NeuronSet select(NeuronStatistics stats, Params params) {
        return localWorkspace().select(stats, params);
    }

    /** The selection together with every p and H (allocates L·K·N + L·N doubles). */
    public static Result compute(NeuronStatistics stats, Params params) {
        return localWorkspace().compute(stats, params);
    }

    /**
     * Scratch buffers of the kernel, grown on demand and kept between calls: reuse one for repeated
     * selections (of any shapes) to avoid reallocating them. The static methods use one per thread.
     * A workspace serves one call at a time (its methods are synchronized), so sharing it between
     * threads is safe but serializes them; give each thread its own to run them in parallel.
     */
    public static final class Workspace {
        private double[] block = new double[0];
        private final float[] sum = new float[BLOCK], power = new float[BLOCK], max = new float[BLOCK], slack = new float[BLOCK];
        private final int[] list = new int[BLOCK], chosen = new int[BLOCK];
        private double[] sample = new double[0], sampleH = new double[0], sampleMax = new double[0];
        private double[] kept = new double[0];
        // candidates of a pass: index, approximate H, approximate max p, their K counts
        private int[] candIndex = new int[0];
        private double[] candH = new double[0];
        private float[] candMax = new float[0];
        private double[] candCounts = new double[0];
        // survivors among them and the exact pool
        private int[] survSlot = new int[0], poolSlot = new int[0];
        private double[] survH = new double[0], poolH = new double[0];
        private double[] scratch = new double[0];
        private double[] pvec = new double[0];
        /** Whether passes run on the Vector API ({@link VectorKernels}) or in scalar code. */
        final boolean vectorized;
        /** Test seams: a cut-off (NaN: guess it) and a window {lo, hi} (null: sample it) to use instead. */
        double forcedCutoff = Double.NaN;
        double[] forcedWindow;

        /** A workspace for the fastest kernel this JVM can run (see {@link VectorKernels}). */
        public Workspace() {
            this(VectorKernels.ENABLED);
        }

        /** A workspace for the vector kernel or the scalar one (tests run both). */
        Workspace(boolean vectorized) {
            if (vectorized && !VectorKernels.ENABLED) {
                throw new IllegalStateException("the vector kernels are not available in this JVM");
            }
            this.vectorized = vectorized;
        }

        @Override
        public String toString() {
            return "EntropySelection.Workspace[" + (vectorized ? "vector" : "scalar") + " kernel]";
        }

        /** LAPE's selection, as {@link EntropySelection#select}. */
        public synchronized NeuronSet select(NeuronStatistics stats, Params params) {
            List<String> present = checkedGroupsWithTokens(stats);
            if (present.isEmpty() || present.size() == stats.groupCount()) {
                return new Kernel(stats, params, this).run();
            }
            try (NeuronStatistics s = stats.subset(present, EnumSet.of(Statistic.COUNT))) {
                return withAllGroups(new Kernel(s, params, this).run(), stats.groups(), present);
            }
        }

        /** The selection with every p and H, as {@link EntropySelection#compute}. */
        public synchronized Result compute(NeuronStatistics stats, Params params) {
            List<String> present = checkedGroupsWithTokens(stats);
            if (present.isEmpty() || present.size() == stats.groupCount()) {
                return computeOver(stats, params);
            }
            try (NeuronStatistics s = stats.subset(present, EnumSet.of(Statistic.COUNT))) {
                Result r = computeOver(s, params);
                // p of a group without tokens is 0; H and the thresholds are those of the groups with tokens
                int layers = stats.layers(), groups = stats.groupCount(), neurons = stats.neurons(), kept = present.size();
                double[] p = new double[layers * groups * neurons];
                for (int l = 0; l < layers; l++) {
                    for (int i = 0; i < kept; i++) {
                        int g = stats.groupIndex(present.get(i));
                        System.arraycopy(r.probability(), (l * kept + i) * neurons, p, (l * groups + g) * neurons, neurons);
                    }
                }
                return new Result(p, r.entropy(), r.filterThreshold(), r.assignThreshold(),
                        withAllGroups(r.selected(), stats.groups(), present));
            }
        }

        private Result computeOver(NeuronStatistics stats, Params params) {
            Kernel k = new Kernel(stats, params, this);
            NeuronSet set = k.run();
            int layers = k.layers, groups = k.groups, neurons = k.neurons;
            double[] p = new double[layers * groups * neurons];
            for (int i = 0; i < p.length; i++) {
                p[i] = k.probability(i, (i / neurons) % groups);
            }
            double[] h = new double[layers * neurons];
            double[] q = new double[groups];
            for (int l = 0; l < layers; l++) {
                for (int n = 0; n < neurons; n++) {
                    for (int g = 0; g < groups; g++) {
                        q[g] = p[(l * groups + g) * neurons + n];
                    }
                    h[l * neurons + n] = maxOf(q, groups) > k.tau ? entropy(q, groups) : Double.POSITIVE_INFINITY;
                }
            }
            return new Result(p, h, k.tau, k.tauAssign, set);
        }
    }

    /**
     * The groups that have tokens, after refusing statistics that would select nothing silently: no
     * group with tokens at all, or a group whose counts are not zero but whose token count is (its
     * tokens were never recorded, e.g. sums added without {@link NeuronStatistics#addTokens}). Groups
     * with neither counts nor tokens (a modality the dataset lacks) are left out with a warning.
     */
    private static final java.util.Set<String> WARNED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static List<String> checkedGroupsWithTokens(NeuronStatistics stats) {
        if (!stats.has(Statistic.COUNT)) {
            throw new IllegalArgumentException("the entropy method needs the COUNT statistic; these statistics hold " + stats.statistics());
        }
        List<String> present = groupsWithTokens(stats);
        List<String> absent = new ArrayList<>(stats.groups());
        absent.removeAll(present);
        for (String g : absent) {
            if (hasNonZeroCount(stats, stats.groupIndex(g))) {
                throw new IllegalArgumentException("group '" + g + "' has non-zero counts but 0 tokens: its token count was never recorded "
                        + "(NeuronStatistics.addTokens, which StatisticsCollector calls for you); tokens per group: " + tokensPerGroup(stats));
            }
        }
        if (present.isEmpty()) {
            throw new IllegalArgumentException("no group has any tokens (tokens per group: " + tokensPerGroup(stats)
                    + "): nothing was collected, or the token counts were never recorded (NeuronStatistics.addTokens)");
        }
        if (!absent.isEmpty()) {
            // once per set of groups and JVM (repeated selections on the same statistics would repeat it)
            boolean first = WARNED.add(stats.groups() + " " + absent);
            String m = "groups {} have no tokens: they take no part in the selection and get no neurons (tokens per group: {})";
            if (first) {
                LOG.warn(m, absent, tokensPerGroup(stats));
            } else {
                LOG.debug(m, absent, tokensPerGroup(stats));
            }
        }
        return present;
    }

    private static boolean hasNonZeroCount(NeuronStatistics stats, int group) {
        MemorySegment count = stats.segment(Statistic.COUNT);
        for (int l = 0; l < stats.layers(); l++) {
            long o = stats.offset(l, group);
            for (int n = 0; n < stats.neurons(); n++) {
                if (count.getAtIndex(ValueLayout.JAVA_DOUBLE, o + n) != 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /** {@code en=120, fr=0}: for messages. */
    static String tokensPerGroup(NeuronStatistics stats) {
        StringBuilder b = new StringBuilder();
        for (int g = 0; g < stats.groupCount(); g++) {
            b.append(g == 0 ? "" : ", ").append(stats.groups().get(g)).append('=').append(stats.tokens(g));
        }
        return b.toString();
    }

    /** The groups that have tokens: only they enter P, the percentiles and the entropies (docs/METHODS.md). */
    static List<String> groupsWithTokens(NeuronStatistics stats) {
        List<String> present = new ArrayList<>();
        for (int g = 0; g < stats.groupCount(); g++) {
            if (stats.tokens(g) > 0) {
                present.add(stats.groups().get(g));
            }
        }
        return present;
    }

    /** {@code inner} (selected over {@code present}) with every group of {@code all}, in order; the others empty. */
    private static NeuronSet withAllGroups(NeuronSet inner, List<String> all, List<String> present) {
        Map<String, String> params = new LinkedHashMap<>(inner.params());
        List<String> skipped = new ArrayList<>(all);
        skipped.removeAll(present);
        params.put("groups_without_tokens", String.join(",", skipped));
        NeuronSet out = new NeuronSet(inner.method(), inner.module(), inner.hookPoint(), inner.layers(), inner.neurons(), params);
        for (String g : all) {
            out.ensureGroup(g);
            if (inner.hasGroup(g)) {
                for (NeuronSet.Neuron n : inner.neurons(g)) {
                    out.add(g, n.layer(), n.neuron(), n.score());
                }
            }
        }
        return out;
    }

    /** max_k p, as docs/METHODS.md's filter reads it (group order, Math.max). */
    static double maxOf(double[] p, int groups) {
        double m = p[0];
        for (int g = 1; g < groups; g++) {
            m = Math.max(m, p[g]);
        }
        return m;
    }

    /** H of one neuron from its p in group order: the one place where the exact formula lives. */
    static double entropy(double[] p, int groups) {
        double s = p[0];
        for (int g = 1; g < groups; g++) {
            s += p[g];
        }
        double h = 0;
        for (int g = 0; g < groups; g++) {
            double q = s == 0 ? 0 : p[g] / s;
            if (q > 0) {
                h -= q * Math.log(q);
            }
        }
        return h;
    }

    /** Selected neurons (flat [layer][neuron] indices) with their entropies. */
    private record Chosen(int[] slot, double[] entropy) {
    }

    static final class Kernel {
        final NeuronStatistics stats;
        final Params params;
        final Workspace ws;
        final MemorySegment count;
        final int layers, groups, neurons;
        final long total;
        final long[] tokens;
        final double[] tokensD;
        /** 1 / tokens (0 without tokens) in float: approximate p = count · recip, only ever used with a margin. */
        final float[] recip;
        final double[] recipD;
        double tau, tauAssign;

        int sampled;
        // results of a pass
        long below;
        int keptN, candN;
        /** A bound on |candH − exact H| for the candidates of the last pass. */
        double candError;

        Kernel(NeuronStatistics stats, Params params, Workspace ws) {
            if (stats.countThreshold() != 0f) {
                throw new IllegalArgumentException("entropy selection needs COUNT with threshold 0 (activation > 0), not " + stats.countThreshold());
            }
            if ((long) stats.layers() * stats.groupCount() * stats.neurons() > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("too many values for entropy selection: " + stats.layers() + " x " + stats.groupCount() + " x " + stats.neurons());
            }
            this.stats = stats;
            this.params = params;
            this.ws = ws;
            this.count = stats.segment(Statistic.COUNT);
            this.layers = stats.layers();
            this.groups = stats.groupCount();
            this.neurons = stats.neurons();
            this.total = (long) layers * groups * neurons;
            this.tokens = new long[groups];
            this.tokensD = new double[groups];
            this.recip = new float[groups];
            this.recipD = new double[groups];
            for (int g = 0; g < groups; g++) {
                tokens[g] = stats.tokens(g);
                tokensD[g] = tokens[g];
                recipD[g] = tokens[g] == 0 ? 0.0 : 1.0 / tokensD[g];
                recip[g] = (float) recipD[g];
            }
            if (!ws.vectorized && ws.block.length < groups * BLOCK) { // the vector pass reads the statistics directly
                ws.block = new double[groups * BLOCK];
            }
            if (ws.pvec.length < groups) {
                ws.pvec = new double[groups];
            }
        }

        /** p of the flat [layer][group][neuron] index {@code i}, group {@code g}. */
        double probability(long i, int g) {
            return tokens[g] == 0 ? 0.0 : count.getAtIndex(ValueLayout.JAVA_DOUBLE, i) / tokensD[g];
        }

        /** p of neuron {@code i} = l·N + n, in group order, into {@code p}. */
        void probabilities(int i, double[] p) {
            int l = i / neurons, n = i % neurons;
            for (int g = 0; g < groups; g++) {
                p[g] = probability((long) (l * groups + g) * neurons + n, g);
            }
        }

        NeuronSet run() {
            long kFilter = params.rounding().round(params.filterPercentile() * total);
            long kAssign = params.rounding().round(params.assignPercentile() * total);
            int budget = (int) params.rounding().round(params.topRate() * layers * neurons);

            sample();
            Window w = kFilter > 0 ? window(kFilter) : null;
            double cutoff = budget == 0 ? Double.NEGATIVE_INFINITY : guessCutoff(w == null ? Double.NEGATIVE_INFINITY : w.estimate, budget);
            if (budget > 0 && ws.forcedCutoff == ws.forcedCutoff) {
                cutoff = ws.forcedCutoff;
            }
            if (w == null) {
                tau = Double.NEGATIVE_INFINITY;
                pass(null, Double.NEGATIVE_INFINITY, cutoff);
            } else {
                pass(w, lower(w.lo), cutoff);
                if (below < kFilter && kFilter <= below + keptN) {
                    tau = Selection.nth(ws.kept, 0, keptN, (int) (kFilter - below - 1)) + 0.0; // + 0.0: -0.0 reads as 0.0
                } else {
                    // the sample misled the window: exact order statistic, then the neurons again around it
                    LOG.debug("LAPE: τ outside the sampled window [{}, {}], exact selection", w.lo, w.hi);
                    tau = exactPercentile(kFilter);
                    pass(null, lower(tau), cutoff);
                }
            }
            Chosen chosen = lowestEntropy(budget, cutoff);
            tauAssign = kAssign == kFilter ? tau : percentile(kAssign); // after: its pass reuses the buffers
            Map<String, String> p = params.asMap();
            p.put("filter_threshold", Double.toString(tau));
            p.put("assign_threshold", Double.toString(tauAssign));
            p.put("budget", Integer.toString(budget));
            NeuronSet set = new NeuronSet("lape", stats.module(), stats.hookPoint(), layers, neurons, p);
            List<String> names = stats.groups();
            names.forEach(set::ensureGroup);
            // by slot, which is neuron order (passes store candidates in index order): the set needs no sorting
            int k = chosen.slot().length;
            long[] bySlot = new long[k];
            for (int c = 0; c < k; c++) {
                bySlot[c] = (long) chosen.slot()[c] << 32 | c;
            }
            Arrays.sort(bySlot);
            int[][] members = new int[groups][k];
            double[][] scores = new double[groups][k];
            int[] sizes = new int[groups];
            double[] q = ws.pvec;
            for (long key : bySlot) {
                int slot = (int) (key >>> 32), c = (int) key;
                storedProbabilities(slot, q);
                for (int g = 0; g < groups; g++) {
                    if (q[g] > tauAssign) {
                        members[g][sizes[g]] = ws.candIndex[slot];
                        scores[g][sizes[g]++] = chosen.entropy()[c];
                    }
                }
            }
            for (int g = 0; g < groups; g++) {
                set.addAll(names.get(g), Arrays.copyOf(members[g], sizes[g]), Arrays.copyOf(scores[g], sizes[g]));
            }
            return set;
        }

        /** Exact p of a stored candidate, in group order, into {@code p}. */
        void storedProbabilities(int slot, double[] p) {
            int o = slot * groups;
            for (int g = 0; g < groups; g++) {
                p[g] = tokens[g] == 0 ? 0.0 : ws.candCounts[o + g] / tokensD[g];
            }
        }

        /** Whether a stored candidate survives the filter (exact max p &gt; τ; its float max decides if clear). */
        boolean survives(int slot, double lowerTau, double upperTau) {
            double m = ws.candMax[slot];
            if (m > upperTau && m < 1e30) { // (an infinite float max may hide any double)
                return true;
            }
            if (!(m >= lowerTau)) {
                return false;
            }
            storedProbabilities(slot, ws.pvec);
            return maxOf(ws.pvec, groups) > tau;
        }

        /**
         * The {@code budget} survivors (max p &gt; τ) of lowest H, ties by lower index, from the
         * candidates of the last pass (after a pass that takes every survivor as a candidate if fewer
         * than budget of them are known to have H ≤ the cut-off). Candidates carry an approximate H
         * (|error| ≤ {@link #approxError}); with A the budget-th smallest of those, only candidates
         * with approximate H ≤ A + 2·error can be among the budget lowest exact H, and only theirs is
         * computed.
         */
        Chosen lowestEntropy(int budget, double cutoff) {
            if (budget == 0) {
                return new Chosen(new int[0], new double[0]);
            }
            int m = survivingCandidates();
            int within = 0;
            for (int j = 0; j < m; j++) {
                if (ws.survH[j] <= cutoff - candError) {
                    within++;
                }
            }
            // every survivor left out has H > cutoff: with budget of them ≤ cutoff, they cannot matter
            if (within < budget && !coversAll(cutoff)) {
                LOG.debug("LAPE: {} entropies ≤ cut-off {} for a budget of {}, computing all survivors", within, cutoff, budget);
                pass(null, lower(tau), Double.POSITIVE_INFINITY);
                m = survivingCandidates();
            }
            double err = candError; // of the candidates held now
            int k = Math.min(budget, m);
            if (k == 0) {
                return new Chosen(new int[0], new double[0]);
            }
            if (ws.scratch.length < m) {
                ws.scratch = new double[Math.max(m, groups)];
            }
            System.arraycopy(ws.survH, 0, ws.scratch, 0, m);
            double limit = Selection.nth(ws.scratch, 0, m, k - 1) + 2 * err;
            // the exact pool, in index order
            if (ws.poolSlot.length < m) {
                ws.poolSlot = new int[m];
                ws.poolH = new double[m];
            }
            int[] slots = ws.poolSlot;
            double[] h = ws.poolH;
            double[] p = ws.pvec;
            int size = 0;
            for (int j = 0; j < m; j++) {
                if (ws.survH[j] <= limit) {
                    slots[size] = ws.survSlot[j];
                    storedProbabilities(ws.survSlot[j], p);
                    h[size++] = entropy(p, groups);
                }
            }
            System.arraycopy(h, 0, ws.scratch, 0, size);
            double cut = Selection.nth(ws.scratch, 0, size, k - 1);
            Chosen out = new Chosen(new int[k], new double[k]);
            int taken = 0;
            for (int j = 0; j < size && taken < k; j++) {
                if (h[j] < cut) {
                    taken = put(out, taken, slots[j], h[j]);
                }
            }
            for (int j = 0; j < size && taken < k; j++) {
                if (h[j] == cut) {
                    taken = put(out, taken, slots[j], h[j]);
                }
            }
            return out;
        }

        /** The surviving candidates (slots and approximate H, index order) into survSlot/survH; their number. */
        private int survivingCandidates() {
            if (ws.survSlot.length < candN) {
                ws.survSlot = new int[candN];
                ws.survH = new double[candN];
            }
            double lowerTau = lower(tau), upperTau = upper(tau);
            int m = 0;
            for (int c = 0; c < candN; c++) {
                if (survives(c, lowerTau, upperTau)) {
                    ws.survSlot[m] = c;
                    ws.survH[m++] = ws.candH[c];
                }
            }
            return m;
        }

        /**
         * A bound on |approximate H − exact H|: the fast logarithm's error (≤ 2·10^−13, weighted by
         * Σq = 1) plus a few roundings per group in both computations, with a wide margin.
         */
        double approxError() {
            return 1e-11 + groups * 1e-14;
        }

        private static int put(Chosen out, int taken, int slot, double h) {
            out.slot()[taken] = slot;
            out.entropy()[taken] = h;
            return taken + 1;
        }

        /** A window [lo, hi] of p values that most likely holds the k-th smallest, and a point estimate. */
        record Window(double lo, double hi, double estimate) {
        }

        /**
         * Samples neurons, in runs of {@link #RUN} adjacent ones (a cache line per group), all of them
         * when there are at most {@link #NEURON_SAMPLE}: their K values p go to {@code ws.sample} (the
         * value sample for the windows), their max p and H to {@code ws.sampleMax}, {@code ws.sampleH}.
         * Entropies with the fast logarithm: they only feed a guess.
         */
        void sample() {
            int size = layers * neurons;
            int s = Math.min(size, NEURON_SAMPLE);
            int runs = s == size ? 1 : s / RUN;
            int per = s == size ? size : RUN;
            if (ws.sample.length < s * groups) {
                ws.sample = new double[s * groups];
            }
            if (ws.sampleH.length < s) {
                ws.sampleH = new double[s];
                ws.sampleMax = new double[s];
            }
            double[] p = ws.pvec;
            int at = 0;
            for (int j = 0; j < runs; j++) {
                int start = per == size ? 0 : (int) Math.min(size - RUN, Math.max(0, (long) ((j + 0.5) * size / runs) - RUN / 2));
                for (int r = 0; r < per; r++, at++) {
                    probabilities(start + r, p);
                    System.arraycopy(p, 0, ws.sample, at * groups, groups);
                    ws.sampleMax[at] = maxOf(p, groups);
                    double h = approxEntropy(p);
                    ws.sampleH[at] = h == h ? h : entropy(p, groups); // (NaN where the fast formula needs care)
                }
            }
            sampled = s;
        }

        /** The window of the k-th smallest p (k ≥ 1) from the sampled values (reorders them). */
        Window window(long k) {
            if (ws.forcedWindow != null) {
                return new Window(ws.forcedWindow[0], ws.forcedWindow[1], ws.forcedWindow[0]);
            }
            double[] sample = ws.sample;
            int s = sampled * groups;
            double f = (double) k / total;
            double r = f * s;
            double margin = 5 * Math.sqrt(s * f * (1 - f)) + 8;
            int loIdx = (int) Math.floor(r - margin);
            int hiIdx = (int) Math.ceil(r + margin);
            int estIdx = Math.min(s - 1, Math.max(0, (int) Math.ceil(r) - 1));
            // order statistics by selection: hi first, then lo below it, then the estimate between them
            double hi = hiIdx >= s ? Double.POSITIVE_INFINITY : Selection.nth(sample, 0, s, hiIdx);
            int top = Math.min(hiIdx, s);
            double lo = loIdx < 0 ? Double.NEGATIVE_INFINITY : Selection.nth(sample, 0, top, loIdx);
            double est = estIdx == loIdx ? lo : estIdx == hiIdx ? hi : Selection.nth(sample, Math.max(0, loIdx + 1), top, estIdx);
            return new Window(lo, hi, est);
        }

        /** The k-th smallest p (1-based, k = 0 giving −∞) alone: window, one classifying pass, exact fallback. */
        double percentile(long k) {
            if (k <= 0) {
                return Double.NEGATIVE_INFINITY;
            }
            Window w = window(k);
            pass(w, lower(w.lo), Double.NaN);
            if (below < k && k <= below + keptN) {
                return Selection.nth(ws.kept, 0, keptN, (int) (k - below - 1)) + 0.0;
            }
            LOG.debug("LAPE: assignment τ outside the sampled window [{}, {}], exact selection", w.lo, w.hi);
            return exactPercentile(k);
        }

        /** The k-th smallest of all p by a full selection (rare: only when a sampled window missed). */
        double exactPercentile(long k) {
            double[] all = new double[(int) total];
            for (int i = 0; i < all.length; i++) {
                all[i] = probability(i, (i / neurons) % groups);
            }
            return Selection.kthSmallest(all, k);
        }

        /**
         * An estimate of the budget's entropy, a little high, from the sampled neurons whose max p
         * exceeds τ's estimate; +∞ when the sample cannot tell (compute all).
         */
        double guessCutoff(double tauEstimate, int budget) {
            int s = sampled, n = 0;
            double[] hs = ws.sampleH;
            for (int j = 0; j < s; j++) {
                if (ws.sampleMax[j] > tauEstimate) {
                    hs[n++] = hs[j];
                }
            }
            double e = (double) budget * s / (layers * neurons); // selected neurons expected in the sample
            double f = n == 0 ? 1 : Math.min(1, e / n);
            int at = (int) Math.ceil(e + 4 * Math.sqrt(e * (1 - f)) + 4);
            if (at >= n) {
                return Double.POSITIVE_INFINITY;
            }
            return Selection.nth(hs, 0, n, at) + approxError();
        }

        /**
         * One pass over all counts, block by block (each count is fetched from memory once). Every
         * neuron whose approximate max p reaches {@code listLo} is looked at individually; the others
         * have all their p below it. With a window ({@code listLo} then lies a margin below its lo):
         * counts the values below it and keeps those inside it (as p), for the order statistic. With a
         * cut-off (NaN or −∞: none), every listed neuron whose H_1.5 bound and approximate H allow
         * H ≤ cut-off becomes a candidate, with its approximate H and max p and its counts.
         */
        void pass(Window w, double listLo, double cutoff) {
            boolean candidates = cutoff > Double.NEGATIVE_INFINITY;
            below = 0;
            keptN = 0;
            if (candidates) {
                candN = 0;
            }
            if (w == null && !candidates) {
                return;
            }
            // raw count thresholds per group: c < loC ⇔ p < w.lo, c ≤ hiC ⇔ p ≤ w.hi (no division per value)
            double[] loC = w == null ? null : new double[groups], hiC = w == null ? null : new double[groups];
            if (w != null) {
                for (int g = 0; g < groups; g++) {
                    if (tokens[g] == 0) { // p = 0 whatever the count
                        loC[g] = 0.0 < w.lo ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
                        hiC[g] = 0.0 <= w.hi ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
                    } else {
                        loC[g] = firstAtLeast(w.lo, tokensD[g]);
                        hiC[g] = lastAtMost(w.hi, tokensD[g]);
                    }
                }
            }
            // H ≥ H_1.5 = −2 ln Σq^1.5 (Rényi entropies fall with their order; 1.5 is much tighter than the
            // collision entropy and costs one square root): Σp^1.5 < e^−U/2 · S^1.5 rules a neuron out.
            // The slack covers exp's rounding and the float arithmetic's (≤ (2.5K+12)·2^−24 relative
            // for non-negative counts); rounding the constant down only admits more.
            if (candidates) { // (a pass without candidates keeps those of the last one)
                candError = ws.vectorized ? EntropyVectorPass.entropyError(groups) : approxError();
            }
            if (ws.vectorized) {
                EntropyVectorPass.pass(this, loC, hiC, listLo, cutoff + candError, candidates);
                return;
            }
            boolean everyone = coversAll(cutoff);
            double minC = everyone ? 0 : Math.exp(-cutoff / 2) * (1 - 8.0 * (groups + 4) / (1 << 24));
            float minCF = (float) minC > minC ? Math.nextDown((float) minC) : (float) minC;
            double hMax = cutoff + approxError();
            // rounded down: listing a few more neurons is harmless, leaving one out is not
            float listLoF = (float) listLo > listLo ? Math.nextDown((float) listLo) : (float) listLo;
            listLoF += 0f;
            double[] blk = ws.block;
            float[] sum = ws.sum, power = ws.power, max = ws.max, slack = ws.slack;
            int[] list = ws.list, chosen = ws.chosen;
            double[] p = ws.pvec;
            long b = 0;
            for (int l = 0; l < layers; l++) {
                for (int n0 = 0; n0 < neurons; n0 += BLOCK) {
                    int len = Math.min(BLOCK, neurons - n0);
                    for (int g = 0; g < groups; g++) {
                        long base = ((long) (l * groups + g) * neurons + n0) * Double.BYTES;
                        MemorySegment.copy(count, ValueLayout.JAVA_DOUBLE, base, blk, g * BLOCK, len);
                    }
                    accumulate(blk, len, candidates, sum, power, max);
                    // branch-free (C2 compiles ?: to mispredicted branches here): every index is written, the
                    // count advances unless max − listLo is negative (+ 0f: no −0.0)
                    int m = 0;
                    for (int n = 0; n < len; n++) {
                        list[m] = n;
                        m += 1 - (Float.floatToRawIntBits((max[n] + 0f) - listLoF) >>> 31);
                    }
                    if (w != null) {
                        b += (long) groups * (len - m);
                        ensureKept(keptN + m * groups);
                    }
                    if (candidates) {
                        ensureCandidates(candN + m);
                    }
                    if (w != null) {
                        double[] kept = ws.kept;
                        for (int g = 0; g < groups; g++) {
                            double lo = loC[g] + 0.0, hi = hiC[g] + 0.0;
                            int o = g * BLOCK, k = keptN;
                            // branch-free: for finite x, y without −0.0 (hence the + 0.0), x − y has its
                            // sign bit set iff x < y. Every value is written, the index advances only
                            // for the window's.
                            for (int j = 0; j < m; j++) {
                                double c = blk[o + list[j]] + 0.0;
                                long isBelow = Double.doubleToRawLongBits(c - lo) >>> 63;
                                long isAbove = Double.doubleToRawLongBits(hi - c) >>> 63;
                                b += isBelow;
                                kept[k] = c;
                                k += (int) ((isBelow | isAbove) ^ 1);
                            }
                            for (int j = keptN; j < k; j++) { // counts to p
                                kept[j] = tokens[g] == 0 ? 0.0 : kept[j] / tokensD[g];
                            }
                            keptN = k;
                        }
                    }
                    if (!candidates) {
                        continue;
                    }
                    // the bound, vectorized: slack < 0 rules a neuron out
                    for (int n = 0; n < len; n++) {
                        float s = sum[n];
                        slack[n] = power[n] - minCF * (s * (float) Math.sqrt(s));
                    }
                    // listed neurons the bound keeps, or whose sums are outside the range where it is
                    // trusted (the float powers may underflow below it, overflow above), branch-free
                    int mc = 0;
                    for (int j = 0; j < m; j++) {
                        int n = list[j];
                        float s = sum[n];
                        chosen[mc] = n;
                        mc += everyone ? 1 : ((Float.floatToRawIntBits(slack[n]) >>> 31) ^ 1)
                                | (Float.floatToRawIntBits(s - 1e-15f) >>> 31) | (Float.floatToRawIntBits(1e25f - s) >>> 31);
                    }
                    for (int j = 0; j < mc; j++) {
                        int n = chosen[j];
                        double h = approxEntropy(blk, n, p);
                        if (h <= hMax) { // else H > cutoff: not needed
                            ws.candIndex[candN] = l * neurons + n0 + n;
                            ws.candMax[candN] = max[n];
                            ws.candH[candN] = h;
                            int o = candN++ * groups;
                            for (int g = 0; g < groups; g++) {
                                ws.candCounts[o + g] = blk[g * BLOCK + n];
                            }
                        }
                    }
                }
            }
            below = b;
        }

        /**
         * Approximate max p (and with {@code sums} Σp and Σp^1.5) of each neuron of the block, p ≈
         * count · (1/tokens) in float: float accumulators (unlike double ones, which C2 cannot prove
         * apart from the double block) let the loops vectorize; every use allows for their error.
         */
        private void accumulate(double[] blk, int len, boolean sums, float[] sum, float[] power, float[] max) {
            float r0 = recip[0];
            for (int n = 0; n < len; n++) {
                float v = (float) blk[n] * r0;
                sum[n] = v;
                power[n] = v * (float) Math.sqrt(v);
                max[n] = v;
            }
            for (int g = 1; g < groups; g++) {
                int o = g * BLOCK;
                float r = recip[g];
                if (sums) {
                    for (int n = 0; n < len; n++) {
                        float v = (float) blk[o + n] * r;
                        sum[n] += v;
                        power[n] += v * (float) Math.sqrt(v);
                        max[n] = Math.max(max[n], v);
                    }
                } else {
                    for (int n = 0; n < len; n++) {
                        max[n] = Math.max(max[n], (float) blk[o + n] * r);
                    }
                }
            }
        }

        /** Whether a cut-off is at least every possible H (≤ ln K), so that every survivor is a candidate. */
        private boolean coversAll(double cutoff) {
            return cutoff > Math.log(groups) + 1;
        }

        /** Stores neuron n of layer l as a candidate (room made by {@link #ensureCandidates}), its counts read from the statistics. */
        void addCandidate(int l, int n, double h, float approxMax) {
            ws.candIndex[candN] = l * neurons + n;
            ws.candMax[candN] = approxMax;
            ws.candH[candN] = h;
            int o = candN++ * groups;
            for (int g = 0; g < groups; g++) {
                ws.candCounts[o + g] = count.getAtIndex(ValueLayout.JAVA_DOUBLE, (long) (l * groups + g) * neurons + n);
            }
        }

        /** The exact H of neuron n of layer l (the formula of {@link #entropy}). */
        double exactEntropy(int l, int n) {
            probabilities(l * neurons + n, ws.pvec);
            return entropy(ws.pvec, groups);
        }

        /** The flat [layer][neuron] index of the candidate in {@code slot} (for tests of a pass's contract). */
        int candidateIndex(int slot) {
            return ws.candIndex[slot];
        }

        /** The approximate H of the candidate in {@code slot}, within {@link #candError} of the exact one. */
        double candidateEntropy(int slot) {
            return ws.candH[slot];
        }

        /** The kept values of the current pass (p inside the window); reallocated by {@link #ensureKept}. */
        double[] kept() {
            return ws.kept;
        }

        void ensureKept(int size) {
            if (ws.kept.length < size) {
                ws.kept = Arrays.copyOf(ws.kept, Math.max(size, 2 * ws.kept.length));
            }
        }

        /**
         * H of neuron n of the block within {@link #approxError} of {@link #entropy}'s: p ≈ count ·
         * (1/tokens), q = p · (1/S) and the fast logarithm. Falls back to the exact formula where that
         * bound needs care (negative counts, extreme sums, subnormal q).
         */
        private double approxEntropy(double[] blk, int n, double[] p) {
            for (int g = 0; g < groups; g++) {
                p[g] = blk[g * BLOCK + n] * recipD[g];
            }
            double h = approxEntropy(p);
            if (h == h) {
                return h;
            }
            for (int g = 0; g < groups; g++) {
                p[g] = tokens[g] == 0 ? 0.0 : blk[g * BLOCK + n] / tokensD[g];
            }
            return entropy(p, groups);
        }

        /** H of p ≈ the neuron's within {@link #approxError}, by the fast logarithm; NaN where that needs care. */
        private double approxEntropy(double[] p) {
            double s = 0;
            boolean plain = true;
            for (int g = 0; g < groups; g++) {
                double v = p[g];
                s += v;
                plain &= v >= 0;
            }
            if (plain && s >= 1e-290 && s <= 1e290) {
                double inv = 1 / s;
                double h = 0;
                for (int g = 0; g < groups; g++) {
                    double q = p[g] * inv;
                    if (q >= Double.MIN_NORMAL) {
                        h -= q * lnApprox(q);
                    } else if (q > 0) {
                        h -= q * Math.log(q);
                    }
                }
                return h;
            }
            return Double.NaN;
        }

        void ensureCandidates(int size) {
            if (ws.candIndex.length < size) {
                int cap = Math.max(size, 2 * ws.candIndex.length);
                ws.candIndex = Arrays.copyOf(ws.candIndex, cap);
                ws.candH = Arrays.copyOf(ws.candH, cap);
                ws.candMax = Arrays.copyOf(ws.candMax, cap);
                ws.candCounts = Arrays.copyOf(ws.candCounts, cap * groups);
            } else if (ws.candCounts.length < size * groups) { // the same workspace, more groups
                ws.candCounts = Arrays.copyOf(ws.candCounts, ws.candIndex.length * groups);
            }
        }
    }

    /**
     * A threshold for the approximate (float) max p a margin below {@code x}: where the approximation
     * is below it, the exact max p is below {@code x} (float rounding is ~2^−24 relative; the
     * absolute term covers float underflow).
     */
    static double lower(double x) {
        return Double.isInfinite(x) ? x : x - (Math.abs(x) * 1e-5 + 1e-37);
    }

    /** The counterpart of {@link #lower}: above it, the exact max p is above {@code x}. */
    static double upper(double x) {
        return Double.isInfinite(x) ? x : x + (Math.abs(x) * 1e-5 + 1e-37);
    }

    private static final int LN_BITS = 8;
    private static final double[] LN_TABLE = new double[(1 << LN_BITS) + 1], LN_RECIP = new double[(1 << LN_BITS) + 1];
    private static final double LN2 = Math.log(2);

    static {
        for (int j = 0; j <= 1 << LN_BITS; j++) {
            double m = 1 + (double) j / (1 << LN_BITS);
            LN_TABLE[j] = Math.log(m);
            LN_RECIP[j] = 1 / m;
        }
    }

    /**
     * ln x for normal positive x, within 4·10^−13 of Math.log (about three times faster): x = 2^e·m,
     * m = (1 + j/256)(1 + t) with |t| &lt; 2^−8, ln(1 + t) by four terms of its series. Only ever used to
     * rule neurons out with {@code approxError}'s margin; selected entropies use Math.log.
     */
    static double lnApprox(double x) {
        long bits = Double.doubleToRawLongBits(x);
        int e = (int) (bits >>> 52) - 1023;
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        int j = (int) (mantissa >>> (52 - LN_BITS));
        double m = Double.longBitsToDouble(mantissa | 0x3FF0000000000000L);
        double t = m * LN_RECIP[j] - 1;
        return e * LN2 + LN_TABLE[j] + t * (1 - t * (0.5 - t * (1.0 / 3 - t * 0.25)));
    }

    /**
     * The smallest count c with {@code c / t ≥ p} (t &gt; 0), so that {@code c < result ⇔ c / t < p}
     * exactly: division by t is monotone, so this is a binary search over the ordered doubles.
     */
    static double firstAtLeast(double p, double t) {
        if (p == Double.NEGATIVE_INFINITY) {
            return p;
        }
        long lo = orderKey(Double.NEGATIVE_INFINITY), hi = orderKey(Double.POSITIVE_INFINITY);
        if (!(fromKey(hi) / t >= p)) {
            return Double.NaN; // only for p = NaN
        }
        while (lo < hi) { // invariant: the answer's key is in [lo, hi]
            long mid = lo + ((hi - lo) >>> 1); // unsigned: the key range spans more than 2^63
            if (fromKey(mid) / t >= p) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return fromKey(lo);
    }

    /** The largest count c with {@code c / t ≤ p} (t &gt; 0), so that {@code c ≤ result ⇔ c / t ≤ p}. */
    static double lastAtMost(double p, double t) {
        if (p == Double.POSITIVE_INFINITY) {
            return p;
        }
        long lo = orderKey(Double.NEGATIVE_INFINITY), hi = orderKey(Double.POSITIVE_INFINITY);
        if (!(fromKey(lo) / t <= p)) {
            return Double.NaN; // only for p = NaN
        }
        while (lo < hi) {
            long mid = lo + ((hi - lo + 1) >>> 1);
            if (fromKey(mid) / t <= p) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return fromKey(lo);
    }

    /** A long in the signed order of the doubles (−0.0 just below 0.0); its own inverse. */
    private static long orderKey(double v) {
        long bits = Double.doubleToRawLongBits(v);
        return bits < 0 ? bits ^ Long.MAX_VALUE : bits;
    }

    private static double fromKey(long key) {
        return Double.longBitsToDouble(key < 0 ? key ^ Long.MAX_VALUE : key);
    }
}
