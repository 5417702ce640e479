package org.neuronscope.hooks;


import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_nh_lens_callback;
import org.neuronscope.bindings.llama_nh_tap_callback;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.internal.ContextHooks;
import org.neuronscope.internal.NativeHandle;
import org.neuronscope.internal.NativeIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The neuron hooks of one session ({@code Session.hooks()}): reductions, interventions and
 * taps inside llama.cpp's compute graph (the native API is {@code llama-neuron-hooks.h}). There is
 * exactly one per session; configuration happens in {@link HookScope}s, each of which owns the
 * off-heap memory it gave the graph and takes everything it added away again when closed:
 *
 * <pre>{@code
 * try (HookScope scope = session.hooks().openScope()) {
 *     scope.tokenWeights(2).setGroups(groupOfEntry);
 *     Accumulator counts = scope.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);
 *     session.decode(batch);
 *     double c = counts.get(layer, group, neuron);
 * }   // the reduction is gone and its memory freed; the graph is llama.cpp's again
 * }</pre>
 *
 * <p>Scopes may be open side by side as long as they do not claim the same thing: one scope at a
 * time holds the token weights (and with them all reductions, which share their columns), one scope
 * a given (hook point, layer) mask; any number of listeners may tap the same tensor. A conflicting
 * claim is an {@link IllegalStateException} naming the scope that holds it.
 *
 * <p>With nothing configured, decoding runs exactly llama.cpp's graph. Configuration changes rebuild
 * the graph on the next decode; changing mask <em>values</em> does not. Like its session, the hooks
 * serve one thread at a time: changing them while another thread decodes is refused.
 */
public final class Hooks {
    private static final Logger LOG = LoggerFactory.getLogger(Hooks.class);
    private final NativeHandle context;
    private final int layers;
    private final int batchCapacity;
    private final String modelName;
    private final List<HookScope> scopes = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Map<Long, HookScope> maskOwners = new HashMap<>();
    private final Map<Long, List<Tap>> taps = new HashMap<>();
    /** Lives as long as the hooks: the upcall stub the graph calls for every tap. */
    private final Arena callbackArena = Arena.ofShared();
    private MemorySegment tapStub;
    private MemorySegment lensStub;
    private HookScope weightsOwner;
    private HookScope lensOwner;
    private Lens lens;
    private Throwable listenerFailure;
    private volatile boolean released;
    private int nextScopeId = 1;

    private Hooks(NativeHandle context, int layers, int batchCapacity, String modelName) {
        this.context = context;
        this.layers = layers;
        this.batchCapacity = batchCapacity;
        this.modelName = modelName;
        ContextHooks.register(context, new ContextHooks() {
            @Override
            public String lastNativeError() {
                return Hooks.this.lastNativeError();
            }

            @Override
            public Throwable takeListenerFailure() {
                Throwable t = listenerFailure;
                listenerFailure = null;
                return t;
            }

            @Override
            public void release(MemorySegment ctx) {
                Hooks.this.release(ctx);
            }
        });
    }

    /**
     * Creates the hooks of a session's llama context; called once, by the session's constructor
     * (the parameter's type is not exported: nothing outside this library can call it). The session
     * then reaches them through {@link ContextHooks#of(Object)} with the same handle.
     *
     * @param modelName how errors name the model ("the llama model m.gguf")
     */
    public static Hooks attach(NativeHandle context, int layers, int batchCapacity, String modelName) {
        if (context == null || !context.isOpen()) {
            throw new IllegalArgumentException("hooks need an open llama context");
        }
        if (layers <= 0 || batchCapacity <= 0) {
            throw new IllegalArgumentException("layers and batch capacity must be positive, got " + layers + " and " + batchCapacity);
        }
        return new Hooks(context, layers, batchCapacity, modelName);
    }

    /** Tokens per decode the session accepts (its batch size): the rows of {@link TokenWeights}. */
    public int batchCapacity() {
        return batchCapacity;
    }

    public int layers() {
        return layers;
    }

    /**
     * Width of a hook point in a layer (n_ff or n_embd).
     *
     * @throws IndexOutOfBoundsException if the layer is out of range
     * @throws UnsupportedHookException  if the model has no such point there (ffn.pre of a non-gated FFN)
     */
    public int width(HookPoint point, int layer) {
        checkLayer(layer);
        long w = context.shared(ctx -> neuronscope_h.llama_nh_width(ctx, NativeIds.of(point), layer));
        if (w <= 0) {
            throw new UnsupportedHookException("the " + modelName + " has no " + point + " in layer " + layer + (point == HookPoint.FFN_PRE ? " (its FFN is not gated)" : ""));
        }
        return (int) w;
    }

