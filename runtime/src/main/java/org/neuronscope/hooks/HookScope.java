package org.neuronscope.hooks;


import org.neuronscope.HookPoint;
import org.neuronscope.internal.NativeIds;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A set of hooks added together and removed together (see {@link Hooks}): token weights and the
 * reductions over them, interventions (masks), taps. All memory the graph reads or writes for this
 * scope — token weights, accumulators, masks — is allocated in the scope's own arena and freed by
 * {@link #close()}; so are the views handed out ({@link Accumulator#segment()}, mask segments): using
 * them afterwards throws {@link IllegalStateException}.
 */
public final class HookScope implements AutoCloseable {
    /** ggml aligns tensor data to 32 bytes; 64 also suits vector loads. */
    private static final long ALIGNMENT = 64;

    private final Hooks hooks;
    private final int id;
    private final Arena arena = Arena.ofShared();
    private TokenWeights weights;
    /** Native statistic slot → accumulator (SUM and WEIGHTED_SUM share the graph's sum). */
    private final Map<HookPoint, Map<Integer, Accumulator>> reductions = new EnumMap<>(HookPoint.class);
    private final Map<Long, LayerMask> masks = new HashMap<>();
    private final List<long[]> taps = new ArrayList<>(); // (point ordinal, layer)
    private Lens lens;
    private boolean open = true;

    HookScope(Hooks hooks, int id) {
        this.hooks = hooks;
        this.id = id;
    }

    public Hooks hooks() {
        return hooks;
    }

    // ------------------------------------------------------------------ token weights and reductions

    /**
     * Declares {@code columns} weight columns per token for this scope's reductions (token groups, or
     * weighted sums) and returns the weights to fill before each decode: row i belongs to batch entry
     * i. Only one open scope at a time holds token weights. Calling it again replaces the weights and
     * removes this scope's reductions.
     */
    public TokenWeights tokenWeights(int columns) {
        ensureOpen();
        if (columns <= 0 || columns > 4096) {
            throw new IllegalArgumentException("columns must be in [1, 4096], got " + columns);
        }
        int capacity = hooks.batchCapacity();
        MemorySegment rows = arena.allocate((long) capacity * columns * Float.BYTES, ALIGNMENT);
        hooks.claimWeights(this, columns, rows, capacity);
        reductions.values().forEach(m -> m.values().forEach(Accumulator::invalidate));
        reductions.clear();
        if (lens != null) {
            lens.invalidateGroups(); // the graph dropped them with the columns
        }
        weights = new TokenWeights(rows, capacity, columns);
        return weights;
    }

    /** The token weights of {@link #tokenWeights(int)}. */
    public TokenWeights tokenWeights() {
        ensureOpen();
        if (weights == null) {
            throw new IllegalStateException("call tokenWeights(columns) first");
        }
        return weights;
    }

    /**
     * Accumulates {@code statistic} of {@code point} in every layer, per weight column, into a new
     * off-heap array of doubles: every decode adds its micro-batches' sums.
     *
     * @param statistic COUNT, COUNT_ABS, SUM, SUM_SQ or SUM_ABS (or WEIGHTED_SUM: the sum under weights
     *                  that are not one-hot); MAX and MIN come from taps ({@code StatisticsCollector})
     * @param threshold for COUNT (x > threshold) and COUNT_ABS (|x| > threshold); ignored otherwise
     */
    public Accumulator reduce(HookPoint point, Statistic statistic, float threshold) {
        ensureOpen();
        int nativeStatistic = NativeIds.of(statistic);
        if (nativeStatistic < 0) {
            throw new IllegalArgumentException(statistic + " is not reduced in the graph; it is computed from taps (StatisticsCollector)");
        }
        if (!point.acceptsReductions()) {
            throw new IllegalArgumentException(point + " can be tapped, not reduced");
        }
        if (weights == null) {
            throw new IllegalStateException("call tokenWeights(columns) before adding reductions");
        }
        if (!Float.isFinite(threshold)) {
            throw new IllegalArgumentException("threshold must be finite, got " + threshold);
        }
        Map<Integer, Accumulator> atPoint = reductions.computeIfAbsent(point, p -> new HashMap<>());
        Accumulator old = atPoint.get(nativeStatistic);
        if (old != null && old.statistic() != statistic) {
            throw new IllegalStateException(old.statistic() + " and " + statistic + " at " + point
                    + " are the same sum in the graph; one scope can hold one of them");
        }
        int width = hooks.uniformWidth(point);
        int columns = weights.columns();
        long len = (long) hooks.layers() * columns * width;
        MemorySegment acc = arena.allocate(len * Double.BYTES, ALIGNMENT);
        hooks.setReduction(point, nativeStatistic, acc, len, threshold, "reduce " + statistic + " at " + point);
        Accumulator a = new Accumulator(point, statistic, threshold, acc, hooks.layers(), columns, width);
        atPoint.put(nativeStatistic, a);
        if (old != null) {
            old.invalidate();
        }
        return a;
    }

    /** Stops a reduction of this scope (its accumulator keeps its values until the scope closes). */
    public void removeReduction(HookPoint point, Statistic statistic) {
        ensureOpen();
        Map<Integer, Accumulator> atPoint = reductions.get(point);
        int nativeStatistic = NativeIds.of(statistic);
        if (atPoint != null && atPoint.containsKey(nativeStatistic) && atPoint.get(nativeStatistic).statistic() == statistic) {
            atPoint.remove(nativeStatistic).invalidate();
            hooks.setReduction(point, nativeStatistic, MemorySegment.NULL, 0, 0f, "remove reduction");
        }
    }

    // ------------------------------------------------------------------ interventions

    /**
     * The mask {@code x ← scale·x + shift} of (point, layer), created as the identity on first use. The
     * graph reads it in place: a changed value affects the next decode. Only one open scope at a time
     * may mask a given (point, layer).
     */
    public LayerMask mask(HookPoint point, int layer) {
        ensureOpen();
        if (!point.acceptsInterventions()) {
            throw new IllegalArgumentException("interventions are only possible at ffn.act, ffn.post, ffn.up and ffn.down, not at " + point);
        }
        hooks.checkLayer(layer);
        long key = key(point, layer);
        LayerMask existing = masks.get(key);
        if (existing != null) {
            return existing;
        }
        int width = hooks.width(point, layer);
        hooks.claimMask(this, point, layer);
        MemorySegment scale = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        MemorySegment shift = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        MemorySegment minimum = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        LayerMask m = new LayerMask(this, point, layer, width, scale, shift, minimum);
        masks.put(key, m);
        try {
            m.register(false, false);
        } catch (RuntimeException e) {
            masks.remove(key);
            hooks.removeMask(this, point, layer);
            throw e;
        }
        return m;
    }

    /**
     * Writes {@code mask} into this scope's masks at {@code point}: layers where it is the identity
     * are left alone, the others get a mask whose changed neurons are set (neurons the mask leaves
     * unchanged keep what this scope already set).
     */
    public void apply(InterventionMask mask, HookPoint point) {
        ensureOpen();
        if (mask.layers() != hooks.layers()) {
            throw new IllegalArgumentException("the mask has " + mask.layers() + " layers, the model " + hooks.layers());
        }
        for (int l = 0; l < mask.layers(); l++) {
            if (mask.isIdentity(l)) {
                continue;
            }
            int width = hooks.width(point, l);
            if (width != mask.neurons()) {
                throw new IllegalArgumentException("the mask has " + mask.neurons() + " neurons per layer, " + point + " has " + width);
            }
            LayerMask m = mask(point, l);
            for (int n = 0; n < mask.neurons(); n++) {
                float s = mask.scale(l, n);
                float c = mask.shift(l, n);
                float w = mask.minimumWeight(l, n);
                if (w != 0f) {
                    m.affine(n, s, c, w);
                } else if (s != 1f || c != 0f) {
                    m.affine(n, s, c);
                }
            }
        }
    }

    /** Removes this scope's mask at (point, layer), if any. */
    public void removeMask(HookPoint point, int layer) {
        ensureOpen();
        LayerMask m = masks.remove(key(point, layer));
        if (m != null) {
            hooks.removeMask(this, point, layer);
            m.invalidate();
        }
    }

    /** Removes every mask of this scope (the graph computes those layers unchanged again). */
    public void removeMasks() {
        ensureOpen();
        for (LayerMask m : List.copyOf(masks.values())) {
            removeMask(m.point(), m.layer());
        }
    }

    void registerMask(LayerMask m, boolean withShift, boolean withMinimum) {
        ensureOpen();
        hooks.setMask(m.point(), m.layer(), m.scaleSegment(), withShift ? m.shiftSegment() : MemorySegment.NULL,
                withMinimum ? m.minimumSegment() : MemorySegment.NULL);
    }

    // ------------------------------------------------------------------ taps

    /**
     * Calls {@code listener} with (point, layer)'s tensor after every micro-batch; layer -1: every
     * layer. The tensor's segment is valid only during the call: copy what you keep.
     */
    public void tap(HookPoint point, int layer, TapListener listener) {
        ensureOpen();
        if (layer != -1) {
            hooks.checkLayer(layer);
        }
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        hooks.addTap(this, point, layer, listener);
        taps.add(new long[] {point.ordinal(), layer});
    }

    /** Stops this scope's taps of (point, layer); layer -1: every layer. */
    public void removeTap(HookPoint point, int layer) {
        ensureOpen();
        hooks.removeTaps(this, point, layer);
        taps.removeIf(t -> t[0] == point.ordinal() && (layer == -1 || t[1] == layer));
    }

    // ------------------------------------------------------------------ logit lens

    /**
     * The logit lens of this scope (see {@link Lens}); replaces this scope's previous lens. One open
     * scope at a time may hold the lens. Group sums ({@link LensSpec#groups()}) use this scope's token
     * weights: call {@link #tokenWeights(int)} first.
     *
     * @throws IndexOutOfBoundsException if a layer is out of range
     * @throws IllegalArgumentException  if top-k or the target is outside the vocabulary
     */
    public Lens lens(LensSpec spec) {
        ensureOpen();
        if (spec == null) {
            throw new IllegalArgumentException("spec must not be null");
        }
        for (int l : spec.layers()) {
            hooks.checkLayer(l);
        }
        if (spec.groups() && weights == null) {
            throw new IllegalStateException("call tokenWeights(columns) before a lens with group sums");
        }
        removeLens();
        int capacity = hooks.batchCapacity();
        MemorySegment selection = arena.allocate(capacity, ALIGNMENT);
        MemorySegment entropy = null, target = null, weight = null;
        int columns = 0;
        if (spec.groups()) {
            columns = weights.columns();
            long len = (long) hooks.layers() * columns * Double.BYTES;
            entropy = arena.allocate(len, ALIGNMENT);
            weight = arena.allocate(len, ALIGNMENT);
            if (spec.target() >= 0) {
                target = arena.allocate(len, ALIGNMENT);
            }
        }
        Lens l = new Lens(this, spec, hooks.layers(), capacity, selection, entropy, target, weight, columns);
        hooks.claimLens(this, l);
        lens = l;
        return l;
    }

    /** Removes this scope's lens, if any (its group sums keep their values until the scope closes). */
    public void removeLens() {
        ensureOpen();
        if (lens != null) {
            hooks.releaseLens(this);
            lens = null;
        }
    }

    // ------------------------------------------------------------------ lifecycle

    public boolean isOpen() {
        return open;
    }

    /**
     * Removes everything this scope added (the graph is what it was before the scope) and frees its
     * memory. Idempotent. If the session was closed first, its close already did this.
     */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        if (hooks.isReleased()) {
            release();
            return;
        }
        // The graph may read this scope's memory until its hooks are removed: the removal and the
        // freeing run with the session to themselves, after a decode in flight on another thread,
        // and are refused inside a decode of this thread (a tap listener), before anything is freed.
        try {
            hooks.block("close " + this, () -> {
                if (!open) {
                    return;
                }
                try {
                    for (long[] t : List.copyOf(taps)) {
                        hooks.removeTaps(this, HookPoint.values()[(int) t[0]], (int) t[1]);
                    }
                    for (LayerMask m : masks.values()) {
                        hooks.removeMask(this, m.point(), m.layer());
                    }
                    hooks.releaseLens(this);
                    hooks.releaseWeights(this);
                } finally {
                    hooks.scopeClosed(this);
                    release();
                }
            });
        } catch (IllegalStateException e) {
            if (!hooks.isReleased()) {
                throw e;
            }
            release(); // the session closed while this waited: its close removed the hooks
        }
    }

    /** The Java side of closing: objects invalidated, memory freed (no native calls). */
    void release() {
        if (!open) {
            return;
        }
        open = false;
        reductions.values().forEach(m -> m.values().forEach(Accumulator::invalidate));
        masks.values().forEach(LayerMask::invalidate);
        if (lens != null) {
            lens.invalidate();
        }
        taps.clear();
        arena.close();
    }

    void ensureOpen() {
        if (!open) {
            throw new IllegalStateException(this + " is closed");
        }
        hooks.ensureUsable();
    }

    private static long key(HookPoint point, int layer) {
        return ((long) point.ordinal() << 32) | layer;
    }

    @Override
    public String toString() {
        return "hook scope #" + id;
    }
}
