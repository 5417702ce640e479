package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Activation-probability entropy (LAPE; MMNeuron's domain variant), METHODS.md §1, from the COUNT
 * statistic (threshold 0: activation &gt; 0) and the token count of each group:
 * <ol>
 * <li>{@code p[l,n,k] = count[l,k,n] / tokens(k)} (0 for a group without tokens);</li>
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
 * <p>{@link #select} is the fast kernel: one pass over the counts computes each neuron's Σp, max p
 * and Σp² and finds τ in a window around a sampled estimate (exact: it falls back to a full order
 * statistic if the window misses); the entropy, whose logarithms dominate the cost, is computed only
 * for neurons whose collision entropy {@code −ln Σq² ≤ H} does not already rule them out. The result
 * is bit-identical to computing everything ({@link #compute}).
 */
public final class EntropySelection {
    /** Defaults (METHODS.md): top rate 1 %, filter percentile 0.95, assignment percentile 0.95. */
    public record Params(double topRate, double filterPercentile, double assignPercentile) {
        public static final Params DEFAULTS = new Params(0.01, 0.95, 0.95);

        public Params {
            if (!(topRate >= 0 && topRate <= 1)) {
                throw new NeuronScopeException("topRate must be in [0, 1], got " + topRate);
            }
            if (!(filterPercentile >= 0 && filterPercentile <= 1) || !(assignPercentile >= 0 && assignPercentile <= 1)) {
                throw new NeuronScopeException("percentiles must be in [0, 1], got filter " + filterPercentile + ", assign " + assignPercentile);
            }
        }

        Map<String, String> asMap() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("top_rate", Double.toString(topRate));
            m.put("filter_percentile", Double.toString(filterPercentile));
            m.put("assign_percentile", Double.toString(assignPercentile));
            return m;
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

    private static final int SAMPLE = 1 << 15;
    /** Bound on |q·fastLog(q) summed − the same with Math.log| for Σq = 1, with a wide margin. */
    static final double APPROX_ERROR = 1e-7;
    private static final int LOG_BITS = 10;
    private static final double[] LOG_AT = new double[1 << LOG_BITS];
    private static final double[] INV_AT = new double[1 << LOG_BITS];
    private static final double LN2 = Math.log(2);

    static {
        for (int i = 0; i < LOG_AT.length; i++) {
            double m = 1 + (double) i / LOG_AT.length;
            LOG_AT[i] = Math.log(m);
            INV_AT[i] = 1 / m;
        }
    }

    /**
     * ln x for normal x &gt; 0 within about 1e-10: x = m·2^e, m ∈ [1, 2) split at 2^-10 into a table of
     * ln m_i and the series ln(1 + d) ≈ d − d²/2 + d³/3 for d = m/m_i − 1 &lt; 2^-10.
     */
    static double fastLog(double x) {
        long bits = Double.doubleToRawLongBits(x);
        int e = (int) (bits >>> 52) - 1023;
        if (e == -1023 || e == 1024) {
            return Math.log(x); // subnormal, infinite or NaN
        }
        int i = (int) (bits >>> (52 - LOG_BITS)) & ((1 << LOG_BITS) - 1);
        double m = Double.longBitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        double d = m * INV_AT[i] - 1;
        return e * LN2 + LOG_AT[i] + d * (1 - d * (0.5 - d * (1.0 / 3)));
    }

    /** Selected neurons (flat [layer][neuron] indices) with their entropies. */
    private record Chosen(int[] index, double[] entropy) {
    }

    private EntropySelection() {
    }

    /** The smallest count c with c / t ≥ v (division is monotone), or NaN; for tests. */
    static double countAtLeast(double v, double t) {
        return Kernel.atLeast(v, t);
    }

    /** The largest count c with c / t ≤ v, or NaN; for tests. */
    static double countAtMost(double v, double t) {
        return Kernel.atMost(v, t);
    }

    /** LAPE's selection (the fast kernel). */
    public static NeuronSet select(NeuronStatistics stats, Params params) {
        return new Kernel(stats, params).run();
    }

    /** The selection together with every p and H (allocates L·K·N + L·N doubles). */
    public static Result compute(NeuronStatistics stats, Params params) {
        Kernel k = new Kernel(stats, params);
        NeuronSet set = k.run();
        int layers = stats.layers(), groups = stats.groupCount(), neurons = stats.neurons();
        double[] p = new double[layers * groups * neurons];
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < groups; g++) {
                int base = (l * groups + g) * neurons;
                for (int n = 0; n < neurons; n++) {
                    p[base + n] = k.probability(base + n, g);
                }
            }
        }
        double[] h = new double[layers * neurons];
        for (int l = 0; l < layers; l++) {
            for (int n = 0; n < neurons; n++) {
                double max = Double.NEGATIVE_INFINITY;
                double sum = 0;
                for (int g = 0; g < groups; g++) {
                    double v = p[(l * groups + g) * neurons + n];
                    max = Math.max(max, v);
                    sum = g == 0 ? v : sum + v;
                }
                h[l * neurons + n] = max > k.tau ? k.entropy(l, n, sum) : Double.POSITIVE_INFINITY;
            }
        }
        return new Result(p, h, k.tau, k.tauAssign, set);
    }

    /**
     * The kernel, in two passes over the counts. Pass 1 classifies every count against a window
     * [lo, hi] around a sampled estimate of τ — on the raw counts, against per-group count thresholds
     * equivalent to comparing {@code count / tokens} (division is monotone, so the thresholds are
     * exact), with no division — and marks the neurons with some p ≥ lo (a superset of the survivors,
     * as τ ≥ lo). Pass 2 visits only those: Σp, max p and Σp² in group order, the filter max p &gt; τ.
     * Then the lowest entropies, computed only where the collision bound allows.
     */
    private static final class Kernel {
        final NeuronStatistics stats;
        final Params params;
        final MemorySegment count;
        final int layers, groups, neurons;
        final long[] tokens;
        final double[] tokensD;
        double tau, tauAssign;
        /** neurons with some p ≥ lo of the filter window (all of them when the window missed) */
        byte[] candidate;
        /** survivors (max p &gt; τ), ascending flat [layer][neuron] indices, with Σp and Σp² */
        int[] surv;
        double[] sumS, sumSqS;
        /** the survivors' p, [survivor][group] */
        double[] packedP;

        Kernel(NeuronStatistics stats, Params params) {
            if (stats.countThreshold() != 0f) {
                throw new NeuronScopeException("entropy selection needs COUNT with threshold 0 (activation > 0), not " + stats.countThreshold());
            }
            if ((long) stats.layers() * stats.groupCount() * stats.neurons() > Integer.MAX_VALUE - 8) {
                throw new NeuronScopeException("too many values for entropy selection: " + stats.layers() + " x " + stats.groupCount() + " x " + stats.neurons());
            }
            this.stats = stats;
            this.params = params;
            this.count = stats.segment(Statistic.COUNT);
            this.layers = stats.layers();
            this.groups = stats.groupCount();
            this.neurons = stats.neurons();
            this.tokens = new long[groups];
            this.tokensD = new double[groups];
            for (int g = 0; g < groups; g++) {
                tokens[g] = stats.tokens(g);
                tokensD[g] = tokens[g];
            }
        }

        /** p of the flat [layer][group][neuron] index {@code i}, group {@code g}. */
        double probability(long i, int g) {
            return tokens[g] == 0 ? 0.0 : count.getAtIndex(ValueLayout.JAVA_DOUBLE, i) / tokensD[g];
        }

        /** H of neuron n of layer l whose Σp is {@code s}, exactly as METHODS.md writes it (group order). */
        double entropy(int l, int n, double s) {
            double h = 0;
            for (int g = 0; g < groups; g++) {
                double q = s == 0 ? 0 : probability((long) (l * groups + g) * neurons + n, g) / s;
                if (q > 0) {
                    h -= q * Math.log(q);
                }
            }
            return h;
        }

        NeuronSet run() {
            long total = (long) layers * groups * neurons;
            long kFilter = Math.round(params.filterPercentile() * total);
            long kAssign = Math.round(params.assignPercentile() * total);
            tau = percentile(kFilter, true);
            tauAssign = kAssign == kFilter ? tau : percentile(kAssign, false);
            survivors();
            int budget = (int) Math.round(params.topRate() * layers * neurons);
            Chosen chosen = lowestEntropy(budget);
            Map<String, String> p = params.asMap();
            p.put("filter_threshold", Double.toString(tau));
            p.put("assign_threshold", Double.toString(tauAssign));
            p.put("budget", Integer.toString(budget));
            NeuronSet set = new NeuronSet("lape", stats.hookPoint(), layers, neurons, p);
            List<String> names = stats.groups();
            names.forEach(set::ensureGroup);
            for (int c = 0; c < chosen.index().length; c++) {
                int i = chosen.index()[c];
                double h = chosen.entropy()[c];
                int l = i / neurons, n = i % neurons;
                for (int g = 0; g < groups; g++) {
                    if (probability((long) (l * groups + g) * neurons + n, g) > tauAssign) {
                        set.add(names.get(g), l, n, h);
                    }
                }
            }
            return set;
        }

        /** The smallest count c with c / t ≥ v, or NaN if stepping does not settle (then classify by dividing). */
        static double atLeast(double v, double t) {
            if (v == Double.NEGATIVE_INFINITY || v <= 0) {
                return Double.NEGATIVE_INFINITY; // counts are never negative: every one qualifies
            }
            if (v == Double.POSITIVE_INFINITY) {
                return Double.POSITIVE_INFINITY;
            }
            double c = v * t;
            for (int i = 0; i < 64 && !(c / t >= v); i++) {
                c = Math.nextUp(c);
            }
            for (int i = 0; i < 64 && Math.nextDown(c) / t >= v; i++) {
                c = Math.nextDown(c);
            }
            return c / t >= v && !(Math.nextDown(c) / t >= v) ? c : Double.NaN;
        }

        /** The largest count c with c / t ≤ v, or NaN if stepping does not settle. */
        static double atMost(double v, double t) {
            if (v == Double.POSITIVE_INFINITY) {
                return Double.POSITIVE_INFINITY;
            }
            if (v < 0 || v == Double.NEGATIVE_INFINITY) {
                return Double.NEGATIVE_INFINITY; // no count qualifies
            }
            double c = v * t;
            for (int i = 0; i < 64 && !(c / t <= v); i++) {
                c = Math.nextDown(c);
            }
            for (int i = 0; i < 64 && Math.nextUp(c) / t <= v; i++) {
                c = Math.nextUp(c);
            }
            return c / t <= v && !(Math.nextUp(c) / t <= v) ? c : Double.NaN;
        }

        /**
         * The k-th smallest p (1-based), k = 0 giving −∞. With {@code markCandidates}, also marks the
         * neurons having some p ≥ lo. Counts below a window [lo, hi] around a sampled estimate are
         * counted, counts inside it kept (by index); if the rank falls outside the window, an exact full
         * selection follows and every neuron is a candidate.
         */
        double percentile(long k, boolean markCandidates) {
            long total = (long) layers * groups * neurons;
            if (markCandidates) {
                candidate = new byte[layers * neurons];
            }
            if (k == 0) {
                if (markCandidates) {
                    Arrays.fill(candidate, (byte) 1); // τ = −∞: every neuron survives
                    for (int l = 0; l < layers; l++) {
                        gatherLayer(l, false);
                    }
                }
                return Double.NEGATIVE_INFINITY;
            }
            int s = (int) Math.min(total, SAMPLE);
            double[] sample = new double[s];
            for (int j = 0; j < s; j++) {
                long i = (long) ((j + 0.5) * total / s);
                sample[j] = probability(i, (int) ((i / neurons) % groups));
            }
            Arrays.sort(sample);
            double f = (double) k / total;
            double r = f * s;
            double margin = 5 * Math.sqrt(s * f * (1 - f)) + 8;
            int loIdx = (int) Math.floor(r - margin);
            int hiIdx = (int) Math.ceil(r + margin);
            double lo = loIdx < 0 ? Double.NEGATIVE_INFINITY : sample[loIdx];
            double hi = hiIdx >= s ? Double.POSITIVE_INFINITY : sample[hiIdx];

            int[] kept = new int[Math.max(1024, 2 * neurons)];
            int nKept = 0;
            long below = 0;
            if (layerRows == null) {
                layerRows = new double[groups][neurons];
            }
            for (int l = 0; l < layers; l++) {
                int o = l * neurons;
                for (int g = 0; g < groups; g++) {
                    int base = (l * groups + g) * neurons;
                    if (kept.length - nKept < neurons) {
                        kept = Arrays.copyOf(kept, Math.max(kept.length * 2, nKept + neurons));
                    }
                    double cLo;
                    double cHi;
                    if (tokens[g] == 0) {
                        // every p is 0: every count is classified as p = 0 would be
                        if (0.0 < lo) {
                            below += neurons;
                            continue;
                        }
                        cLo = Double.NEGATIVE_INFINITY;
                        cHi = 0.0 <= hi ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
                    } else {
                        cLo = atLeast(lo, tokensD[g]);
                        cHi = atMost(hi, tokensD[g]);
                        MemorySegment.copy(count, ValueLayout.JAVA_DOUBLE, (long) base * Double.BYTES, layerRows[g], 0, neurons);
                    }
                    if (cLo != cLo || cHi != cHi) {
                        // thresholds that did not settle (never seen): classify by dividing, as METHODS.md writes it
                        for (int n = 0; n < neurons; n++) {
                            double p = probability(base + n, g);
                            below += p < lo ? 1 : 0;
                            kept[nKept] = base + n;
                            nKept += p >= lo && p <= hi ? 1 : 0;
                            if (markCandidates && p >= lo) {
                                candidate[o + n] = 1;
                            }
                        }
                        continue;
                    }
                    // counts at or above cLo are rare (about 1 − filterPercentile of them): a branch the
                    // predictor gets right almost always is cheaper than branch-free stores on every count
                    long atOrAbove = 0;
                    double[] row = layerRows[g];
                    for (int n = 0; n < neurons; n++) {
                        double c = row[n];
                        if (c >= cLo) {
                            atOrAbove++;
                            if (markCandidates) {
                                candidate[o + n] = 1;
                            }
                            if (c <= cHi) {
                                kept[nKept++] = base + n;
                            }
                        }
                    }
                    below += neurons - atOrAbove;
                }
                if (markCandidates) {
                    gatherLayer(l, true); // the layer's count rows were just copied: its candidates' p come from them
                }
            }
            if (below < k && k <= below + nKept) {
                double[] values = new double[nKept];
                for (int j = 0; j < nKept; j++) {
                    int i = kept[j];
                    values[j] = probability(i, (i / neurons) % groups);
                }
                Arrays.sort(values);
                return values[(int) (k - below - 1)] + 0.0; // + 0.0: -0.0 reads as 0.0
            }
            // the sample misled the window: exact selection over everything (rare; still exact)
            if (markCandidates) {
                Arrays.fill(candidate, (byte) 1);
                gathered = 0;
                for (int l = 0; l < layers; l++) {
                    gatherLayer(l, false);
                }
            }
            double[] all = new double[(int) total];
            for (long i = 0; i < total; i++) {
                all[(int) i] = probability(i, (int) ((i / neurons) % groups));
            }
            return Selection.kthSmallest(all, k);
        }

        /** Candidates gathered so far: flat index, Σp, max p, Σp² (group order) and p ([candidate][group]). */
        int gathered;
        int[] gIdx = new int[0];
        double[] gSum = new double[0], gMax = new double[0], gSumSq = new double[0], gP = new double[0];
        int[] layerCand;
        /** pass 1's copies of the current layer's count rows, one per group */
        double[][] layerRows;

        /**
         * Σp, max p, Σp² and the p of layer l's candidates (some p ≥ lo), appended to the gathered ones;
         * {@code fromRows}: read the counts from {@link #layerRows} (pass 1 just filled them).
         */
        void gatherLayer(int l, boolean fromRows) {
            if (layerCand == null) {
                layerCand = new int[neurons];
            }
            int o = l * neurons;
            int c = 0;
            for (int n = 0; n < neurons; n++) {
                layerCand[c] = n;
                c += candidate[o + n];
            }
            if (gIdx.length - gathered < c) {
                int cap = Math.max(2 * gIdx.length, gathered + Math.max(c, layers > 0 ? c * (layers - l) : c));
                gIdx = Arrays.copyOf(gIdx, cap);
                gSum = Arrays.copyOf(gSum, cap);
                gMax = Arrays.copyOf(gMax, cap);
                gSumSq = Arrays.copyOf(gSumSq, cap);
                gP = Arrays.copyOf(gP, cap * groups);
            }
            int at = gathered;
            long layerBase = (long) l * groups * neurons;
            // candidate by candidate, all groups: the sums stay in registers, p is written contiguously
            for (int j = 0; j < c; j++) {
                int n = layerCand[j];
                int x = at + j;
                int px = x * groups;
                double sum = 0;
                double max = 0;
                double sumSq = 0;
                for (int g = 0; g < groups; g++) {
                    double cnt = fromRows ? layerRows[g][n] : count.getAtIndex(ValueLayout.JAVA_DOUBLE, layerBase + (long) g * neurons + n);
                    double p = tokens[g] == 0 ? 0.0 : cnt / tokensD[g];
                    gP[px + g] = p;
                    if (g == 0) {
                        sum = p;
                        max = p;
                        sumSq = p * p;
                    } else {
                        sum += p;
                        max = Math.max(max, p);
                        sumSq += p * p;
                    }
                }
                gSum[x] = sum;
                gMax[x] = max;
                gSumSq[x] = sumSq;
                gIdx[x] = o + n;
            }
            gathered += c;
        }

        /** The survivors: gathered candidates with max p &gt; τ (in place; the arrays become the survivors'). */
        void survivors() {
            int m = 0;
            for (int x = 0; x < gathered; x++) {
                if (gMax[x] > tau) {
                    gIdx[m] = gIdx[x];
                    gSum[m] = gSum[x];
                    gSumSq[m] = gSumSq[x];
                    if (m != x) {
                        System.arraycopy(gP, x * groups, gP, m * groups, groups);
                    }
                    m++;
                }
            }
            surv = Arrays.copyOf(gIdx, m);
            sumS = gSum;
            sumSqS = gSumSq;
            packedP = gP;
            candidate = null;
            gMax = null;
        }

        /**
         * The {@code budget} surviving neurons (max p &gt; τ) of lowest H, ties by lower index. First
         * with approximate entropies ({@link #fastLog}, error below {@link #APPROX_ERROR}) for the
         * survivors the collision bound −ln Σq² ≤ H does not rule out; then exact entropies (Math.log,
         * the arithmetic of METHODS.md) only for those whose approximate H could place them among the
         * lowest — so the selection and its scores are exactly those of computing every H exactly.
         */
        Chosen lowestEntropy(int budget) {
            int survivors = surv.length;
            int k = Math.min(budget, survivors);
            Chosen out = new Chosen(new int[k], new double[k]);
            if (k == 0) {
                return out;
            }
            double[] approx = new double[survivors];
            Arrays.fill(approx, Double.NaN); // NaN: not computed (yet)
            int[] todo = new int[survivors];
            double[] c2 = new double[survivors];
            for (int j = 0; j < survivors; j++) {
                double s = sumS[j];
                c2[j] = s == 0 ? Double.POSITIVE_INFINITY : sumSqS[j] / (s * s);
            }
            // grow T until at least k neurons surely have H ≤ T (approximate H + error ≤ T); every neuron
            // whose collision bound exceeds T was never computed and cannot be among the k lowest
            double guess = guessCutoff(k);
            double cutoff;
            while (true) {
                boolean all = guess > Math.log(groups) + 1;
                double minC2 = all ? Double.NEGATIVE_INFINITY : Math.exp(-guess) * (1 - 1e-9); // slack for rounding
                int m = 0;
                for (int j = 0; j < survivors; j++) {
                    if (c2[j] >= minC2 && approx[j] != approx[j]) {
                        todo[m++] = j;
                    }
                }
                entropies(todo, m, approx, true);
                double[] upper = new double[survivors];
                int n = 0;
                for (int j = 0; j < survivors; j++) {
                    if (approx[j] == approx[j] && approx[j] + APPROX_ERROR <= guess) {
                        upper[n++] = approx[j] + APPROX_ERROR;
                    }
                }
                if (n >= k) {
                    cutoff = Selection.kthSmallest(Arrays.copyOf(upper, n), k); // ≥ the k-th lowest exact H
                    break;
                }
                if (all) {
                    cutoff = Double.POSITIVE_INFINITY;
                    break;
                }
                guess = guess <= 0 ? 1e-3 : guess * 1.25 + 1e-3;
            }
            // exact H for every neuron that may have H ≤ cutoff
            int m = 0;
            for (int j = 0; j < survivors; j++) {
                if (approx[j] == approx[j] && approx[j] - APPROX_ERROR <= cutoff) {
                    todo[m++] = j;
                }
            }
            double[] h = new double[survivors];
            Arrays.fill(h, Double.NaN);
            entropies(todo, m, h, false);
            double[] values = new double[m];
            for (int j = 0; j < m; j++) {
                values[j] = h[todo[j]];
            }
            Arrays.sort(values);
            double cut = values[k - 1];
            int taken = 0;
            for (int j = 0; j < m && taken < k; j++) {
                if (h[todo[j]] < cut) {
                    taken = put(out, taken, surv[todo[j]], h[todo[j]]);
                }
            }
            for (int j = 0; j < m && taken < k; j++) {
                if (h[todo[j]] == cut) {
                    taken = put(out, taken, surv[todo[j]], h[todo[j]]);
                }
            }
            return out;
        }

        private static int put(Chosen out, int taken, int index, double h) {
            out.index()[taken] = index;
            out.entropy()[taken] = h;
            return taken + 1;
        }

        /**
         * H of the survivors {@code todo[0..m)} (ascending) into {@code h}: the arithmetic of
         * {@link #entropy} in the same group order per neuron, reading the counts row by row; with
         * {@code approximate}, {@link #fastLog} instead of Math.log.
         */
        private void entropies(int[] todo, int m, double[] h, boolean approximate) {
            for (int x = 0; x < m; x++) {
                int j = todo[x];
                double s = sumS[j];
                double e = 0;
                int at = j * groups;
                for (int g = 0; g < groups; g++) {
                    double q = s == 0 ? 0 : packedP[at + g] / s;
                    if (q > 0) {
                        e -= q * (approximate ? fastLog(q) : Math.log(q));
                    }
                }
                h[j] = e;
            }
        }

        /** An estimate of the k-th lowest H from a sample of the survivors' (approximate) entropies, a little high. */
        private double guessCutoff(int k) {
            int n = surv.length;
            int s = Math.min(n, 2048);
            int[] todo = new int[s];
            for (int j = 0; j < s; j++) {
                todo[j] = (int) ((j + 0.5) * n / s);
            }
            double[] h = new double[n];
            entropies(todo, s, h, true);
            double[] sample = new double[s];
            for (int j = 0; j < s; j++) {
                sample[j] = h[todo[j]];
            }
            Arrays.sort(sample);
            double f = (double) k / n;
            int at = (int) Math.ceil(f * s + 4 * Math.sqrt(s * f * (1 - f)) + 4);
            return sample[Math.min(s - 1, at)];
        }
    }
}