    /** The width of a hook point if it is the same in every layer (what reductions need). */
    public int uniformWidth(HookPoint point) {
        int w = width(point, 0);
        for (int l = 1; l < layers; l++) {
            if (width(point, l) != w) {
                throw new UnsupportedHookException(point + " has different widths across the layers of this model");
            }
        }
        return w;
    }

    /** Opens a new scope for hooks; close it (try-with-resources) to remove what it added. */
    public HookScope openScope() {
        ensureUsable();
        HookScope scope = new HookScope(this, nextScopeId++);
        scopes.add(scope);
        return scope;
    }

    /** The scopes open now, oldest first. */
    public List<HookScope> openScopes() {
        return List.copyOf(scopes);
    }

    /**
     * Computes reductions with ggml operations (the path GPU layers take) even for layers on the CPU,
     * instead of the fused CPU pass; for comparisons and tests.
     */
    public void setPortableReductions(boolean portable) {
        call("set portable reductions", ctx -> neuronscope_h.llama_nh_set_portable_reductions(ctx, portable));
    }

    /**
     * Makes {@link HookPoint#ATTN_PROBS} taps deliver attention as MINER's reference code computes it
     * ({@code invasive_modification_for_attn_score.py}): per head the softmax of the scaled scores
     * q·k over KV cells [0, {@code cells}) with no causal mask, then the mean over heads; {@code cells}
     * floats per query token. For the queries of a second sequence decoded after a first one put the
     * same prompt into cells [0, cells) (a cleared cache), this is the prompt's non-causal attention
     * while the model itself stays causal. Sliding-window layers and ALiBi are refused (the decode
     * fails, naming the layer). 0: the model's own probabilities again.
     */
    public void setAttentionUnmasked(int cells) {
        if (cells < 0) {
            throw new IllegalArgumentException("the unmasked attention needs a number of cells >= 0, got " + cells);
        }
        call("unmasked attention", ctx -> neuronscope_h.llama_nh_set_attn_unmasked(ctx, cells));
    }

    // ------------------------------------------------------------------ used by HookScope

    /** Claims the token weights for {@code scope} (columns and all reductions belong to one scope). */
    void claimWeights(HookScope scope, int columns, MemorySegment rows, int capacity) {
        if (weightsOwner != null && weightsOwner != scope) {
            throw new IllegalStateException("the token weights (and reductions) are held by " + weightsOwner
                    + "; close it before " + scope + " sets its own");
        }
        call("set columns", ctx -> neuronscope_h.llama_nh_set_columns(ctx, columns));
        call("set token weights", ctx -> neuronscope_h.llama_nh_set_token_weights(ctx, rows, capacity));
        weightsOwner = scope;
    }

    void releaseWeights(HookScope scope) {
        if (weightsOwner == scope) {
            call("clear reductions", ctx -> neuronscope_h.llama_nh_set_columns(ctx, 0));
            call("clear token weights", ctx -> neuronscope_h.llama_nh_set_token_weights(ctx, MemorySegment.NULL, 0));
            weightsOwner = null;
        }
    }

    void setReduction(HookPoint point, int nativeStatistic, MemorySegment acc, long length, float threshold, String what) {
        call(what, ctx -> neuronscope_h.llama_nh_set_reduce(ctx, NativeIds.of(point), nativeStatistic, acc, length, threshold));
    }

    void claimMask(HookScope scope, HookPoint point, int layer) {
        HookScope owner = maskOwners.get(key(point, layer));
        if (owner != null && owner != scope) {
            throw new IllegalStateException(point + " of layer " + layer + " is masked by " + owner + "; close it first");
        }
        maskOwners.put(key(point, layer), scope);
    }

    void setMask(HookPoint point, int layer, MemorySegment scale, MemorySegment shift, MemorySegment minimumWeight) {
        call("intervene at " + point + " layer " + layer,
                ctx -> neuronscope_h.llama_nh_set_intervention_min(ctx, NativeIds.of(point), layer, scale, shift, minimumWeight));
    }

    void removeMask(HookScope scope, HookPoint point, int layer) {
        if (maskOwners.remove(key(point, layer), scope)) {
            setMask(point, layer, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL);
        }
    }

