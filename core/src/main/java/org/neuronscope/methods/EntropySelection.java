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

    /** Selected neurons (flat [layer][neuron] indices) with their entropies. */
    private record Chosen(int[] index, double[] entropy) {
    }

    private EntropySelection() {
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
        for (int i = 0; i < h.length; i++) {
            h[i] = k.max[i] > k.tau ? k.entropy(i) : Double.POSITIVE_INFINITY;
        }
        return new Result(p, h, k.tau, k.tauAssign, set);
    }

    private static final class Kernel {
        final NeuronStatistics stats;
        final Params params;
        final MemorySegment count;
        final int layers, groups, neurons;
        final long[] tokens;
        final double[] tokensD;
        // per neuron [layer][neuron]: Σ_k p, max_k p, Σ_k p²
        final double[] sum, max, sumSq;
        double tau, tauAssign;

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
            this.sum = new double[layers * neurons];
            this.max = new double[layers * neurons];
            this.sumSq = new double[layers * neurons];
        }

        /** p of the flat [layer][group][neuron] index {@code i}, group {@code g}. */
        double probability(long i, int g) {
            return tokens[g] == 0 ? 0.0 : count.getAtIndex(ValueLayout.JAVA_DOUBLE, i) / tokensD[g];
        }

        /** H of neuron {@code i} = l·N + n, exactly as METHODS.md writes it (group order). */
        double entropy(int i) {
            int l = i / neurons, n = i % neurons;
            double s = sum[i];
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

        /**
         * The k-th smallest p (1-based), k = 0 giving −∞. With {@code accumulate}, the same pass fills
         * sum, max and sumSq. Values below a window [lo, hi] around a sampled estimate are counted,
         * values inside it kept; if the rank falls outside the window, an exact full selection follows.
         */
        double percentile(long k, boolean accumulate) {
            long total = (long) layers * groups * neurons;
            double lo, hi;
            boolean window = k > 0;
            if (window) {
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
                lo = loIdx < 0 ? Double.NEGATIVE_INFINITY : sample[loIdx];
                hi = hiIdx >= s ? Double.POSITIVE_INFINITY : sample[hiIdx];
            } else {
                lo = Double.POSITIVE_INFINITY; // nothing kept, everything "below": unused
                hi = Double.NEGATIVE_INFINITY;
            }
            double[] buf = new double[Math.max(1024, 2 * neurons)];
            double[] row = new double[neurons];
            int kept = 0;
            long below = 0;
            for (int l = 0; l < layers; l++) {
                int o = l * neurons;
                for (int g = 0; g < groups; g++) {
                    long base = (long) (l * groups + g) * neurons;
                    if (tokens[g] == 0) {
                        Arrays.fill(row, 0.0);
                    } else {
                        MemorySegment.copy(count, ValueLayout.JAVA_DOUBLE, base * Double.BYTES, row, 0, neurons);
                        divide(row, tokensD[g]);
                    }
                    if (accumulate) {
                        if (g == 0) {
                            first(row, o);
                        } else {
                            next(row, o);
                        }
                    }
                    if (buf.length - kept < neurons) {
                        buf = Arrays.copyOf(buf, Math.max(buf.length * 2, kept + neurons));
                    }
                    // branch-free: every value is written, the index advances only for the window's
                    for (int n = 0; n < neurons; n++) {
                        double p = row[n];
                        below += p < lo ? 1 : 0;
                        buf[kept] = p;
                        kept += p >= lo && p <= hi ? 1 : 0;
                    }
                }
            }
            if (!window) {
                return Double.NEGATIVE_INFINITY;
            }
            if (below < k && k <= below + kept) {
                Arrays.sort(buf, 0, kept);
                return buf[(int) (k - below - 1)] + 0.0; // + 0.0: -0.0 reads as 0.0
            }
            // the sample misled the window: exact selection over everything (rare; still exact)
            double[] all = new double[(int) total];
            for (long i = 0; i < total; i++) {
                all[(int) i] = probability(i, (int) ((i / neurons) % groups));
            }
            return Selection.kthSmallest(all, k);
        }

        private static void divide(double[] row, double t) {
            for (int n = 0; n < row.length; n++) {
                row[n] = row[n] / t;
            }
        }

        private void first(double[] row, int o) {
            for (int n = 0; n < row.length; n++) {
                double p = row[n];
                sum[o + n] = p;
                max[o + n] = p;
                sumSq[o + n] = p * p;
            }
        }

        private void next(double[] row, int o) {
            for (int n = 0; n < row.length; n++) {
                double p = row[n];
                sum[o + n] += p;
                max[o + n] = Math.max(max[o + n], p);
                sumSq[o + n] += p * p;
            }
        }

        /** The {@code budget} surviving neurons (max p &gt; τ) of lowest H, ties by lower index. */
        Chosen lowestEntropy(int budget) {
            int size = layers * neurons;
            int survivors = 0;
            for (int i = 0; i < size; i++) {
                if (max[i] > tau) {
                    survivors++;
                }
            }
            int[] surv = new int[survivors];
            for (int i = 0, j = 0; i < size; i++) {
                if (max[i] > tau) {
                    surv[j++] = i;
                }
            }
            int k = Math.min(budget, survivors);
            double[] h = new double[survivors];
            Arrays.fill(h, Double.NaN); // NaN: not computed (yet)
            int[] todo = new int[survivors];
            if (k == survivors) {
                for (int j = 0; j < survivors; j++) {
                    todo[j] = j;
                }
                entropies(surv, todo, survivors, h);
            } else if (k > 0) {
                // collision probability Σq² = Σp²/S²; H ≥ −ln Σq². A neuron whose bound exceeds a T that at
                // least k computed entropies reach cannot be among the k lowest.
                double[] c2 = new double[survivors];
                for (int j = 0; j < survivors; j++) {
                    double s = sum[surv[j]];
                    c2[j] = s == 0 ? Double.POSITIVE_INFINITY : sumSq[surv[j]] / (s * s);
                }
                double guess = guessCutoff(surv, h, k);
                while (true) {
                    boolean all = guess > Math.log(groups) + 1;
                    double minC2 = all ? Double.NEGATIVE_INFINITY : Math.exp(-guess) * (1 - 1e-9); // slack for rounding
                    int m = 0;
                    for (int j = 0; j < survivors; j++) {
                        if (c2[j] >= minC2 && h[j] != h[j]) {
                            todo[m++] = j;
                        }
                    }
                    entropies(surv, todo, m, h);
                    int atMost = 0;
                    for (int j = 0; j < survivors; j++) {
                        if (c2[j] >= minC2 && h[j] <= guess) {
                            atMost++;
                        }
                    }
                    if (atMost >= k || all) {
                        break; // the k-th lowest H is ≤ guess, and every neuron left out has H > guess
                    }
                    guess = guess <= 0 ? 1e-3 : guess * 1.25 + 1e-3;
                }
            }
            // k lowest among the computed: the cut value, then strictly lower ones and ties by index
            int computed = 0;
            for (double v : h) {
                if (v == v) {
                    computed++;
                }
            }
            double[] values = new double[computed];
            for (int j = 0, c = 0; j < survivors; j++) {
                if (h[j] == h[j]) {
                    values[c++] = h[j];
                }
            }
            Chosen out = new Chosen(new int[k], new double[k]);
            if (k == 0) {
                return out;
            }
            Arrays.sort(values);
            double cut = values[k - 1];
            int taken = 0;
            for (int j = 0; j < survivors && taken < k; j++) {
                if (h[j] < cut) {
                    taken = put(out, taken, surv[j], h[j]);
                }
            }
            for (int j = 0; j < survivors && taken < k; j++) {
                if (h[j] == cut) {
                    taken = put(out, taken, surv[j], h[j]);
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
         * H of the survivors {@code surv[todo[0..m)]} (todo ascending) into {@code h}: the same
         * arithmetic as {@link #entropy}, in the same group order per neuron, but reading the counts
         * row by row.
         */
        private void entropies(int[] surv, int[] todo, int m, double[] h) {
            int start = 0;
            while (start < m) {
                int l = surv[todo[start]] / neurons;
                int end = start;
                while (end < m && surv[todo[end]] / neurons == l) {
                    h[todo[end++]] = 0;
                }
                for (int g = 0; g < groups; g++) {
                    long base = (long) (l * groups + g) * neurons - (long) l * neurons;
                    boolean none = tokens[g] == 0;
                    double t = tokensD[g];
                    for (int j = start; j < end; j++) {
                        int i = surv[todo[j]];
                        double s = sum[i];
                        double p = none ? 0.0 : count.getAtIndex(ValueLayout.JAVA_DOUBLE, base + i) / t;
                        double q = s == 0 ? 0 : p / s;
                        if (q > 0) {
                            h[todo[j]] -= q * Math.log(q);
                        }
                    }
                }
                start = end;
            }
        }

        /** An estimate of the k-th lowest H from a sample of the survivors' exact entropies, a little high. */
        private double guessCutoff(int[] surv, double[] h, int k) {
            int n = surv.length;
            int s = Math.min(n, 2048);
            double[] sample = new double[s];
            for (int j = 0; j < s; j++) {
                int idx = (int) ((j + 0.5) * n / s);
                h[idx] = entropy(surv[idx]);
                sample[j] = h[idx];
            }
            Arrays.sort(sample);
            double f = (double) k / n;
            int at = (int) Math.ceil(f * s + 4 * Math.sqrt(s * f * (1 - f)) + 4);
            return sample[Math.min(s - 1, at)];
        }
    }
}
