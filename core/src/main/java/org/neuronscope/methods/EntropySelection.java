package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;

/**
 * Activation-probability entropy (LAPE; MMNeuron's domain variant), METHODS.md §1:
 * p[l,n,k] = count(a > 0) / tokens(k); q = p / Σ_k p; H = −Σ q ln q; τ = the k-th smallest of all p
 * (k = round(filterPercentile·|P|)); neurons with max_k p ≤ τ are dropped; the round(topRate·L·N)
 * lowest-entropy neurons are selected globally; each goes to every group with p > τ_assign.
 */
public final class EntropySelection {
    /** Defaults: top rate 1 %, filter and assignment percentiles 0.95. */
    public record Params(double topRate, double filterPercentile, double assignPercentile) {
        public static final Params DEFAULTS = new Params(0.01, 0.95, 0.95);

        public Params {
            if (!(topRate > 0 && topRate <= 1) || !(filterPercentile >= 0 && filterPercentile <= 1) || !(assignPercentile >= 0 && assignPercentile <= 1)) {
                throw new NeuronScopeException("topRate in (0, 1], percentiles in [0, 1]");
            }
        }
    }

    /** The intermediate arrays, for inspection and tests. p and H laid out [layer][neuron] (p: [layer][group][neuron]). */
    public record Result(double[] probability, double[] entropy, double filterThreshold, double assignThreshold, NeuronSet selected) {
    }

    private EntropySelection() {
    }

    public static NeuronSet select(NeuronStatistics stats, Params params) {
        return compute(stats, params).selected();
    }

    public static Result compute(NeuronStatistics stats, Params params) {
        if (stats.countThreshold() != 0f) {
            throw new NeuronScopeException("entropy selection needs COUNT with threshold 0 (activation > 0), not " + stats.countThreshold());
        }
        int layers = stats.layers();
        int neurons = stats.neurons();
        int groups = stats.groupCount();
        MemorySegment count = stats.segment(Statistic.COUNT);
        double[] p = new double[layers * groups * neurons];
        for (int k = 0; k < groups; k++) {
            long tokens = stats.tokens(k);
            for (int l = 0; l < layers; l++) {
                long base = stats.offset(l, k);
                for (int n = 0; n < neurons; n++) {
                    p[(int) base + n] = tokens == 0 ? 0.0 : count.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n) / tokens;
                }
            }
        }
        double tau = Selection.kthSmallest(p, Math.round(params.filterPercentile() * p.length));
        double tauAssign = params.assignPercentile() == params.filterPercentile() ? tau
                : Selection.kthSmallest(p, Math.round(params.assignPercentile() * p.length));
        double[] h = new double[layers * neurons];
        double[] total = new double[neurons];
        double[] max = new double[neurons];
        for (int l = 0; l < layers; l++) {
            // group-major loops: every pass runs along contiguous neurons
            java.util.Arrays.fill(total, 0);
            java.util.Arrays.fill(max, 0);
            for (int k = 0; k < groups; k++) {
                int base = (l * groups + k) * neurons;
                for (int n = 0; n < neurons; n++) {
                    double v = p[base + n];
                    total[n] += v;
                    max[n] = Math.max(max[n], v);
                }
            }
            int out = l * neurons;
            for (int n = 0; n < neurons; n++) {
                if (max[n] <= tau) {
                    h[out + n] = Double.POSITIVE_INFINITY; // filtered out: no logarithms spent on it
                }
            }
            for (int k = 0; k < groups; k++) {
                int base = (l * groups + k) * neurons;
                for (int n = 0; n < neurons; n++) {
                    double q = total[n] == 0 ? 0 : p[base + n] / total[n];
                    if (q > 0 && h[out + n] != Double.POSITIVE_INFINITY) {
                        h[out + n] -= q * Math.log(q);
                    }
                }
            }
        }
        int budget = (int) Math.round(params.topRate() * layers * neurons);
        NeuronSet set = new NeuronSet("lape", stats.hookPoint(), layers, neurons, Map.of(
                "top_rate", Double.toString(params.topRate()),
                "filter_percentile", Double.toString(params.filterPercentile()),
                "assign_percentile", Double.toString(params.assignPercentile()),
                "filter_threshold", Double.toString(tau),
                "budget", Integer.toString(budget)));
        List<String> names = stats.groups();
        names.forEach(set::ensureGroup);
        for (int idx : Selection.smallest(h, budget)) {
            int l = idx / neurons;
            int n = idx % neurons;
            for (int k = 0; k < groups; k++) {
                if (p[(l * groups + k) * neurons + n] > tauAssign) {
                    set.add(names.get(k), l, n, h[idx]);
                }
            }
        }
        return new Result(p, h, tau, tauAssign, set);
    }
}
