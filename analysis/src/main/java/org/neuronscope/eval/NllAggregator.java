package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Accumulates per-token log-probabilities (natural log) of reference tokens, grouped, and gives the
 * mean negative log-likelihood and perplexity per group. Token-weighted, as for language-model
 * perplexity: {@code meanNll = −Σ log p / tokens} over all tokens of the group, and
 * {@code perplexity = exp(meanNll)} (so long samples weigh more than short ones). Summation is
 * compensated (Kahan–Neumaier), so the order of samples does not matter to the last few bits.
 * A log-probability of −∞ (probability 0) is allowed and makes the group's NLL and perplexity +∞.
 * Not thread-safe.
 */
public final class NllAggregator {
    private final Map<String, Sum> groups = new LinkedHashMap<>();
    private final Sum all = new Sum();

    /** Adds a sample's token log-probabilities to a group (and to the overall total). */
    public NllAggregator add(String group, double[] tokenLogProbs) {
        for (double lp : tokenLogProbs) {
            check(lp);
        }
        Sum s = groups.computeIfAbsent(group, g -> new Sum());
        for (double lp : tokenLogProbs) {
            s.add(-lp);
            all.add(-lp);
        }
        return this;
    }

    public NllAggregator add(String group, float[] tokenLogProbs) {
        double[] d = new double[tokenLogProbs.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = tokenLogProbs[i];
        }
        return add(group, d);
    }

    private static void check(double lp) {
        // log p <= 0; a softmax may round a certain token to a hair above 0
        if (Double.isNaN(lp) || lp > 1e-6) {
            throw new IllegalArgumentException("not a log-probability: " + lp);
        }
    }

    /** The groups, in the order first added. */
    public List<String> groups() {
        return List.copyOf(groups.keySet());
    }

    /** Tokens added to a group (0 for an unknown group). */
    public long tokens(String group) {
        Sum s = groups.get(group);
        return s == null ? 0 : s.count;
    }

    /** Mean NLL per token of a group, in nats; NaN if the group has no tokens. */
    public double meanNll(String group) {
        Sum s = groups.get(group);
        return s == null ? Double.NaN : s.mean();
    }

    /** {@code exp(meanNll(group))}; NaN if the group has no tokens. */
    public double perplexity(String group) {
        return Math.exp(meanNll(group));
    }

    public long totalTokens() {
        return all.count;
    }

    /** Mean NLL per token over all groups together. */
    public double overallMeanNll() {
        return all.mean();
    }

    public double overallPerplexity() {
        return Math.exp(all.mean());
    }

    /** Mean NLL per group, in group order. */
    public Map<String, Double> meanNllByGroup() {
        Map<String, Double> m = new LinkedHashMap<>();
        groups.forEach((g, s) -> m.put(g, s.mean()));
        return Collections.unmodifiableMap(m);
    }

    /** Mean NLL of one sequence, {@code −Σ log p / n}; NaN for no tokens. */
    public static double meanNll(double[] tokenLogProbs) {
        return new NllAggregator().add("", tokenLogProbs).overallMeanNll();
    }

    private static final class Sum {
        double sum;
        double compensation;
        long count;

        void add(double x) {
            count++;
            if (Double.isInfinite(x) || Double.isInfinite(sum)) {
                sum += x;
                return;
            }
            double t = sum + x;
            if (Math.abs(sum) >= Math.abs(x)) {
                compensation += (sum - t) + x;
            } else {
                compensation += (x - t) + sum;
            }
            sum = t;
        }

        double mean() {
            if (count == 0) {
                return Double.NaN;
            }
            double total = Double.isInfinite(sum) ? sum : sum + compensation;
            return total / count;
        }
    }
}
