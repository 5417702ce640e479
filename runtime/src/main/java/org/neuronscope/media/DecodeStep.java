package org.neuronscope.media;

import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;

/**
 * One decode of a prompt: the batch to run and the token group of each of its entries (-1: none).
 * A prompt with media needs several decodes (text tokens, then embeddings, then tokens); whoever
 * drives it (a statistics collector setting token weights, a plain evaluation) sees each one.
 */
@FunctionalInterface
public interface DecodeStep {
    void decode(Batch batch, int[] groupOfEntry);

    /** Decodes without looking at the groups. */
    static DecodeStep plain(Session session) {
        return (batch, groups) -> session.decode(batch);
    }
}