    void addTap(HookScope scope, HookPoint point, int layer, TapListener listener) {
        if (tapStub == null) {
            tapStub = llama_nh_tap_callback.allocate(this::onTap, callbackArena);
            call("set tap callback", ctx -> neuronscope_h.llama_nh_set_tap_callback(ctx, tapStub, MemorySegment.NULL));
        }
        call("tap " + point, ctx -> neuronscope_h.llama_nh_set_tap(ctx, NativeIds.of(point), layer, true));
        for (int l = 0; l < layers; l++) {
            if (layer == -1 || l == layer) {
                taps.computeIfAbsent(key(point, l), k -> new ArrayList<>()).add(new Tap(scope, listener));
            }
        }
    }

    /** Removes {@code scope}'s listeners of (point, layer) (-1: every layer); tapping stops where none is left. */
    void removeTaps(HookScope scope, HookPoint point, int layer) {
        for (int l = 0; l < layers; l++) {
            if (layer != -1 && l != layer) {
                continue;
            }
            List<Tap> list = taps.get(key(point, l));
            if (list == null) {
                continue;
            }
            list.removeIf(t -> t.scope() == scope);
            if (list.isEmpty()) {
                taps.remove(key(point, l));
                int il = l;
                call("remove tap", ctx -> neuronscope_h.llama_nh_set_tap(ctx, NativeIds.of(point), il, false));
            }
        }
    }

    /** Claims the logit lens for {@code scope} and configures it (one lens per session). */
    void claimLens(HookScope scope, Lens l) {
        if (lensOwner != null && lensOwner != scope) {
            throw new IllegalStateException("the logit lens is held by " + lensOwner + "; close it before " + scope + " makes its own");
        }
        lensOwner = scope;
        lens = l;
        try {
            LensSpec spec = l.spec();
            call("lens parameters", ctx -> neuronscope_h.llama_nh_set_lens_params(ctx, spec.topK(), spec.target()));
            if (spec.perToken()) {
                if (lensStub == null) {
                    lensStub = llama_nh_lens_callback.allocate(this::onLens, callbackArena);
                }
                call("set lens callback", ctx -> neuronscope_h.llama_nh_set_lens_callback(ctx, lensStub, MemorySegment.NULL));
            }
            if (spec.groups()) {
                long len = (long) layers * l.columns();
                call("lens group sums", ctx -> neuronscope_h.llama_nh_set_lens_groups(ctx, l.entropySums(),
                        l.targetSums() == null ? MemorySegment.NULL : l.targetSums(), l.weightSums(), len));
            }
            for (int layer : l.lensedLayers()) {
                call("lens layer " + layer, ctx -> neuronscope_h.llama_nh_set_lens_layer(ctx, layer, true));
            }
        } catch (RuntimeException e) {
            releaseLens(scope);
            throw e;
        }
    }

    void setLensSelection(MemorySegment selected, int entries) {
        call("lens selection", ctx -> neuronscope_h.llama_nh_set_lens_selection(ctx, selected, entries));
    }

    /** Removes {@code scope}'s lens: no layer lensed, no callback, no sums, no selection. */
    void releaseLens(HookScope scope) {
        if (lensOwner != scope) {
            return;
        }
        lensOwner = null;
        Lens l = lens;
        lens = null;
        if (l != null) {
            l.invalidate();
        }
        call("remove lens", ctx -> {
            int s = neuronscope_h.llama_nh_set_lens_layer(ctx, -1, false);
            s = s != 0 ? s : neuronscope_h.llama_nh_set_lens_groups(ctx, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, 0);
            s = s != 0 ? s : neuronscope_h.llama_nh_set_lens_callback(ctx, MemorySegment.NULL, MemorySegment.NULL);
            s = s != 0 ? s : neuronscope_h.llama_nh_set_lens_selection(ctx, MemorySegment.NULL, 0);
            return s;
        });
    }

    void scopeClosed(HookScope scope) {
        scopes.remove(scope);
    }

    /** Runs a configuration call with the session to itself; a failed call becomes an exception. */
    void call(String what, Function<MemorySegment, Integer> action) {
        ensureUsable();
        int status = context.exclusive("change the hooks", action);
        if (status != 0) {
            throw failure(what, status, lastNativeError());
        }
    }

    /** Runs a block of changes after any decode in flight; refused inside a decode of this thread. */
    void block(String what, Runnable changes) {
        ensureUsable();
        context.block(what, ctx -> {
            if (!released) {
                changes.run();
            }
            return null;
        });
    }

    void ensureUsable() {
        if (released || !context.isOpen()) {
            throw new IllegalStateException("the session of these hooks is closed");
        }
    }

