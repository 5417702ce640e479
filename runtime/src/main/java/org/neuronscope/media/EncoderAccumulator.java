package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The running sums of one reduction at an encoder hook point, as the language model's
 * {@link org.neuronscope.hooks.Accumulator}: doubles laid out [layer][column][neuron], added to by
 * every encode ({@link EncoderHooks#reduce}).
 */
public final class EncoderAccumulator {
    private final Module module;
    private final HookPoint point;
    private final Statistic statistic;
    private final MemorySegment sums;
    private final int layers;
    private final int columns;
    private final int width;
    private volatile boolean live = true;

    EncoderAccumulator(Module module, HookPoint point, Statistic statistic, MemorySegment sums, int layers, int columns, int width) {
        this.module = module;
        this.point = point;
        this.statistic = statistic;
        this.sums = sums;
        this.layers = layers;
        this.columns = columns;
        this.width = width;
    }

    public Module module() {
        return module;
    }

    public HookPoint point() {
        return point;
    }

    public Statistic statistic() {
        return statistic;
    }

    public int layers() {
        return layers;
    }

    public int columns() {
        return columns;
    }

    public int width() {
        return width;
    }

    /** Whether encodes still add to it (false once its hooks are closed or it was removed). */
    public boolean isLive() {
        return live;
    }

    public double get(int layer, int column, int neuron) {
        if (layer < 0 || layer >= layers || column < 0 || column >= columns || neuron < 0 || neuron >= width) {
            throw new IndexOutOfBoundsException("(" + layer + ", " + column + ", " + neuron + ") out of range (" + layers + ", " + columns + ", " + width + ")");
        }
        return sums.getAtIndex(ValueLayout.JAVA_DOUBLE, ((long) layer * columns + column) * width + neuron);
    }

    /** A copy of the sums: layers * columns * width doubles. */
    public double[] toArray() {
        return sums.toArray(ValueLayout.JAVA_DOUBLE);
    }

    /** Zeroes the sums. */
    public void reset() {
        sums.fill((byte) 0);
    }

    void invalidate() {
        live = false;
    }

    @Override
    public String toString() {
        return statistic + " of " + module.pointName(point) + " (" + layers + " x " + columns + " x " + width + ")";
    }
}
