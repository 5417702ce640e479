package org.neuronscope.stats;

/** The per-neuron, per-group statistics a {@link NeuronStatistics} can hold. */
public enum Statistic {
    /** Tokens with x > threshold. */
    COUNT,
    /** Tokens with |x| > threshold (MANU's I_freq uses 0.1). */
    COUNT_ABS,
    /** Σx. */
    SUM,
    /** Σx². */
    SUM_SQ,
    /** Σ|x|. */
    SUM_ABS,
    /** max x (from taps). */
    MAX,
    /** min x (from taps). */
    MIN;

    /** The file name of this statistic in a saved directory. */
    public String fileName() {
        return name().toLowerCase(java.util.Locale.ROOT) + ".npy";
    }

    boolean isExtremum() {
        return this == MAX || this == MIN;
    }

    double identity() {
        return this == MAX ? Double.NEGATIVE_INFINITY : this == MIN ? Double.POSITIVE_INFINITY : 0.0;
    }
}
