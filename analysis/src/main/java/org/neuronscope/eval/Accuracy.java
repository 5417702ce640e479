package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

/**
 * A proportion of correct answers, with its Wilson score confidence interval.
 *
 * @param correct samples scored correct
 * @param total   samples scored
 */
public record Accuracy(long correct, long total) {
    /** The two-sided 95 % normal quantile, Φ⁻¹(0.975). */
    public static final double Z95 = 1.959963984540054;

    public Accuracy {
        if (total < 0 || correct < 0 || correct > total) {
            throw new IllegalArgumentException("accuracy needs 0 <= correct <= total, got " + correct + " / " + total);
        }
    }

    /** Counts the true values. */
    public static Accuracy of(boolean... outcomes) {
        long c = 0;
        for (boolean b : outcomes) {
            if (b) {
                c++;
            }
        }
        return new Accuracy(c, outcomes.length);
    }

    /** This plus one more outcome. */
    public Accuracy plus(boolean outcome) {
        return new Accuracy(correct + (outcome ? 1 : 0), total + 1);
    }

    public Accuracy plus(Accuracy o) {
        return new Accuracy(correct + o.correct, total + o.total);
    }

    /** {@code correct / total}; NaN when nothing was scored. */
    public double value() {
        return total == 0 ? Double.NaN : (double) correct / total;
    }

    /** The 95 % Wilson score interval. */
    public Interval wilson95() {
        return wilson(Z95);
    }

    /**
     * Wilson score interval for quantile z: centre {@code (p + z²/2n) / (1 + z²/n)}, half-width
     * {@code z / (1 + z²/n) · sqrt(p(1−p)/n + z²/4n²)}. Unlike the normal (Wald) interval it stays
     * within [0, 1] and is not degenerate at 0 % or 100 %. With nothing scored: [0, 1].
     */
    public Interval wilson(double z) {
        if (!(z > 0)) {
            throw new IllegalArgumentException("the normal quantile must be > 0, got " + z);
        }
        if (total == 0) {
            return new Interval(0, 1);
        }
        double n = total;
        double p = correct / n;
        double z2 = z * z;
        double denom = 1 + z2 / n;
        double centre = (p + z2 / (2 * n)) / denom;
        double half = z / denom * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return new Interval(Math.max(0, centre - half), Math.min(1, centre + half));
    }

    /** A closed interval [low, high]. */
    public record Interval(double low, double high) {
        public Interval {
            if (!(low <= high)) {
                throw new IllegalArgumentException("interval with low > high: [" + low + ", " + high + "]");
            }
        }

        public boolean contains(double x) {
            return low <= x && x <= high;
        }
    }
}
