package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;

import java.lang.foreign.MemorySegment;

/**
 * Receives an encoder hook point's tensor after each encode: {@code rows} rows of {@code width}
 * floats (the encoder's patches or audio frames in mtmd's order; the projector's output tokens).
 * The segment is valid only during the call: copy what you keep. An exception fails the encode and
 * is rethrown by it (as the cause).
 */
@FunctionalInterface
public interface EncoderTapListener {
    void onTap(Module module, HookPoint point, int layer, MemorySegment data, int width, int rows) throws Exception;
}
