package org.neuronscope.probe;

/** Confidence intervals for the probes' scores. */
public final class Intervals {
    /** The two-sided 95 % normal quantile. */
    public static final double Z95 = 1.959963984540054;

    private Intervals() {
    }

    /**
     * Wilson's score interval for a proportion of {@code successes} in {@code n} trials at normal
     * quantile {@code z}: {low, high}. Unlike the normal approximation it stays inside [0, 1] and is
     * not degenerate at 0 or n successes.
     */
    public static double[] wilson(long successes, long n, double z) {
        if (n <= 0 || successes < 0 || successes > n) {
            throw new IllegalArgumentException(successes + " successes of " + n + " trials");
        }
        double p = (double) successes / n;
        double z2 = z * z;
        double denom = 1 + z2 / n;
        double center = (p + z2 / (2.0 * n)) / denom;
        double half = z / denom * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
        return new double[] {Math.max(0, center - half), Math.min(1, center + half)};
    }
}
