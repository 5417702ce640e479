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
    MIN,
    /**
     * Σ_t w_t·x_t with per-token weights supplied by the caller, one weight column per group (a token's
     * weight in column g is its weight for group g). MINER's attn_k and attn_q are this statistic with
     * the attention weights w_k or w_q (see {@code org.neuronscope.methods.Miner}).
     */
    WEIGHTED_SUM;

    /** The file name of this statistic in a saved directory. */
    public String fileName() {
        return name().toLowerCase(java.util.Locale.ROOT) + ".npy";
    }

    /** Whether merging takes the max or min (MAX, MIN) rather than the sum. */
    public boolean isExtremum() {
        return this == MAX || this == MIN;
    }

    /** The value of an empty statistic: 0, or -inf for MAX, +inf for MIN. */
    public double identity() {
        return this == MAX ? Double.NEGATIVE_INFINITY : this == MIN ? Double.POSITIVE_INFINITY : 0.0;
    }
}
