package org.neuronscope.hooks;

import org.neuronscope.HookPoint;

import java.lang.foreign.MemorySegment;

/**
 * Receives a hook point's raw tensor after each micro-batch: {@code tokens} rows of {@code width}
 * floats (row i is batch entry {@code batchIndex[i]}). The segment is valid only during the call
 * (zero copy on CPU): copy what you keep. Exceptions fail the decode and are rethrown by it.
 */
@FunctionalInterface
public interface TapListener {
    void onTap(HookPoint point, int layer, MemorySegment data, int width, int tokens, int[] batchIndex) throws Exception;
}
