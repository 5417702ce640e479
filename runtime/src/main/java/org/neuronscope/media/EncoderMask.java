package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The mask {@code x <- scale·x + shift} per neuron at one encoder (module, hook point, layer),
 * applied at every encode from off-heap memory the hooks own ({@link EncoderHooks#mask}): a change
 * takes effect at the next encode with no further call. Starts as the identity.
 */
public final class EncoderMask {
    private final EncoderHooks hooks;
    private final Module module;
    private final HookPoint point;
    private final int layer;
    private final int width;
    private final MemorySegment scale;
    private final MemorySegment shift;
    private boolean shiftRegistered;

    EncoderMask(EncoderHooks hooks, Module module, HookPoint point, int layer, int width, MemorySegment scale, MemorySegment shift) {
        this.hooks = hooks;
        this.module = module;
        this.point = point;
        this.layer = layer;
        this.width = width;
        this.scale = scale;
        this.shift = shift;
        identity();
    }

    public Module module() {
        return module;
    }

    public HookPoint point() {
        return point;
    }

    public int layer() {
        return layer;
    }

    public int width() {
        return width;
    }

    /** Switches neuron n off: x = 0. */
    public EncoderMask deactivate(int n) {
        return scale(n, 0f);
    }

    /** Multiplies neuron n by s. */
    public EncoderMask scale(int n, float s) {
        check(n, s);
        scale.setAtIndex(ValueLayout.JAVA_FLOAT, n, s);
        return this;
    }

    /** Sets neuron n to v (scale 0, shift v). */
    public EncoderMask set(int n, float v) {
        check(n, v);
        scale.setAtIndex(ValueLayout.JAVA_FLOAT, n, 0f);
        if (v != 0f && !shiftRegistered) {
            hooks.registerMask(this, scale, shift);
            shiftRegistered = true;
        }
        shift.setAtIndex(ValueLayout.JAVA_FLOAT, n, v);
        return this;
    }

    /** Every neuron back to x (scale 1, shift 0). */
    public EncoderMask identity() {
        for (int n = 0; n < width; n++) {
            scale.setAtIndex(ValueLayout.JAVA_FLOAT, n, 1f);
            shift.setAtIndex(ValueLayout.JAVA_FLOAT, n, 0f);
        }
        return this;
    }

    public float scaleOf(int n) {
        return scale.getAtIndex(ValueLayout.JAVA_FLOAT, index(n));
    }

    public float shiftOf(int n) {
        return shift.getAtIndex(ValueLayout.JAVA_FLOAT, index(n));
    }

    private void check(int n, float v) {
        index(n);
        if (!Float.isFinite(v)) {
            throw new IllegalArgumentException("mask value must be finite, got " + v);
        }
    }

    private int index(int n) {
        if (n < 0 || n >= width) {
            throw new IndexOutOfBoundsException("neuron " + n + " outside [0, " + width + ") of " + module.pointName(point) + " layer " + layer);
        }
        return n;
    }
}
