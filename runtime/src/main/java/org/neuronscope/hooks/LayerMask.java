package org.neuronscope.hooks;

import org.neuronscope.HookPoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The mask {@code x <- scale·x + shift + minimum·m} per neuron at one (hook point, layer), at every
 * position, prefill and generation alike (made by {@link HookScope#mask}); m is the smallest value of
 * the whole tensor of that micro-batch at this point before the mask (MINER's "minimum of the current
 * call"). The masks live off-heap in the scope's memory and the graph reads them in place: a change
 * here changes the next decode with no further call. The shift mask joins the graph the first time a
 * neuron is set to a value, the minimum's the first time a neuron is set to the call's minimum, so pure
 * scaling costs one multiplication.
 */
public final class LayerMask {
    private final HookScope scope;
    private final HookPoint point;
    private final int layer;
    private final int width;
    private final MemorySegment scale;
    private final MemorySegment shift;
    private final MemorySegment minimum;
    private boolean shiftRegistered;
    private boolean minimumRegistered;
    private boolean live = true;

    LayerMask(HookScope scope, HookPoint point, int layer, int width, MemorySegment scale, MemorySegment shift, MemorySegment minimum) {
        this.scope = scope;
        this.point = point;
        this.layer = layer;
        this.width = width;
        this.scale = scale;
        this.shift = shift;
        this.minimum = minimum;
        fillIdentity();
    }

    void register(boolean withShift, boolean withMinimum) {
        scope.registerMask(this, withShift, withMinimum);
        shiftRegistered = withShift;
        minimumRegistered = withMinimum;
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
    public LayerMask deactivate(int n) {
        return scale(n, 0.0f).shiftTo(n, 0.0f);
    }

    /** Multiplies neuron n by s (amplify or damp). */
    public LayerMask scale(int n, float s) {
        check(n, s);
        scale.setAtIndex(ValueLayout.JAVA_FLOAT, n, s);
        return this;
    }

    /** Sets neuron n to the constant c. */
    public LayerMask set(int n, float c) {
        scale(n, 0.0f);
        return shiftTo(n, c);
    }

    /** The general form: x = s·x + c. */
    public LayerMask affine(int n, float s, float c) {
        scale(n, s);
        return shiftTo(n, c);
    }

    /**
     * Sets neuron n to the minimum of the current call: x = m, the smallest value of this point's whole
     * tensor (every token and neuron of the layer) in each micro-batch, taken before the mask.
     */
    public LayerMask setToCallMinimum(int n) {
        return affine(n, 0.0f, 0.0f).minimumWeight(n, 1.0f);
    }

    /** The most general form: x = s·x + c + w·m, m the call's minimum (see {@link #setToCallMinimum}). */
    public LayerMask affine(int n, float s, float c, float w) {
        affine(n, s, c);
        return minimumWeight(n, w);
    }

    private LayerMask minimumWeight(int n, float w) {
        check(n, w);
        minimum.setAtIndex(ValueLayout.JAVA_FLOAT, n, w);
        if (w != 0.0f && !minimumRegistered) {
            register(shiftRegistered, true);
        }
        return this;
    }

    private LayerMask shiftTo(int n, float c) {
        check(n, c);
        shift.setAtIndex(ValueLayout.JAVA_FLOAT, n, c);
        if (c != 0.0f && !shiftRegistered) {
            register(true, minimumRegistered);
        }
        return this;
    }

    /** Every neuron back to identity (the intervention stays in the graph). */
    public LayerMask reset() {
        ensureLive();
        fillIdentity();
        return this;
    }

    public float scaleOf(int n) {
        check(n, 0);
        return scale.getAtIndex(ValueLayout.JAVA_FLOAT, n);
    }

    public float shiftOf(int n) {
        check(n, 0);
        return shift.getAtIndex(ValueLayout.JAVA_FLOAT, n);
    }

    /** The weight of the call's minimum of neuron n (1 after {@link #setToCallMinimum}). */
    public float minimumWeightOf(int n) {
        check(n, 0);
        return minimum.getAtIndex(ValueLayout.JAVA_FLOAT, n);
    }

    /** The scale mask, {@code width} floats, read by the graph in place. */
    public MemorySegment scaleSegment() {
        return scale;
    }

    /** The shift mask, {@code width} floats. Write non-zero values through {@link #set} or {@link #affine}. */
    public MemorySegment shiftSegment() {
        return shift;
    }

    /** The weights of the call's minimum, {@code width} floats. Write them through {@link #setToCallMinimum} or {@link #affine(int, float, float, float)}. */
    public MemorySegment minimumSegment() {
        return minimum;
    }

    public boolean isLive() {
        return live;
    }

    private void fillIdentity() {
        for (int i = 0; i < width; i++) {
            scale.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1.0f);
        }
        shift.fill((byte) 0);
        minimum.fill((byte) 0);
    }

    private void check(int n, float value) {
        ensureLive();
        if (n < 0 || n >= width) {
            throw new IndexOutOfBoundsException("neuron " + n + " is out of range [0, " + width + ") at " + point + " layer " + layer);
        }
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException("intervention values must be finite, got " + value);
        }
    }

    private void ensureLive() {
        scope.ensureOpen();
        if (!live) {
            throw new IllegalStateException("this mask was removed");
        }
    }

    void invalidate() {
        live = false;
    }
}