    void checkLayer(int layer) {
        if (layer < 0 || layer >= layers) {
            throw new IndexOutOfBoundsException("layer " + layer + " is out of range [0, " + layers + ")");
        }
    }

    // ------------------------------------------------------------------ decode side

    /** The upcall: must not throw (that would abort the JVM); a failure fails the decode instead. */
    private boolean onTap(MemorySegment user, int point, int layer, MemorySegment data, long width, long tokens, MemorySegment batchIndex) {
        List<Tap> listeners = taps.get(key(NativeIds.point(point), layer));
        if (listeners == null || listeners.isEmpty()) {
            return true;
        }
        // the rows are valid only during this call: the view dies with it
        try (Arena call = Arena.ofConfined()) {
            HookPoint p = NativeIds.point(point);
            MemorySegment rows = data.reinterpret(width * tokens * Float.BYTES, call, null);
            int[] index = batchIndex.reinterpret(tokens * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
            for (Tap t : listeners) {
                t.listener().onTap(p, layer, rows, (int) width, (int) tokens, index);
            }
            return true;
        } catch (Throwable t) {
            if (listenerFailure == null) {
                listenerFailure = t;
            }
            LOG.debug("tap listener failed", t);
            return false;
        }
    }

    /** The lens upcall: like onTap, must not throw. Rows become {@link LensRow}s for the lens' listener. */
    private boolean onLens(MemorySegment user, int layer, long nRows, int topK, MemorySegment ids, MemorySegment probs,
                           MemorySegment entropy, MemorySegment target, MemorySegment batchIndex) {
        Lens l = lens;
        LensListener listener = l == null ? null : l.listener();
        if (listener == null) {
            return true;
        }
        try {
            int n = (int) nRows;
            int[] allIds = topK == 0 ? new int[0] : ids.reinterpret((long) n * topK * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
            float[] allProbs = topK == 0 ? new float[0] : probs.reinterpret((long) n * topK * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
            float[] h = entropy.reinterpret((long) n * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
            float[] t = target.equals(MemorySegment.NULL) ? null : target.reinterpret((long) n * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
            int[] index = batchIndex.reinterpret((long) n * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
            for (int i = 0; i < n; i++) {
                listener.onLens(new LensRow(layer, index[i], java.util.Arrays.copyOfRange(allIds, i * topK, (i + 1) * topK),
                        java.util.Arrays.copyOfRange(allProbs, i * topK, (i + 1) * topK), h[i], t == null ? Float.NaN : t[i]));
            }
            return true;
        } catch (Throwable e) {
            if (listenerFailure == null) {
                listenerFailure = e;
            }
            LOG.debug("lens listener failed", e);
            return false;
        }
    }

    private String lastNativeError() {
        if (!context.isOpen()) {
            return "";
        }
        return neuronscope_h.llama_nh_last_error(context.get()).reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** At session close: every scope closed (failures collected), the native hooks cleared, memory freed. */
    private void release(MemorySegment ctx) {
        if (released) {
            return;
        }
        RuntimeException failure = null;
        released = true;
        for (HookScope s : List.copyOf(scopes).reversed()) {
            try {
                s.release();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        scopes.clear();
        neuronscope_h.llama_nh_clear(ctx);
        neuronscope_h.llama_nh_set_token_weights(ctx, MemorySegment.NULL, 0);
        neuronscope_h.llama_nh_set_tap_callback(ctx, MemorySegment.NULL, MemorySegment.NULL);
        neuronscope_h.llama_nh_set_lens_callback(ctx, MemorySegment.NULL, MemorySegment.NULL);
        taps.clear();
        maskOwners.clear();
        weightsOwner = null;
        lensOwner = null;
        lens = null;
        callbackArena.close();
        ContextHooks.unregister(context);
        if (failure != null) {
            throw failure;
        }
    }

    boolean isReleased() {
        return released;
    }

    /** The exception for a failed native call: the Java checks should have caught argument errors first. */
    private static RuntimeException failure(String what, int status, String message) {
        String full = what + ": " + (message.isEmpty() ? "status " + status : message);
        if (status == neuronscope_h.LLAMA_NH_ERR_UNSUPPORTED()) {
            return new UnsupportedHookException(full);
        }
        if (status == neuronscope_h.LLAMA_NH_ERR_ARGUMENT()) {
            return new IllegalArgumentException(full);
        }
        return new NeuronScopeException(full);
    }

    private static long key(HookPoint point, int layer) {
        return ((long) point.ordinal() << 32) | layer;
    }

    private record Tap(HookScope scope, TapListener listener) {
    }
}
