package org.neuronscope.methods;

import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MANU: modality-aware neuron pruning for unlearning (docs/METHODS.md §3). Importance of each neuron on
 * a forget and a retain set — I_abs = mean|z|, I_freq = mean 1[|z| > 0.1], I_var = standard
 * deviation of z (population), I_rms = sqrt(mean z²), values clamped to ±1000 — then the score and
 * the global top α.
 *
 * <p>From statistics: SUM_ABS, COUNT_ABS (threshold 0.1), SUM, SUM_SQ and the token counts:
 * {@code I_abs = SUM_ABS/T}, {@code I_freq = COUNT_ABS/T}, {@code I_rms = sqrt(SUM_SQ/T)},
 * {@code I_var = sqrt(max(0, SUM_SQ/T − (SUM/T)²))} (population standard deviation).
 * <b>The clamp:</b> MANU clamps every value to ±1000 <em>before</em> reducing, so the sums must have
 * been accumulated over clamped values. The in-graph reductions see unclamped values; when the
 * statistics also hold MAX and MIN they prove whether any value exceeded ±1000, and if one did
 * {@link #importance} refuses (collect clamped values from a tap instead, or use
 * {@link #importanceOfValues} on raw values). Without MAX/MIN the caller vouches for it.
 *
 * <p>The retain set is capped at the size of the forget set (docs/METHODS.md): that is the caller's
 * choice of samples; {@link #select} only reads the statistics it is given.
 */
public final class Manu {
    public static final double CLAMP = 1000;
    public static final double EPSILON = 1e-5;
    public static final float FREQ_THRESHOLD = 0.1f;

    public enum Metric { ABS, FREQ, VAR, RMS }

    /** Score variants: the published code's Σ w·(I_f/(I_r+ε) − 1), and the paper's ΣI_f/(ΣI_r+ε). */
    public enum Variant { CODE, PAPER }

    /** Defaults abs 2, freq 0, var 2, rms 2. */
    public record Weights(double abs, double freq, double var, double rms) {
        public static final Weights DEFAULTS = new Weights(2, 0, 2, 2);

        double of(Metric m) {
            return switch (m) {
                case ABS -> abs;
                case FREQ -> freq;
                case VAR -> var;
                case RMS -> rms;
            };
        }
    }

    /**
     * How many neurons the global top takes.
     * <ul>
     * <li>{@code EXACT}: exactly round(α·L·N) (ties: lower layer, then lower neuron);</li>
     * <li>{@code REFERENCE}: as MANU's code ({@code compute_top_k_pruning_mask}): k = int(α·L·N),
     *     floored, the threshold is the k-th largest score, and every neuron scoring at least that
     *     is taken, so ties at the threshold can take more than k.</li>
     * </ul>
     */
    public enum Cut { EXACT, REFERENCE }

    /** @param alpha fraction of neurons pruned (global top α), default 2 % */
    public record Params(Weights weights, Variant variant, double alpha, Cut cut) {
        public static final Params DEFAULTS = new Params(Weights.DEFAULTS, Variant.CODE, 0.02, Cut.EXACT);

        public Params {
            if (!(alpha > 0 && alpha <= 1)) {
                throw new IllegalArgumentException("alpha must be in (0, 1], got " + alpha);
            }
            if (weights == null || variant == null || cut == null) {
                throw new IllegalArgumentException("weights, variant and cut must not be null");
            }
        }

        /** The exact cut. */
        public Params(Weights weights, Variant variant, double alpha) {
            this(weights, variant, alpha, Cut.EXACT);
        }

        public Params with(Cut c) {
            return new Params(weights, variant, alpha, c);
        }

        long budget(long size) {
            return cut == Cut.REFERENCE ? (long) (alpha * size) : Math.round(alpha * size);
        }
    }

    private Manu() {
    }

    /** I_metric per neuron, [layer][neuron], of one group of the statistics. */
    public static Map<Metric, double[]> importance(NeuronStatistics s, int group) {
        Sums sums = new Sums(s, group);
        int layers = s.layers(), neurons = s.neurons();
        double[][] out = new double[Metric.values().length][layers * neurons];
        for (int l = 0; l < layers; l++) {
            for (int n0 = 0; n0 < neurons; n0 += Selection.CHUNK) {
                int length = Math.min(Selection.CHUNK, neurons - n0);
                sums.importance(l, n0, length);
                for (Metric m : Metric.values()) {
                    System.arraycopy(sums.chunk[m.ordinal()], 0, out[m.ordinal()], l * neurons + n0, length);
                }
            }
        }
        Map<Metric, double[]> m = new EnumMap<>(Metric.class);
        for (Metric metric : Metric.values()) {
            m.put(metric, out[metric.ordinal()]);
        }
        return m;
    }

    /**
     * The sums behind a group's importances, read a chunk at a time: {@code importance} computes
     * I_abs = SUM_ABS/T, I_freq = COUNT_ABS/T, I_var = sqrt(max(0, SUM_SQ/T − (SUM/T)²)) and
     * I_rms = sqrt(SUM_SQ/T) (each x/T as x·(1/T)) of up to {@link Selection#CHUNK} neurons into {@link #chunk}, in loops over
     * distinct arrays at equal indices, which C2 vectorizes. Both {@link Manu#importance} and
     * {@link Manu#select} use it, so they agree to the last bit.
     */
    private static final class Sums {
        final MemorySegment sum, sumSq, sumAbs, countAbs;
        final NeuronStatistics stats;
        final int group;
        final double tokens;
        /** The importances of the last chunk, [metric ordinal][neuron of the chunk]. */
        final double[][] chunk = new double[Metric.values().length][Selection.CHUNK];
        private final double[] sumChunk = new double[Selection.CHUNK], sqChunk = new double[Selection.CHUNK];

        Sums(NeuronStatistics s, int group) {
            if (s.countAbsThreshold() != FREQ_THRESHOLD) {
                throw new IllegalArgumentException("MANU's I_freq needs COUNT_ABS with threshold 0.1, not " + s.countAbsThreshold());
            }
            checkClamp(s, group);
            long t = s.tokens(group);
            if (t == 0) {
                throw new IllegalArgumentException("group " + s.groups().get(group) + " has no tokens");
            }
            this.stats = s;
            this.group = group;
            this.tokens = t;
            this.sum = s.segment(Statistic.SUM);
            this.sumSq = s.segment(Statistic.SUM_SQ);
            this.sumAbs = s.segment(Statistic.SUM_ABS);
            this.countAbs = s.segment(Statistic.COUNT_ABS);
        }

        /** I_metric of neurons [n0, n0 + length) of layer l (length ≤ CHUNK) into {@link #chunk}. */
        void importance(int l, int n0, int length) {
            long base = (stats.offset(l, group) + n0) * Double.BYTES;
            double[] abs = chunk[Metric.ABS.ordinal()], freq = chunk[Metric.FREQ.ordinal()];
            double[] var = chunk[Metric.VAR.ordinal()], rms = chunk[Metric.RMS.ordinal()];
            double[] sm = sumChunk, sq = sqChunk;
            double t = tokens;
            MemorySegment.copy(sumAbs, ValueLayout.JAVA_DOUBLE, base, abs, 0, length);
            MemorySegment.copy(countAbs, ValueLayout.JAVA_DOUBLE, base, freq, 0, length);
            MemorySegment.copy(sum, ValueLayout.JAVA_DOUBLE, base, sm, 0, length);
            MemorySegment.copy(sumSq, ValueLayout.JAVA_DOUBLE, base, sq, 0, length);
            double inv = 1 / t; // means as sum · (1/T): within an ulp of sum / T, and three times faster
            for (int j = 0; j < length; j++) {
                abs[j] = abs[j] * inv;
                freq[j] = freq[j] * inv;
            }
            for (int j = 0; j < length; j++) {
                double mean = sm[j] * inv;
                double meanSq = sq[j] * inv;
                var[j] = Math.sqrt(Math.max(0, meanSq - mean * mean));
                rms[j] = Math.sqrt(meanSq);
            }
        }
    }

    /**
     * MANU clamps every value to ±1000 before reducing; when the statistics hold MAX or MIN they show
     * whether a value exceeded it, and then these sums are not MANU's.
     */
    private static void checkClamp(NeuronStatistics s, int group) {
        for (Statistic st : new Statistic[] {Statistic.MAX, Statistic.MIN}) {
            if (!s.has(st)) {
                continue;
            }
            double[] row = new double[s.neurons()];
            for (int l = 0; l < s.layers(); l++) {
                MemorySegment.copy(s.segment(st), ValueLayout.JAVA_DOUBLE, s.offset(l, group) * Double.BYTES, row, 0, row.length);
                for (int n = 0; n < row.length; n++) {
                    if (st == Statistic.MAX ? row[n] > CLAMP : row[n] < -CLAMP) {
                        throw new IllegalArgumentException("layer " + l + " neuron " + n + " of group " + s.groups().get(group)
                                + " exceeds ±1000: MANU clamps before reducing, so these sums are not MANU's (collect clamped values)");
                    }
                }
            }
        }
    }

    /** I_metric of one unit from its raw values over all tokens, with the ±1000 clamp. */
    public static Map<Metric, Double> importanceOfValues(double[] z) {
        double abs = 0, freq = 0, sum = 0, sumSq = 0;
        for (double raw : z) {
            double v = Math.max(-CLAMP, Math.min(CLAMP, raw));
            abs += Math.abs(v);
            freq += Math.abs(v) > FREQ_THRESHOLD ? 1 : 0;
            sum += v;
            sumSq += v * v;
        }
        int n = z.length;
        double mean = sum / n;
        return Map.of(Metric.ABS, abs / n, Metric.FREQ, freq / n, Metric.VAR, Math.sqrt(Math.max(0, sumSq / n - mean * mean)), Metric.RMS,
                Math.sqrt(sumSq / n));
    }

    /**
     * S per neuron, [layer][neuron]: CODE {@code Σ_metric w·(I_f/(I_r + 1e-5) − 1)} (metrics of weight 0
     * skipped); PAPER {@code Σ_metric I_f / (Σ_metric I_r + 1e-5)} (unweighted, as the paper states it).
     */
    public static double[] scores(Map<Metric, double[]> forget, Map<Metric, double[]> retain, Params p) {
        int size = forget.get(Metric.ABS).length;
        double[][] f = new double[Metric.values().length][Selection.CHUNK], r = new double[f.length][Selection.CHUNK];
        double[] s = new double[size], chunk = new double[Selection.CHUNK];
        for (int from = 0; from < size; from += Selection.CHUNK) {
            int length = Math.min(Selection.CHUNK, size - from);
            for (Metric m : Metric.values()) {
                System.arraycopy(forget.get(m), from, f[m.ordinal()], 0, length);
                System.arraycopy(retain.get(m), from, r[m.ordinal()], 0, length);
            }
            score(f, r, length, chunk, p);
            System.arraycopy(chunk, 0, s, from, length);
        }
        return s;
    }

    /** S of the first {@code length} neurons of chunks of importances into {@code out}, one loop per metric. */
    private static void score(double[][] f, double[][] r, int length, double[] out, Params p) {
        Arrays.fill(out, 0, length, 0.0);
        if (p.variant() == Variant.CODE) {
            for (Metric m : Metric.values()) {
                double w = p.weights().of(m);
                if (w == 0) {
                    continue;
                }
                double[] fm = f[m.ordinal()], rm = r[m.ordinal()];
                for (int j = 0; j < length; j++) {
                    out[j] += w * (fm[j] / (rm[j] + EPSILON) - 1);
                }
            }
        } else {
            double[] rs = new double[length];
            for (Metric m : Metric.values()) {
                double[] fm = f[m.ordinal()], rm = r[m.ordinal()];
                for (int j = 0; j < length; j++) {
                    out[j] += fm[j];
                    rs[j] += rm[j];
                }
            }
            for (int j = 0; j < length; j++) {
                out[j] = out[j] / (rs[j] + EPSILON);
            }
        }
    }

    /** The global top α of S scored a chunk at a time from the sums (nothing of size L·N but the result). */
    private static void addTop(NeuronSet set, String name, NeuronStatistics forget, int forgetGroup, NeuronStatistics retain, int retainGroup, Params p) {
        Sums f = new Sums(forget, forgetGroup), r = new Sums(retain, retainGroup);
        int neurons = forget.neurons(), size = forget.layers() * neurons;
        Selection.Top top = Selection.largest(size, (int) p.budget(size), neurons, (from, length, out) -> {
            f.importance(from / neurons, from % neurons, length); // chunks stay within a layer
            r.importance(from / neurons, from % neurons, length);
            score(f.chunk, r.chunk, length, out, p);
        });
        set.ensureGroup(name);
        if (p.cut() == Cut.REFERENCE && top.index().length > 0) {
            // every neuron scoring at least the k-th largest: one more pass, a chunk at a time
            double threshold = Double.POSITIVE_INFINITY;
            for (double v : top.score()) {
                threshold = Math.min(threshold, v);
            }
            double[] out = new double[Selection.CHUNK];
            for (int l = 0; l < forget.layers(); l++) {
                for (int n0 = 0; n0 < neurons; n0 += Selection.CHUNK) {
                    int length = Math.min(Selection.CHUNK, neurons - n0);
                    f.importance(l, n0, length);
                    r.importance(l, n0, length);
                    score(f.chunk, r.chunk, length, out, p);
                    for (int j = 0; j < length; j++) {
                        if (out[j] >= threshold) {
                            set.add(name, l, n0 + j, out[j]);
                        }
                    }
                }
            }
            return;
        }
        set.addAll(name, top.index(), top.score());
    }

    /** The global top α of S, as group {@code name} of a neuron set (ties: lower layer, then lower neuron). */
    public static NeuronSet select(NeuronStatistics forget, int forgetGroup, NeuronStatistics retain, int retainGroup, Params p, String name) {
        checkShapes(forget, retain);
        NeuronSet set = newSet(forget, p);
        addTop(set, name, forget, forgetGroup, retain, retainGroup, p);
        return set;
    }

    /**
     * Per group (e.g. "image+text" and "text"), the top α of S within the group, from forget and
     * retain statistics with the same groups: group g's forget neurons against group g's retain ones.
     */
    public static NeuronSet select(NeuronStatistics forget, NeuronStatistics retain, Params p) {
        checkShapes(forget, retain);
        if (!forget.groups().equals(retain.groups())) {
            throw new IllegalArgumentException("forget groups " + forget.groups() + " differ from retain groups " + retain.groups());
        }
        NeuronSet set = newSet(forget, p);
        for (int g = 0; g < forget.groupCount(); g++) {
            addTop(set, forget.groups().get(g), forget, g, retain, g, p);
        }
        return set;
    }

    private static void checkShapes(NeuronStatistics forget, NeuronStatistics retain) {
        if (forget.layers() != retain.layers() || forget.neurons() != retain.neurons()) {
            throw new IllegalArgumentException("forget (" + forget.layers() + " x " + forget.neurons() + ") and retain (" + retain.layers() + " x "
                    + retain.neurons() + ") statistics differ in shape");
        }
    }

    private static NeuronSet newSet(NeuronStatistics forget, Params p) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("variant", p.variant().name());
        m.put("alpha", Double.toString(p.alpha()));
        m.put("weights", p.weights().toString());
        m.put("epsilon", Double.toString(EPSILON));
        m.put("clamp", Double.toString(CLAMP));
        m.put("budget", Long.toString(p.budget((long) forget.layers() * forget.neurons())));
        m.put("cut", p.cut().name().toLowerCase(java.util.Locale.ROOT));
        return new NeuronSet("manu", forget.module(), forget.hookPoint(), forget.layers(), forget.neurons(), m);
    }

    /**
     * The units MANU's code scores in the language model (its {@code register_feedforward_hooks}):
     * the outputs of {@code gate_proj} (ffn.pre, gated FFNs only), {@code up_proj} (ffn.up) and
     * {@code down_proj} (ffn.down), in that order.
     */
    public static final List<HookPoint> REFERENCE_UNITS = List.of(HookPoint.FFN_PRE, HookPoint.FFN_UP, HookPoint.FFN_DOWN);

    /**
     * MANU's code's protocol over the language model's Linear outputs ({@code prune/prune_utility.py}):
     * every unit of every layer of gate_proj, up_proj and down_proj is scored as
     * {@code compute_combined_scores_incremental} does (Σ w·(I_f/(I_r + 1e-5) − 1)), the scores of
     * all modules and layers are concatenated, k = int(α · units) of them, and every unit scoring at
     * least the k-th largest is taken ({@code compute_top_k_pruning_mask}). One cut over all three
     * modules: a layer's gate units compete with its up and down units and with every other layer's.
     *
     * <p>Two things of the code are not copied, as docs/METHODS.md §3 says: its hooks put every layer's
     * output under the names of layers 29–31 and prune those three only (here each layer is scored and
     * pruned as itself), and its statistics are per position across a padded batch (here over the
     * tokens, from the statistics' sums).
     *
     * @param forget statistics of the forget set per unit hook point: ffn.up and ffn.down, and ffn.pre
     *               where the FFN is gated (a non-gated FFN has no gate_proj, and the code then scores
     *               up and down only); every other point is refused
     * @param retain the same points' statistics of the retain set
     * @param p      weights and α; the score is always the code's ({@link Variant#CODE}) and the cut
     *               always the code's (its {@link Params#cut} is not read; the sets record {@code cut=reference})
     * @return one set per hook point given, each with group {@code name} and the same parameters
     *         ({@code protocol=reference}, the pooled unit count, k and the threshold)
     */
    public static Map<HookPoint, NeuronSet> selectReference(Map<HookPoint, NeuronStatistics> forget, String forgetGroup,
                                                            Map<HookPoint, NeuronStatistics> retain, String retainGroup, Params p, String name) {
        if (p.variant() != Variant.CODE) {
            throw new IllegalArgumentException("the reference protocol scores as MANU's code does (variant CODE), not " + p.variant());
        }
        if (!forget.keySet().equals(retain.keySet())) {
            throw new IllegalArgumentException("forget statistics at " + forget.keySet() + " but retain statistics at " + retain.keySet());
        }
        if (!forget.containsKey(HookPoint.FFN_UP) || !forget.containsKey(HookPoint.FFN_DOWN)) {
            throw new IllegalArgumentException("the reference protocol needs statistics at ffn.up and ffn.down (and ffn.pre for a gated FFN), got "
                    + forget.keySet());
        }
        List<HookPoint> points = REFERENCE_UNITS.stream().filter(forget::containsKey).toList();
        for (HookPoint h : forget.keySet()) {
            if (!REFERENCE_UNITS.contains(h)) {
                throw new IllegalArgumentException("the reference protocol scores ffn.pre, ffn.up and ffn.down only, not " + h);
            }
        }
        int layers = forget.get(HookPoint.FFN_UP).layers();
        Map<HookPoint, double[]> scores = new LinkedHashMap<>();
        long units = 0;
        for (HookPoint h : points) {
            NeuronStatistics f = forget.get(h), r = retain.get(h);
            checkShapes(f, r);
            if (f.hookPoint() != h || r.hookPoint() != h) {
                throw new IllegalArgumentException("statistics given as " + h + " were collected at " + f.hookPoint() + " / " + r.hookPoint());
            }
            if (f.layers() != layers) {
                throw new IllegalArgumentException(h + " statistics have " + f.layers() + " layers, ffn.up's have " + layers);
            }
            if (f.module() != org.neuronscope.Module.LANGUAGE || r.module() != org.neuronscope.Module.LANGUAGE) {
                throw new IllegalArgumentException("the reference protocol scores the language model's units; " + h + " statistics are of "
                        + f.module().id() + " / " + r.module().id());
            }
            double[] s = scores(importance(f, f.groupIndex(forgetGroup)), importance(r, r.groupIndex(retainGroup)), p);
            scores.put(h, s);
            units += s.length;
        }
        if (forget.containsKey(HookPoint.FFN_PRE) && forget.get(HookPoint.FFN_PRE).neurons() != forget.get(HookPoint.FFN_UP).neurons()) {
            throw new IllegalArgumentException("ffn.pre has " + forget.get(HookPoint.FFN_PRE).neurons() + " units per layer, ffn.up "
                    + forget.get(HookPoint.FFN_UP).neurons() + ": not one model's gate and up projections");
        }
        // the code's k = int(top_k_percent / 100 · num_neurons) over the concatenated scores, threshold = the k-th largest
        long k = (long) (p.alpha() * units);
        double threshold = Double.NaN;
        if (k > 0) {
            double[] all = new double[Math.toIntExact(units)];
            int at = 0;
            for (double[] s : scores.values()) {
                System.arraycopy(s, 0, all, at, s.length);
                at += s.length;
            }
            Arrays.sort(all);
            threshold = all[all.length - (int) k];
        }
        Map<HookPoint, NeuronSet> out = new LinkedHashMap<>();
        for (HookPoint h : points) {
            NeuronStatistics f = forget.get(h);
            Map<String, String> m = new LinkedHashMap<>(newSet(f, p).params());
            m.put("protocol", "reference");
            m.put("cut", "reference");
            m.put("units", points.stream().map(HookPoint::id).collect(java.util.stream.Collectors.joining(",")));
            m.put("pooled_units", Long.toString(units));
            m.put("budget", Long.toString(k));
            m.put("threshold", Double.toString(threshold));
            NeuronSet set = new NeuronSet("manu", f.module(), h, f.layers(), f.neurons(), m);
            set.ensureGroup(name);
            double[] s = scores.get(h);
            if (k > 0) {
                for (int i = 0; i < s.length; i++) {
                    if (s[i] >= threshold) {
                        set.add(name, i / f.neurons(), i % f.neurons(), s[i]);
                    }
                }
            }
            out.put(h, set);
        }
        return out;
    }

    /**
     * Prunes permanently: writes a copy of the model in which {@code group}'s neurons are zero in
     * every layer (rows of ffn_gate and ffn_up and their biases; {@link AblationExport}), so their
     * outputs are exactly 0 in any llama.cpp program. A set at ffn.up or ffn.down (the reference
     * protocol's units) zeroes those rows of ffn_up or ffn_down and their bias elements instead.
     */
    public static void prune(Path model, NeuronSet set, String group, Path out) {
        AblationExport.write(model, set.hookPoint(), InterventionMask.of(set, List.of(group), new Intervention.Deactivate()), out,
                Map.of("method", set.method(), "groups", group, "mode", "deactivate"));
    }

    /**
     * Prunes encoder units permanently, as MANU prunes the vision encoder's fc1: writes a copy of a
     * multimodal projector (mmproj) in which {@code group}'s neurons of {@code module} (vision, audio
     * or projector) are zero: their rows of fc1 ({@code ffn_up}, {@code mm.0}) and their biases. mtmd
     * loads the copy unchanged, and it encodes as the in-graph deactivation does ({@code EncoderHooks}).
     */
    public static void prune(Path mmproj, org.neuronscope.Module module, NeuronSet set, String group, Path out) {
        AblationExport.write(mmproj, module, InterventionMask.of(set, List.of(group), new Intervention.Deactivate()), out,
                Map.of("method", set.method(), "groups", group, "mode", "deactivate", "module", module.id()));
    }
}
