package org.neuronscope.hooks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The logit lens of a scope ({@link HookScope#lens(LensSpec)}): the residual stream after each
 * lensed layer ({@code resid.post}) decoded as if that layer were the last, inside llama.cpp's graph
 * on the backend that runs the model's head: the model's own output norm, its unembedding (tied or
 * not, any weight type), softmax. Only the results leave the graph: per (layer, token) the top-k
 * ids and probabilities, the entropy in nats and the target's probability ({@link LensListener});
 * per (layer, token-weight column) the weighted sums of entropy, target probability and weight, from
 * which {@link #groupMeanEntropy} and {@link #groupMeanTarget} are the means.
 *
 * <p>{@link #select(int...)} restricts the lens to some batch entries (the last token, an image's
 * tokens): only those rows reach the norm and the unembedding. Its memory belongs to the scope.
 */
public final class Lens {
    private final HookScope scope;
    private final LensSpec spec;
    private final int layers;
    private final int capacity;
    private final MemorySegment selection;   // capacity bytes, read by the graph once selected
    private final MemorySegment entropySums; // [layer][column] doubles, or null
    private final MemorySegment targetSums;
    private final MemorySegment weightSums;
    private final int columns;
    private volatile LensListener listener;
    private boolean selecting;
    private boolean live = true;
    private boolean groupsLive;

    Lens(HookScope scope, LensSpec spec, int layers, int capacity, MemorySegment selection, MemorySegment entropySums,
         MemorySegment targetSums, MemorySegment weightSums, int columns) {
        this.scope = scope;
        this.spec = spec;
        this.layers = layers;
        this.capacity = capacity;
        this.selection = selection;
        this.entropySums = entropySums;
        this.targetSums = targetSums;
        this.weightSums = weightSums;
        this.columns = columns;
        this.groupsLive = entropySums != null;
    }

    public LensSpec spec() {
        return spec;
    }

    /** Whether layer {@code layer} is lensed. */
    public boolean lenses(int layer) {
        if (layer < 0 || layer >= layers) {
            return false;
        }
        return spec.allLayers() || Arrays.binarySearch(spec.layers(), layer) >= 0;
    }

    /** The lensed layers, ascending. */
    public int[] lensedLayers() {
        return spec.allLayers() ? java.util.stream.IntStream.range(0, layers).toArray() : spec.layers();
    }

    /** Receives the per-token rows of the following decodes (replaces the previous listener; null: none). */
    public Lens onRows(LensListener l) {
        ensureLive();
        if (!spec.perToken() && l != null) {
            throw new IllegalStateException("this lens was made without per-token rows (LensSpec.perToken)");
        }
        listener = l;
        return this;
    }

    /** Lenses only these entries of each following batch (indices into the batch); none: no row. */
    public Lens select(int... batchEntries) {
        ensureLive();
        selection.fill((byte) 0);
        for (int e : batchEntries) {
            if (e < 0 || e >= capacity) {
                throw new IndexOutOfBoundsException("batch entry " + e + " is out of range [0, " + capacity + ")");
            }
            selection.set(ValueLayout.JAVA_BYTE, e, (byte) 1);
        }
        if (!selecting) {
            scope.hooks().setLensSelection(selection, capacity);
            selecting = true;
        }
        return this;
    }

    /** Lenses every entry of each following batch (the default). */
    public Lens selectAll() {
        ensureLive();
        if (selecting) {
            scope.hooks().setLensSelection(MemorySegment.NULL, 0);
            selecting = false;
        }
        return this;
    }

    /** Token-weight columns of the group sums (0 without). */
    public int columns() {
        return columns;
    }

    /** Sum over lensed tokens of weight × entropy, at (layer, column). */
    public double groupEntropySum(int layer, int column) {
        return sum(entropySums, layer, column, "entropy");
    }

    /** Sum over lensed tokens of weight × the target's probability, at (layer, column). */
    public double groupTargetSum(int layer, int column) {
        if (spec.target() < 0) {
            throw new IllegalStateException("this lens has no target token");
        }
        return sum(targetSums, layer, column, "target");
    }

    /** Sum of the weights of the lensed tokens, at (layer, column). */
    public double groupWeight(int layer, int column) {
        return sum(weightSums, layer, column, "weight");
    }

    /** The weighted mean entropy (nats) of the lensed tokens of a column at a layer; NaN if it has no weight. */
    public double groupMeanEntropy(int layer, int column) {
        double w = groupWeight(layer, column);
        return w == 0 ? Double.NaN : groupEntropySum(layer, column) / w;
    }

    /** The weighted mean probability of the target token; NaN if the column has no weight. */
    public double groupMeanTarget(int layer, int column) {
        double w = groupWeight(layer, column);
        return w == 0 ? Double.NaN : groupTargetSum(layer, column) / w;
    }

    /** Sets the group sums to zero. */
    public void resetGroups() {
        ensureGroups();
        entropySums.fill((byte) 0);
        weightSums.fill((byte) 0);
        if (targetSums != null) {
            targetSums.fill((byte) 0);
        }
    }

    /** Whether decodes still feed this lens (false once removed, replaced or its scope closed). */
    public boolean isLive() {
        return live;
    }

    // ------------------------------------------------------------------ package

    LensListener listener() {
        return listener;
    }

    boolean selecting() {
        return selecting;
    }

    MemorySegment entropySums() {
        return entropySums;
    }

    MemorySegment targetSums() {
        return targetSums;
    }

    MemorySegment weightSums() {
        return weightSums;
    }

    void invalidate() {
        live = false; // the sums keep their values (readable until the scope closes)
        listener = null;
    }

    /** The scope's token weights were replaced: the graph no longer adds to the group sums. */
    void invalidateGroups() {
        groupsLive = false;
    }

    private double sum(MemorySegment s, int layer, int column, String what) {
        ensureGroups();
        if (layer < 0 || layer >= layers || column < 0 || column >= columns) {
            throw new IndexOutOfBoundsException("lens " + what + " sum (" + layer + ", " + column + ") out of range (" + layers + " x " + columns + ")");
        }
        if (!lenses(layer)) {
            throw new IllegalArgumentException("layer " + layer + " is not lensed");
        }
        return s.getAtIndex(ValueLayout.JAVA_DOUBLE, (long) layer * columns + column);
    }

    private void ensureGroups() {
        if (entropySums == null) {
            throw new IllegalStateException("this lens was made without group sums (LensSpec.groups)");
        }
        if (!groupsLive) {
            throw new IllegalStateException(live ? "the scope's token weights were replaced after the lens was made: its group sums are gone"
                    : "this lens was removed or its scope closed");
        }
    }

    private void ensureLive() {
        if (!live) {
            throw new IllegalStateException("this lens was removed or its scope closed");
        }
    }
}
