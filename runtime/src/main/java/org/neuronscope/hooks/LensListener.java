package org.neuronscope.hooks;

/**
 * Receives the logit lens' per-token rows after each micro-batch, one call per (layer, token).
 * Exceptions fail the decode and are rethrown by it.
 */
@FunctionalInterface
public interface LensListener {
    void onLens(LensRow row) throws Exception;
}
