package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.gguf.GgufEdits;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * MANU: modality-aware neuron pruning for unlearning (METHODS.md §3). Importance of each neuron on
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
 * <p>The retain set is capped at the size of the forget set (METHODS.md): that is the caller's
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

    /** @param alpha fraction of neurons pruned (global top α), default 2 % */
    public record Params(Weights weights, Variant variant, double alpha) {
        public static final Params DEFAULTS = new Params(Weights.DEFAULTS, Variant.CODE, 0.02);

        public Params {
            if (!(alpha > 0 && alpha <= 1)) {
                throw new NeuronScopeException("alpha must be in (0, 1], got " + alpha);
            }
        }
    }

    private Manu() {
    }

    /** I_metric per neuron, [layer][neuron], of one group of the statistics. */
    public static Map<Metric, double[]> importance(NeuronStatistics s, int group) {
        if (s.countAbsThreshold() != FREQ_THRESHOLD) {
            throw new NeuronScopeException("MANU's I_freq needs COUNT_ABS with threshold 0.1, not " + s.countAbsThreshold());
        }
        if (s.has(Statistic.MAX) || s.has(Statistic.MIN)) {
            for (int l = 0; l < s.layers(); l++) {
                for (int n = 0; n < s.neurons(); n++) {
                    if ((s.has(Statistic.MAX) && s.get(Statistic.MAX, l, group, n) > CLAMP) || (s.has(Statistic.MIN) && s.get(Statistic.MIN, l, group, n) < -CLAMP)) {
                        throw new NeuronScopeException("layer " + l + " neuron " + n + " of group " + s.groups().get(group)
                                + " exceeds ±1000: MANU clamps before reducing, so these sums are not MANU's (collect clamped values)");
                    }
                }
            }
        }
        long t = s.tokens(group);
        if (t == 0) {
            throw new NeuronScopeException("group " + s.groups().get(group) + " has no tokens");
        }
        int layers = s.layers(), neurons = s.neurons();
        int size = layers * neurons;
        double[] abs = new double[size], freq = new double[size], var = new double[size], rms = new double[size];
        MemorySegment sum = s.segment(Statistic.SUM), sumSq = s.segment(Statistic.SUM_SQ);
        MemorySegment sumAbs = s.segment(Statistic.SUM_ABS), countAbs = s.segment(Statistic.COUNT_ABS);
        for (int l = 0; l < layers; l++) {
            long base = s.offset(l, group);
            for (int n = 0; n < neurons; n++) {
                int i = l * neurons + n;
                double mean = sum.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n) / t;
                double meanSq = sumSq.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n) / t;
                abs[i] = sumAbs.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n) / t;
                freq[i] = countAbs.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n) / t;
                var[i] = Math.sqrt(Math.max(0, meanSq - mean * mean));
                rms[i] = Math.sqrt(meanSq);
            }
        }
        Map<Metric, double[]> out = new EnumMap<>(Metric.class);
        out.put(Metric.ABS, abs);
        out.put(Metric.FREQ, freq);
        out.put(Metric.VAR, var);
        out.put(Metric.RMS, rms);
        return out;
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
        double[] s = new double[size];
        for (int i = 0; i < size; i++) {
            if (p.variant() == Variant.CODE) {
                for (Metric m : Metric.values()) {
                    double w = p.weights().of(m);
                    if (w != 0) {
                        s[i] += w * (forget.get(m)[i] / (retain.get(m)[i] + EPSILON) - 1);
                    }
                }
            } else {
                double f = 0, r = 0;
                for (Metric m : Metric.values()) {
                    f += forget.get(m)[i];
                    r += retain.get(m)[i];
                }
                s[i] = f / (r + EPSILON);
            }
        }
        return s;
    }

    /** The global top α of S, as group {@code name} of a neuron set (ties: lower layer, then lower neuron). */
    public static NeuronSet select(NeuronStatistics forget, int forgetGroup, NeuronStatistics retain, int retainGroup, Params p, String name) {
        checkShapes(forget, retain);
        NeuronSet set = newSet(forget, p);
        addTop(set, name, scores(importance(forget, forgetGroup), importance(retain, retainGroup), p), p, forget.neurons());
        return set;
    }

    /**
     * Per group (e.g. "image+text" and "text"), the top α of S within the group, from forget and
     * retain statistics with the same groups: group g's forget neurons against group g's retain ones.
     */
    public static NeuronSet select(NeuronStatistics forget, NeuronStatistics retain, Params p) {
        checkShapes(forget, retain);
        if (!forget.groups().equals(retain.groups())) {
            throw new NeuronScopeException("forget groups " + forget.groups() + " differ from retain groups " + retain.groups());
        }
        NeuronSet set = newSet(forget, p);
        for (int g = 0; g < forget.groupCount(); g++) {
            addTop(set, forget.groups().get(g), scores(importance(forget, g), importance(retain, g), p), p, forget.neurons());
        }
        return set;
    }

    private static void checkShapes(NeuronStatistics forget, NeuronStatistics retain) {
        if (forget.layers() != retain.layers() || forget.neurons() != retain.neurons()) {
            throw new NeuronScopeException("forget (" + forget.layers() + " x " + forget.neurons() + ") and retain (" + retain.layers() + " x "
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
        m.put("budget", Long.toString(Math.round(p.alpha() * forget.layers() * forget.neurons())));
        return new NeuronSet("manu", forget.hookPoint(), forget.layers(), forget.neurons(), m);
    }

    private static void addTop(NeuronSet set, String name, double[] s, Params p, int neurons) {
        int budget = (int) Math.round(p.alpha() * s.length);
        set.ensureGroup(name);
        for (int i : Selection.largest(s, budget)) {
            set.add(name, i / neurons, i % neurons, s[i]);
        }
    }

    /**
     * Prunes permanently: writes a copy of the model in which the rows of {@code group}'s neurons in
     * every layer's ffn_gate and ffn_up are zero, so their outputs are exactly 0 in any llama.cpp program.
     */
    public static void prune(Path model, NeuronSet set, String group, Path out) {
        Map<String, int[]> rows = new HashMap<>();
        for (int l = 0; l < set.layers(); l++) {
            int[] n = set.neurons(group, l);
            if (n.length > 0) {
                rows.put("blk." + l + ".ffn_gate.weight", n);
                rows.put("blk." + l + ".ffn_up.weight", n);
            }
        }
        GgufEdits.zeroRows(model, out, rows);
    }
}
