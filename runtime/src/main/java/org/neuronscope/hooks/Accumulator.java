package org.neuronscope.hooks;

import org.neuronscope.HookPoint;

import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The running sums of one reduction at one hook point: doubles laid out [layer][column][neuron]
 * (neuron fastest), added to by every decode. Counts are exact: each micro-batch's float sums are
 * whole numbers far below 2^24 and are added into doubles.
 */
public final class Accumulator {
    private final HookPoint point;
    private final Statistic statistic;
    private final float threshold;
    private final MemorySegment sums;
    private final int layers;
    private final int columns;
    private final int width;
    private boolean live = true;

    Accumulator(HookPoint point, Statistic statistic, float threshold, MemorySegment sums, int layers, int columns, int width) {
        this.point = point;
        this.statistic = statistic;
        this.threshold = threshold;
        this.sums = sums;
        this.layers = layers;
        this.columns = columns;
        this.width = width;
    }

    public HookPoint point() {
        return point;
    }

    public Statistic statistic() {
        return statistic;
    }

    public float threshold() {
        return threshold;
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

    /** Whether decodes still add to it (false after it was replaced or removed, or its scope closed). */
    public boolean isLive() {
        return live;
    }

    public double get(int layer, int column, int neuron) {
        return sums.getAtIndex(ValueLayout.JAVA_DOUBLE, index(layer, column, neuron));
    }

    /** Zeroes the sums (e.g. between datasets). */
    public void reset() {
        sums.fill((byte) 0);
    }

    /** The sums as a zero-copy view: layers * columns * width doubles. Valid until its scope closes. */
    public MemorySegment segment() {
        return sums;
    }

    /** A copy of the sums. */
    public double[] toArray() {
        return sums.toArray(ValueLayout.JAVA_DOUBLE);
    }

    private long index(int layer, int column, int neuron) {
        if (layer < 0 || layer >= layers || column < 0 || column >= columns || neuron < 0 || neuron >= width) {
            throw new IndexOutOfBoundsException("(" + layer + ", " + column + ", " + neuron + ") out of range (" + layers + ", " + columns + ", " + width + ")");
        }
        return ((long) layer * columns + column) * width + neuron;
    }

    void invalidate() {
        live = false;
    }
}
