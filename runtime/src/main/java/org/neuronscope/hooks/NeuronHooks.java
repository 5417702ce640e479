package org.neuronscope.hooks;

import org.neuronscope.HookPoint;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_nh_tap_callback;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.internal.NativeIds;
import org.neuronscope.model.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * The neuron hooks of one {@link Session}: reductions, interventions and taps inside llama.cpp's
 * compute graph (see the native header {@code llama-neuron-hooks.h}). All memory the graph reads or
 * writes — token weights, accumulators, intervention masks — is owned here, off-heap, and shared with
 * the native side without copies on CPU. Closed with its session at the latest.
 *
 * <p>With nothing configured, decoding runs exactly llama.cpp's graph. Configuration changes rebuild
 * the graph on the next decode; changing mask <em>values</em> does not.
 */
public final class NeuronHooks implements AutoCloseable, Session.FailureSource {
    private static final Logger LOG = LoggerFactory.getLogger(NeuronHooks.class);
    /** ggml aligns tensor data to 32 bytes; 64 also suits vector loads. */
    private static final long ALIGNMENT = 64;

    private final Session session;
    private final Arena arena = Arena.ofShared();
    private final int layers;
    private final int batchCapacity;
    private int columns;
    private TokenWeights weights;
    private final Map<HookPoint, EnumMap<Reduction, Accumulator>> reductions = new EnumMap<>(HookPoint.class);
    private final Map<Long, Intervention> interventions = new HashMap<>();
    private final Map<Long, TapListener> taps = new HashMap<>();
    private MemorySegment tapStub;
    private Throwable tapFailure;
    private boolean open = true;

    private NeuronHooks(Session session) {
        this.session = session;
        this.layers = session.model().layerCount();
        this.batchCapacity = session.batchSize();
        session.attach(this);
    }

    /** The hooks of a session (create once per session and keep it). */
    public static NeuronHooks attach(Session session) {
        if (session == null || !session.isOpen()) {
            throw new NeuronScopeException("the session is closed");
        }
        return new NeuronHooks(session);
    }

    public Session session() {
        return session;
    }

    public int layers() {
        return layers;
    }

    /** Width of a hook point in a layer (n_ff or n_embd); an exception if the model has no such point. */
    public int width(HookPoint point, int layer) {
        checkLayer(layer);
        long w = neuronscope_h.llama_nh_width(ctx(), NativeIds.of(point), layer);
        if (w <= 0) {
            throw new UnsupportedHookException("this model has no " + point + " in layer " + layer
                    + (point == HookPoint.FFN_GATE ? " (its FFN is not gated)" : ""));
        }
        return (int) w;
    }

    // ------------------------------------------------------------------ token weights and reductions

    /**
     * Sets the number of weight columns per token (groups, or weighted sums) and returns the token
     * weights to fill before each decode. Removes all reductions.
     */
    public TokenWeights setColumns(int n) {
        ensureOpen();
        if (n <= 0 || n > 4096) {
            throw new NeuronScopeException("columns must be in [1, 4096], got " + n);
        }
        check(neuronscope_h.llama_nh_set_columns(ctx(), n), "set columns");
        reductions.values().forEach(m -> m.values().forEach(Accumulator::invalidate));
        reductions.clear();
        columns = n;
        MemorySegment rows = arena.allocate((long) batchCapacity * n * Float.BYTES, ALIGNMENT);
        check(neuronscope_h.llama_nh_set_token_weights(ctx(), rows, batchCapacity), "set token weights");
        weights = new TokenWeights(rows, batchCapacity, n);
        return weights;
    }

    public int columns() {
        return columns;
    }

    /** The token weights set up by {@link #setColumns(int)}. */
    public TokenWeights tokenWeights() {
        if (weights == null) {
            throw new NeuronScopeException("call setColumns first");
        }
        return weights;
    }

