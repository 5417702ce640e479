package org.neuronscope.hooks;

/** Per-neuron sums over tokens that the compute graph reduces, weighted by each token's column weight. */
public enum Reduction {
    /** Σ w·[x > threshold]; with one-hot weights, the number of tokens of a group where the neuron fires. */
    COUNT(0),
    /** Σ w·[|x| > threshold]. */
    COUNT_ABS(1),
    /** Σ w·x. */
    SUM(2),
    /** Σ w·x². */
    SUM_SQ(3),
    /** Σ w·|x|. */
    SUM_ABS(4);

    private final int nativeId;

    Reduction(int nativeId) {
        this.nativeId = nativeId;
    }

    int nativeId() {
        return nativeId;
    }
}
