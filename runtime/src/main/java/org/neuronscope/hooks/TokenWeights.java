package org.neuronscope.hooks;


import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Per-token column weights the reductions use: row i belongs to batch entry i of the next decode.
 * One-hot rows make columns token groups (modality, domain, sample, forget/retain); arbitrary
 * weights give weighted sums (e.g. attention received). The graph reads this memory directly.
 */
public final class TokenWeights {
    private final MemorySegment rows;
    private final int capacity;
    private final int columns;

    TokenWeights(MemorySegment rows, int capacity, int columns) {
        this.rows = rows;
        this.capacity = capacity;
        this.columns = columns;
    }

    public int capacity() {
        return capacity;
    }

    public int columns() {
        return columns;
    }

    /** Sets one-hot rows: entry i counts for column {@code groupOfEntry[i]} (-1: for none); other rows 0. */
    public TokenWeights setGroups(int[] groupOfEntry) {
        if (groupOfEntry.length > capacity) {
            throw new IllegalArgumentException(groupOfEntry.length + " groups for a batch capacity of " + capacity);
        }
        rows.fill((byte) 0);
        for (int i = 0; i < groupOfEntry.length; i++) {
            int g = groupOfEntry[i];
            if (g < -1 || g >= columns) {
                throw new IndexOutOfBoundsException("group " + g + " of batch entry " + i + " is out of range [0, " + columns + ") (or -1)");
            }
            if (g >= 0) {
                rows.setAtIndex(ValueLayout.JAVA_FLOAT, (long) i * columns + g, 1.0f);
            }
        }
        return this;
    }

    /** Sets the weight of batch entry {@code entry} in {@code column}. */
    public TokenWeights set(int entry, int column, float weight) {
        if (entry < 0 || entry >= capacity || column < 0 || column >= columns) {
            throw new IndexOutOfBoundsException("weight (" + entry + ", " + column + ") out of range (" + capacity + " x " + columns + ")");
        }
        if (!Float.isFinite(weight)) {
            throw new IllegalArgumentException("weight must be finite, got " + weight);
        }
        rows.setAtIndex(ValueLayout.JAVA_FLOAT, (long) entry * columns + column, weight);
        return this;
    }

    public float get(int entry, int column) {
        if (entry < 0 || entry >= capacity || column < 0 || column >= columns) {
            throw new IndexOutOfBoundsException("weight (" + entry + ", " + column + ") out of range (" + capacity + " x " + columns + ")");
        }
        return rows.getAtIndex(ValueLayout.JAVA_FLOAT, (long) entry * columns + column);
    }

    /** All weights 0. */
    public TokenWeights clear() {
        rows.fill((byte) 0);
        return this;
    }

    /** The rows as capacity x columns floats, row-major (zero-copy view). */
    public MemorySegment segment() {
        return rows;
    }
}