    /**
     * Accumulates {@code reduction} of {@code point} in every layer, per column, into a new off-heap
     * array of doubles (each decode adds its micro-batches' sums).
     *
     * @param threshold for COUNT (x > threshold) and COUNT_ABS (|x| > threshold); ignored otherwise
     */
    public Accumulator reduce(HookPoint point, Reduction reduction, float threshold) {
        ensureOpen();
        if (!point.acceptsReductions()) {
            throw new NeuronScopeException(point + " can be tapped, not reduced");
        }
        if (columns == 0) {
            throw new NeuronScopeException("call setColumns before adding reductions");
        }
        int width = uniformWidth(point);
        long len = (long) layers * columns * width;
        MemorySegment acc = arena.allocate(len * Double.BYTES, ALIGNMENT);
        check(neuronscope_h.llama_nh_set_reduce(ctx(), NativeIds.of(point), reduction.nativeId(), acc, len, threshold),
                "reduce " + reduction + " at " + point);
        Accumulator a = new Accumulator(point, reduction, threshold, acc, layers, columns, width);
        Accumulator old = reductions.computeIfAbsent(point, p -> new EnumMap<>(Reduction.class)).put(reduction, a);
        if (old != null) {
            old.invalidate();
        }
        return a;
    }

    /** Stops a reduction (its accumulator keeps its values). */
    public void removeReduction(HookPoint point, Reduction reduction) {
        ensureOpen();
        var m = reductions.get(point);
        if (m != null && m.remove(reduction) != null) {
            check(neuronscope_h.llama_nh_set_reduce(ctx(), NativeIds.of(point), reduction.nativeId(), MemorySegment.NULL, 0, 0f), "remove reduction");
        }
    }

    private int uniformWidth(HookPoint point) {
        int w = width(point, 0);
        for (int l = 1; l < layers; l++) {
            if (width(point, l) != w) {
                throw new UnsupportedHookException(point + " has different widths across layers in this model");
            }
        }
        return w;
    }

    // ------------------------------------------------------------------ interventions

    /**
     * The intervention at (point, layer), created as identity (scale 1, shift 0) on first use. Its
     * masks are read by the graph in place: changing a value affects the next decode.
     */
    public Intervention intervention(HookPoint point, int layer) {
        ensureOpen();
        if (!point.acceptsInterventions()) {
            throw new NeuronScopeException("interventions are only possible at ffn.act and ffn.out, not at " + point);
        }
        checkLayer(layer);
        long key = key(point, layer);
        Intervention existing = interventions.get(key);
        if (existing != null) {
            return existing;
        }
        int width = width(point, layer);
        MemorySegment scale = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        MemorySegment shift = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        Intervention iv = new Intervention(this, point, layer, width, scale, shift);
        interventions.put(key, iv);
        iv.register(false);
        return iv;
    }

    void registerIntervention(Intervention iv, boolean withShift) {
        ensureOpen();
        check(neuronscope_h.llama_nh_set_intervention(ctx(), NativeIds.of(iv.point()), iv.layer(), iv.scaleSegment(),
                withShift ? iv.shiftSegment() : MemorySegment.NULL), "intervene at " + iv.point() + " layer " + iv.layer());
    }

    /** Removes the intervention at (point, layer), if any. */
    public void removeIntervention(HookPoint point, int layer) {
        ensureOpen();
        Intervention iv = interventions.remove(key(point, layer));
        if (iv != null) {
            check(neuronscope_h.llama_nh_set_intervention(ctx(), NativeIds.of(point), layer, MemorySegment.NULL, MemorySegment.NULL), "remove intervention");
            iv.invalidate();
        }
    }

    /** Removes every intervention. */
    public void removeInterventions() {
        for (Intervention iv : interventions.values().toArray(Intervention[]::new)) {
            removeIntervention(iv.point(), iv.layer());
        }
    }

    // ------------------------------------------------------------------ taps

    /** Calls {@code listener} with (point, layer)'s tensor after every micro-batch; layer -1: every layer. */
    public void tap(HookPoint point, int layer, TapListener listener) {
        ensureOpen();
        if (layer != -1) {
            checkLayer(layer);
        }
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        if (tapStub == null) {
            tapStub = llama_nh_tap_callback.allocate(this::onTap, arena);
            check(neuronscope_h.llama_nh_set_tap_callback(ctx(), tapStub, MemorySegment.NULL), "set tap callback");
        }
        check(neuronscope_h.llama_nh_set_tap(ctx(), NativeIds.of(point), layer, true), "tap " + point);
        for (int l = 0; l < layers; l++) {
            if (layer == -1 || l == layer) {
                taps.put(key(point, l), listener);
            }
        }
    }

