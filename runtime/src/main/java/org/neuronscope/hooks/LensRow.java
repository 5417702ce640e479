package org.neuronscope.hooks;

/**
 * The logit lens of one token at one layer: the top token ids by descending probability (equal
 * probabilities by ascending id), their probabilities, the entropy of the full softmax in nats, and
 * the target token's probability (NaN without a target).
 *
 * @param batchEntry the token's index in the decoded batch
 */
public record LensRow(int layer, int batchEntry, int[] ids, float[] probs, float entropy, float targetProb) {
    public LensRow {
        ids = ids.clone();
        probs = probs.clone();
        if (ids.length != probs.length) {
            throw new IllegalArgumentException(ids.length + " ids for " + probs.length + " probabilities");
        }
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public float[] probs() {
        return probs.clone();
    }

    public int topK() {
        return ids.length;
    }

    /** The most probable token (-1 with top-k 0). */
    public int top() {
        return ids.length == 0 ? -1 : ids[0];
    }
}
