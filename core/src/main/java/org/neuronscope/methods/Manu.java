package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.gguf.GgufEdits;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * MANU: modality-aware neuron pruning for unlearning (METHODS.md §3). Importance of each neuron on
 * a forget and a retain set — I_abs = mean|z|, I_freq = mean 1[|z| > 0.1], I_var = standard
 * deviation of z (population), I_rms = sqrt(mean z²), values clamped to ±1000 — then the score and
 * the global top α.
 *
 * <p>From in-graph statistics: SUM_ABS, COUNT_ABS (threshold 0.1), SUM, SUM_SQ and the token counts.
 * The reductions see unclamped values; when MAX and MIN are held they prove no value exceeded
 * ±1000 (otherwise an exception asks for tap-based statistics, see {@link #importanceOfValues}).
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
        if (s.has(Statistic.MAX) && s.has(Statistic.MIN)) {
            for (int l = 0; l < s.layers(); l++) {
                for (int n = 0; n < s.neurons(); n++) {
                    if (s.get(Statistic.MAX, l, group, n) > CLAMP || s.get(Statistic.MIN, l, group, n) < -CLAMP) {
                        throw new NeuronScopeException("layer " + l + " neuron " + n + " exceeds ±1000: MANU's clamp applies, use importanceOfValues");
                    }
                }
            }
        }
        long t = s.tokens(group);
        if (t == 0) {
            throw new NeuronScopeException("group " + s.groups().get(group) + " has no tokens");
        }
        int size = s.layers() * s.neurons();
        Map<Metric, double[]> out = new HashMap<>();
        for (Metric m : Metric.values()) {
            out.put(m, new double[size]);
        }
        for (int l = 0; l < s.layers(); l++) {
            for (int n = 0; n < s.neurons(); n++) {
                int i = l * s.neurons() + n;
                double mean = s.get(Statistic.SUM, l, group, n) / t;
                double meanSq = s.get(Statistic.SUM_SQ, l, group, n) / t;
                out.get(Metric.ABS)[i] = s.get(Statistic.SUM_ABS, l, group, n) / t;
                out.get(Metric.FREQ)[i] = s.get(Statistic.COUNT_ABS, l, group, n) / t;
                out.get(Metric.VAR)[i] = Math.sqrt(Math.max(0, meanSq - mean * mean));
                out.get(Metric.RMS)[i] = Math.sqrt(meanSq);
            }
        }
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

    /** S per neuron, [layer][neuron]. */
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

    /** The global top α of S, as group {@code name} of a neuron set. */
    public static NeuronSet select(NeuronStatistics forget, int forgetGroup, NeuronStatistics retain, int retainGroup, Params p, String name) {
        if (forget.layers() != retain.layers() || forget.neurons() != retain.neurons()) {
            throw new NeuronScopeException("forget and retain statistics differ in shape");
        }
        double[] s = scores(importance(forget, forgetGroup), importance(retain, retainGroup), p);
        int budget = (int) Math.round(p.alpha() * s.length);
        NeuronSet set = new NeuronSet("manu", forget.hookPoint(), forget.layers(), forget.neurons(), Map.of(
                "variant", p.variant().name(), "alpha", Double.toString(p.alpha()), "weights", p.weights().toString(),
                "budget", Integer.toString(budget)));
        set.ensureGroup(name);
        for (int i : Selection.largest(s, budget)) {
            set.add(name, i / forget.neurons(), i % forget.neurons(), s[i]);
        }
        return set;
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