    /** Stops tapping (point, layer); layer -1: every layer. */
    public void removeTap(HookPoint point, int layer) {
        ensureOpen();
        check(neuronscope_h.llama_nh_set_tap(ctx(), NativeIds.of(point), layer, false), "remove tap");
        for (int l = 0; l < layers; l++) {
            if (layer == -1 || l == layer) {
                taps.remove(key(point, l));
            }
        }
    }

    /** The upcall: must not throw (that would abort the JVM); failures fail the decode instead. */
    private boolean onTap(MemorySegment user, int point, int layer, MemorySegment data, long width, long tokens, MemorySegment batchIndex) {
        try {
            HookPoint p = HookPoint.values()[point];
            TapListener l = taps.get(key(p, layer));
            if (l == null) {
                return true;
            }
            MemorySegment rows = data.reinterpret(width * tokens * Float.BYTES);
            int[] index = batchIndex.reinterpret(tokens * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
            l.onTap(p, layer, rows, (int) width, (int) tokens, index);
            return true;
        } catch (Throwable t) {
            if (tapFailure == null) {
                tapFailure = t;
            }
            LOG.debug("tap listener failed", t);
            return false;
        }
    }

    @Override
    public Throwable takeFailure() {
        Throwable t = tapFailure;
        tapFailure = null;
        return t;
    }

    /**
     * Computes reductions with ggml operations (the path GPU layers take) even for layers on the CPU,
     * instead of the fused CPU pass; for comparisons and tests.
     */
    public void setPortableReductions(boolean portable) {
        ensureOpen();
        check(neuronscope_h.llama_nh_set_portable_reductions(ctx(), portable), "set portable reductions");
    }

    // ------------------------------------------------------------------ lifecycle

    /** Removes every reduction, intervention and tap; the graph is llama.cpp's again. */
    public void clear() {
        ensureOpen();
        check(neuronscope_h.llama_nh_clear(ctx()), "clear");
        reductions.values().forEach(m -> m.values().forEach(Accumulator::invalidate));
        reductions.clear();
        interventions.values().forEach(Intervention::invalidate);
        interventions.clear();
        taps.clear();
    }

    public boolean isOpen() {
        return open;
    }

    /** Clears the hooks in llama.cpp and frees their memory. Called by the session's close too. */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        if (session.isOpen()) {
            neuronscope_h.llama_nh_clear(ctx());
            neuronscope_h.llama_nh_set_token_weights(ctx(), MemorySegment.NULL, 0);
            neuronscope_h.llama_nh_set_tap_callback(ctx(), MemorySegment.NULL, MemorySegment.NULL);
            session.detach(this);
        }
        open = false;
        reductions.values().forEach(m -> m.values().forEach(Accumulator::invalidate));
        interventions.values().forEach(Intervention::invalidate);
        arena.close();
    }

    private MemorySegment ctx() {
        return session.nativeHandle();
    }

    void ensureOpen() {
        if (!open) {
            throw new NeuronScopeException("these neuron hooks are closed");
        }
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= layers) {
            throw new NeuronScopeException("layer " + layer + " is out of range [0, " + layers + ")");
        }
    }

    private static long key(HookPoint point, int layer) {
        return ((long) point.ordinal() << 32) | layer;
    }

    private void check(int status, String what) {
        if (status == 0) {
            return;
        }
        String message = neuronscope_h.llama_nh_last_error(ctx()).reinterpret(Long.MAX_VALUE).getString(0);
        String full = what + ": " + (message.isEmpty() ? "status " + status : message);
        if (status == neuronscope_h.LLAMA_NH_ERR_UNSUPPORTED()) {
            throw new UnsupportedHookException(full);
        }
        throw new NeuronScopeException(full);
    }
}
