package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.mtmd_nh_tap_callback;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.hooks.UnsupportedHookException;
import org.neuronscope.internal.NativeIds;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Hooks in the encoder graphs of a {@link Projector} (opened by {@link Projector#openHooks}): the
 * FFN neurons of the vision tower, the audio encoder and the projector's MLP ({@link Module}), at
 * {@link HookPoint#FFN_PRE}, {@link HookPoint#FFN_ACT} and {@link HookPoint#FFN_POST} of every
 * layer, and the encoder layers' outputs at {@link HookPoint#RESID_POST} (reductions and taps; the
 * projector's MLP has no layer output), as {@link org.neuronscope.hooks.HookScope} does for the
 * language model ({@link Module#encoderPoints(Module)}):
 * <ul>
 *   <li>reductions per group: before encoding a media item, {@link #group(int)} names its column
 *       (its label: domain, class, forget/retain); every encode adds, per neuron and column, the sum
 *       over the item's rows (patches, audio frames, projector tokens) weighted by the column weight
 *       times an optional per-row weight ({@link #rowWeights});</li>
 *   <li>interventions ({@link #mask}: deactivate, scale, set) at encode time;</li>
 *   <li>taps ({@link #tap}).</li>
 * </ul>
 * Everything is validated here before the native call. All memory the graph reads or writes lives in
 * this object's arena and is freed by {@link #close()}, which also removes every hook (the encoder
 * graph is then exactly mtmd's again). One instance per projector at a time; not thread-safe (the
 * projector serialises encodes).
 */
public final class EncoderHooks implements AutoCloseable {
    private static final long ALIGNMENT = 64;

    private final Projector projector;
    private final int columns;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment groupWeights;
    private final Map<String, EncoderAccumulator> reductions = new HashMap<>();
    private final Map<String, EncoderMask> masks = new HashMap<>();
    private final Map<String, EncoderTapListener> taps = new HashMap<>();
    private final List<MemorySegment> rowWeightSegments = new ArrayList<>();
    private MemorySegment tapStub;
    private Throwable tapFailure;
    private boolean open = true;

    EncoderHooks(Projector projector, int columns) {
        this.projector = projector;
        this.columns = columns;
        this.groupWeights = arena.allocate((long) columns * Float.BYTES, ALIGNMENT);
        call("set up the encoder hooks", ctx -> neuronscope_h.mtmd_nh_set_columns(ctx, columns));
        call("set the group weights", ctx -> neuronscope_h.mtmd_nh_set_group_weights(ctx, groupWeights));
    }

    public Projector projector() {
        return projector;
    }

    /** Weight columns of the reductions (groups). */
    public int columns() {
        return columns;
    }

    /** The modules this projector has: VISION and/or AUDIO, and PROJECTOR when its MLP is hooked. */
    public List<Module> modules() {
        ensureOpen();
        List<Module> out = new ArrayList<>();
        if (projector.supportsVision()) {
            out.add(Module.VISION);
        }
        if (projector.supportsAudio()) {
            out.add(Module.AUDIO);
        }
        if (projector.exclusive("query the encoder hooks", ctx -> neuronscope_h.mtmd_nh_layers(ctx, nativeModule(Module.PROJECTOR))) > 0) {
            out.add(Module.PROJECTOR);
        }
        return out;
    }

    /** Hooked layers of a module (the projector's MLP: 1). */
    public int layers(Module module) {
        checkModule(module);
        int n = projector.exclusive("query the encoder hooks", ctx -> neuronscope_h.mtmd_nh_layers(ctx, nativeModule(module)));
        if (n <= 0) {
            throw failure(n, "query the layers of " + module);
        }
        return n;
    }

    /** Width (neurons) of a hook point in a layer of a module. */
    public int width(Module module, HookPoint point, int layer) {
        checkModule(module);
        int p = nativePoint(module, point);
        long w = projector.exclusive("query the encoder hooks", ctx -> neuronscope_h.mtmd_nh_width(ctx, nativeModule(module), p, layer));
        if (w <= 0) {
            throw failure((int) w, "query the width of " + module.pointName(point) + " layer " + layer);
        }
        return Math.toIntExact(w);
    }

    // ------------------------------------------------------------------ groups and reductions

    /** The next encodes count for column {@code column} only (the one-hot weights of the item's group). */
    public void group(int column) {
        ensureOpen();
        if (column < 0 || column >= columns) {
            throw new IllegalArgumentException("column " + column + " outside [0, " + columns + ")");
        }
        groupWeights.fill((byte) 0);
        groupWeights.setAtIndex(ValueLayout.JAVA_FLOAT, column, 1f);
    }

    /** The next encodes' weight per column (columns finite values; all zero: they add nothing). */
    public void groupWeights(float... perColumn) {
        ensureOpen();
        Objects.requireNonNull(perColumn, "perColumn");
        if (perColumn.length != columns) {
            throw new IllegalArgumentException(perColumn.length + " group weights for " + columns + " columns");
        }
        for (float v : perColumn) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("group weights must be finite, got " + v);
            }
        }
        MemorySegment.copy(perColumn, 0, groupWeights, ValueLayout.JAVA_FLOAT, 0, columns);
    }

    /**
     * Per-row (per-patch) weights of a module for the next encodes, multiplied with the group weight:
     * one finite value per row of that module's hooked tensors (an encode with another number of rows
     * fails, naming both). null: every row counts 1.
     */
    public void rowWeights(Module module, float[] perRow) {
        checkModule(module);
        if (perRow == null) {
            call("clear the row weights of " + module, ctx -> neuronscope_h.mtmd_nh_set_row_weights(ctx, nativeModule(module), MemorySegment.NULL, 0));
            return;
        }
        if (perRow.length == 0) {
            throw new IllegalArgumentException("row weights must not be empty");
        }
        for (float v : perRow) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("row weights must be finite, got " + v);
            }
        }
        MemorySegment rows = arena.allocate((long) perRow.length * Float.BYTES, ALIGNMENT);
        MemorySegment.copy(perRow, 0, rows, ValueLayout.JAVA_FLOAT, 0, perRow.length);
        rowWeightSegments.add(rows);
        call("set the row weights of " + module, ctx -> neuronscope_h.mtmd_nh_set_row_weights(ctx, nativeModule(module), rows, perRow.length));
    }

    /**
     * Accumulates {@code statistic} of {@code point} in every layer of {@code module}, per column,
     * into a new array of doubles that every encode adds to.
     *
     * @param statistic COUNT, COUNT_ABS, SUM (WEIGHTED_SUM), SUM_SQ or SUM_ABS
     * @param threshold for COUNT (x > threshold) and COUNT_ABS (|x| > threshold)
     */
    public EncoderAccumulator reduce(Module module, HookPoint point, Statistic statistic, float threshold) {
        checkModule(module);
        int p = nativePoint(module, point);
        Objects.requireNonNull(statistic, "statistic");
        int s = NativeIds.of(statistic);
        if (s < 0) {
            throw new IllegalArgumentException(statistic + " is not reduced in the graph; compute it from taps");
        }
        if (!Float.isFinite(threshold)) {
            throw new IllegalArgumentException("threshold must be finite, got " + threshold);
        }
        int layers = layers(module);
        int width = width(module, point, 0);
        for (int l = 1; l < layers; l++) {
            if (width(module, point, l) != width) {
                throw new UnsupportedHookException(module.pointName(point) + " has layers of different widths; reductions need one width");
            }
        }
        long len = (long) layers * columns * width;
        MemorySegment acc = arena.allocate(len * Double.BYTES, ALIGNMENT);
        call("reduce " + statistic + " at " + module.pointName(point),
                ctx -> neuronscope_h.mtmd_nh_set_reduce(ctx, nativeModule(module), p, s, acc, len, threshold));
        EncoderAccumulator a = new EncoderAccumulator(module, point, statistic, acc, layers, columns, width);
        EncoderAccumulator old = reductions.put(module + "/" + point + "/" + s, a);
        if (old != null) {
            old.invalidate();
        }
        return a;
    }

    /** Reads reductions as ggml ops even on the CPU (the path GPUs take), to compare the two. */
    public void setPortableReductions(boolean portable) {
        call("set portable reductions", ctx -> neuronscope_h.mtmd_nh_set_portable_reductions(ctx, portable));
    }

    // ------------------------------------------------------------------ interventions

    /** The mask of (module, point, layer), created as the identity on first use (FFN_ACT and FFN_POST only). */
    public EncoderMask mask(Module module, HookPoint point, int layer) {
        checkModule(module);
        if (point != HookPoint.FFN_ACT && point != HookPoint.FFN_POST) { // the encoders have no ffn.up/ffn.down hooks
            throw new IllegalArgumentException(module.pointName(point) + " accepts no interventions (ffn.act and ffn.post do)");
        }
        nativePoint(module, point);
        String key = module + "/" + point + "/" + layer;
        EncoderMask m = masks.get(key);
        if (m != null) {
            return m;
        }
        int width = width(module, point, layer);
        MemorySegment scale = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        MemorySegment shift = arena.allocate((long) width * Float.BYTES, ALIGNMENT);
        m = new EncoderMask(this, module, point, layer, width, scale, shift);
        registerMask(m, scale, MemorySegment.NULL);
        masks.put(key, m);
        return m;
    }

    void registerMask(EncoderMask m, MemorySegment scale, MemorySegment shift) {
        ensureOpen();
        int p = nativePoint(m.module(), m.point());
        call("set the mask of " + m.module().pointName(m.point()) + " layer " + m.layer(),
                ctx -> neuronscope_h.mtmd_nh_set_intervention(ctx, nativeModule(m.module()), p, m.layer(), scale, shift));
    }

    /**
     * Applies a mask over every layer of {@code module} at {@code point} (FFN_ACT or FFN_POST): the
     * layers where it is not the identity get their scale and shift (an {@link InterventionMask} of a
     * neuron set: deactivate, scale, set, complementary).
     */
    public void apply(Module module, InterventionMask mask, HookPoint point) {
        Objects.requireNonNull(mask, "mask");
        int layers = layers(module);
        if (mask.layers() != layers) {
            throw new IllegalArgumentException("the mask has " + mask.layers() + " layers, " + module.id() + " has " + layers);
        }
        if (mask.usesCallMinimum()) {
            throw new IllegalArgumentException("minimum:call (the minimum of each call's tensor) is built for the language model's hooks; the "
                    + module.id() + " encoder's masks take deactivate, set, scale and complementary");
        }
        for (int l = 0; l < layers; l++) {
            if (mask.isIdentity(l)) {
                continue;
            }
            if (mask.neurons() != width(module, point, l)) {
                throw new IllegalArgumentException("the mask has " + mask.neurons() + " neurons per layer, " + module.pointName(point)
                        + " layer " + l + " has " + width(module, point, l));
            }
            EncoderMask m = mask(module, point, l);
            for (int n = 0; n < mask.neurons(); n++) {
                float sh = mask.shift(l, n);
                if (sh != 0f) {
                    m.set(n, sh);
                }
                m.scale(n, mask.scale(l, n));
            }
        }
    }

    /** Removes the mask of (module, point, layer), if any. */
    public void removeMask(Module module, HookPoint point, int layer) {
        checkModule(module);
        int p = nativePoint(module, point);
        if (masks.remove(module + "/" + point + "/" + layer) != null) {
            call("remove a mask", ctx -> neuronscope_h.mtmd_nh_set_intervention(ctx, nativeModule(module), p, layer, MemorySegment.NULL, MemorySegment.NULL));
        }
    }

    // ------------------------------------------------------------------ taps

    /** Taps (module, point, layer); layer -1: every layer. */
    public void tap(Module module, HookPoint point, int layer, EncoderTapListener listener) {
        checkModule(module);
        Objects.requireNonNull(listener, "listener");
        int p = nativePoint(module, point);
        if (layer < -1) {
            throw new IllegalArgumentException("layer must be >= -1, got " + layer);
        }
        if (tapStub == null) {
            tapStub = mtmd_nh_tap_callback.allocate(this::onTap, arena);
            call("set the tap callback", ctx -> neuronscope_h.mtmd_nh_set_tap_callback(ctx, tapStub, MemorySegment.NULL));
        }
        call("tap " + module.pointName(point) + " layer " + layer, ctx -> neuronscope_h.mtmd_nh_set_tap(ctx, nativeModule(module), p, layer, true));
        if (layer == -1) {
            for (int l = 0, n = layers(module); l < n; l++) {
                taps.put(module + "/" + point + "/" + l, listener);
            }
        } else {
            taps.put(module + "/" + point + "/" + layer, listener);
        }
    }

    private boolean onTap(MemorySegment user, int module, int point, int layer, MemorySegment data, long width, long rows) {
        try {
            Module m = module(module);
            HookPoint hp = hookPoint(point);
            EncoderTapListener l = taps.get(m + "/" + hp + "/" + layer);
            if (l != null) {
                l.onTap(m, hp, layer, data.reinterpret(width * rows * Float.BYTES), (int) width, (int) rows);
            }
            return true;
        } catch (Throwable t) {
            tapFailure = t;
            return false;
        }
    }

    /** The exception a tap listener threw during the last encode, cleared by the call (null if none). */
    Throwable takeTapFailure() {
        Throwable t = tapFailure;
        tapFailure = null;
        return t;
    }

    // ------------------------------------------------------------------ lifetime

    public boolean isOpen() {
        return open && projector.isOpen();
    }

    /** Removes every encoder hook and frees the memory; accumulators and masks are dead afterwards. Idempotent. */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        try {
            if (projector.isOpen()) {
                projector.exclusive("remove the encoder hooks", ctx -> neuronscope_h.mtmd_nh_clear(ctx));
            }
        } finally {
            reductions.values().forEach(EncoderAccumulator::invalidate);
            projector.hooksClosed(this);
            arena.close();
        }
    }

    /** The projector is closing: forget the native side, free the memory. */
    void release() {
        if (open) {
            open = false;
            reductions.values().forEach(EncoderAccumulator::invalidate);
            arena.close();
        }
    }

    // ------------------------------------------------------------------ helpers

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("the encoder hooks are closed");
        }
        if (!projector.isOpen()) {
            throw new IllegalStateException("the projector " + projector.path().getFileName() + " is closed");
        }
    }

    private void checkModule(Module module) {
        ensureOpen();
        Objects.requireNonNull(module, "module");
        switch (module) {
            case LANGUAGE -> throw new IllegalArgumentException("the language model's neurons are hooked on its Session (Hooks, HookScope), not on the projector");
            case VISION -> {
                if (!projector.supportsVision()) {
                    throw new UnsupportedHookException("the projector " + projector.path().getFileName() + " has no vision encoder");
                }
            }
            case AUDIO -> {
                if (!projector.supportsAudio()) {
                    throw new UnsupportedHookException("the projector " + projector.path().getFileName() + " has no audio encoder");
                }
            }
            case PROJECTOR -> { }
        }
    }

    private static int nativeModule(Module module) {
        return switch (module) {
            case VISION -> 1;
            case AUDIO -> 2;
            case PROJECTOR -> 3;
            case LANGUAGE -> throw new IllegalArgumentException("language is not an encoder module");
        };
    }

    /** The module of an {@code enum mtmd_nh_module} value. */
    private static Module module(int nativeModule) {
        return switch (nativeModule) {
            case 1 -> Module.VISION;
            case 2 -> Module.AUDIO;
            case 3 -> Module.PROJECTOR;
            default -> throw new IllegalArgumentException("unknown native module " + nativeModule);
        };
    }

    /** {@code enum mtmd_nh_point}: ffn.pre, ffn.act, ffn.post, resid.post (encoder layers only). */
    private static int nativePoint(Module module, HookPoint point) {
        Objects.requireNonNull(point, "point");
        return switch (point) {
            case FFN_PRE -> 0;
            case FFN_ACT -> 1;
            case FFN_POST -> 2;
            case RESID_POST -> {
                if (module == Module.PROJECTOR) {
                    throw new UnsupportedHookException("projector.resid.post: the projector's MLP has no layer output; resid.post is a point of "
                            + "the vision and audio encoders' layers");
                }
                yield 3;
            }
            default -> throw new UnsupportedHookException(module.pointName(point) + " is not an encoder hook point ("
                    + String.join(", ", java.util.Arrays.stream(Module.encoderPoints(module)).map(HookPoint::id).toList()) + " are)");
        };
    }

    /** The hook point of an {@code enum mtmd_nh_point} value. */
    private static HookPoint hookPoint(int nativePoint) {
        return switch (nativePoint) {
            case 0 -> HookPoint.FFN_PRE;
            case 1 -> HookPoint.FFN_ACT;
            case 2 -> HookPoint.FFN_POST;
            case 3 -> HookPoint.RESID_POST;
            default -> throw new IllegalArgumentException("unknown native hook point " + nativePoint);
        };
    }

    private void call(String doing, java.util.function.ToIntFunction<MemorySegment> f) {
        ensureOpen();
        int rc = projector.exclusive(doing, f::applyAsInt);
        if (rc != 0) {
            throw failure(rc, doing);
        }
    }

    private RuntimeException failure(int rc, String doing) {
        String msg = projector.shared(ctx -> neuronscope_h.mtmd_nh_last_error(ctx).reinterpret(Long.MAX_VALUE).getString(0));
        String text = "encoder hooks: could not " + doing + ": " + (msg.isEmpty() ? "status " + rc : msg);
        return rc == -2 ? new UnsupportedHookException(text) : rc == -1 ? new IllegalArgumentException(text) : new NeuronScopeException(text);
    }

    /** The hooks' message after a failed encode ("" if none). */
    String lastError() {
        return projector.shared(ctx -> neuronscope_h.mtmd_nh_last_error(ctx).reinterpret(Long.MAX_VALUE).getString(0));
    }
}
