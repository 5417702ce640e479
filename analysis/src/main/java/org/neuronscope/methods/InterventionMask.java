package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;

/**
 * A per-layer, per-neuron intervention {@code a ← scale·a + shift} as plain arrays
 * {@code scale[L][N]} and {@code shift[L][N]} (identity: scale 1, shift 0), built from groups of a
 * {@link NeuronSet} (METHODS.md §6). Immutable; the runtime writes it into a session's hooks.
 */
public final class InterventionMask {
    /** How the chosen neurons (the union of the chosen groups) are changed. */
    public enum Mode {
        /** a = 0 (scale 0, shift 0). */
        DEACTIVATE,
        /** a = value (scale 0, shift value). */
        SET,
        /** a = the minimum of layer l's activations (scale 0, shift min[l]), minima supplied by the caller. */
        SET_TO_MIN,
        /** a = value·a (scale value, shift 0). */
        SCALE,
        /** every neuron <em>except</em> the chosen ones: a = 0. */
        COMPLEMENTARY
    }

    private final float[][] scale;
    private final float[][] shift;

    private InterventionMask(float[][] scale, float[][] shift) {
        this.scale = scale;
        this.shift = shift;
    }

    /** The identity mask of L layers × N neurons. */
    public static InterventionMask identity(int layers, int neurons) {
        float[][] sc = new float[layers][neurons];
        for (float[] r : sc) {
            Arrays.fill(r, 1f);
        }
        return new InterventionMask(sc, new float[layers][neurons]);
    }

    /**
     * The mask for the union of {@code groups} of {@code set}. {@code value} is SET's constant or
     * SCALE's factor (ignored otherwise); SET_TO_MIN needs {@link #setToMinimum} instead.
     */
    public static InterventionMask of(NeuronSet set, Collection<String> groups, Mode mode, float value) {
        if (mode == Mode.SET_TO_MIN) {
            throw new NeuronScopeException("SET_TO_MIN needs the per-layer minima: use InterventionMask.setToMinimum");
        }
        return build(set, groups, mode, value, null);
    }

    /** MINER's "set to the minimum": each chosen neuron of layer l is set to {@code layerMinimum[l]}. */
    public static InterventionMask setToMinimum(NeuronSet set, Collection<String> groups, double[] layerMinimum) {
        if (layerMinimum.length != set.layers()) {
            throw new NeuronScopeException(layerMinimum.length + " layer minima for a set of " + set.layers() + " layers");
        }
        return build(set, groups, Mode.SET_TO_MIN, 0f, layerMinimum);
    }

    /**
     * Per layer, the smallest value of a MIN statistic over all groups and neurons: the minimum of the
     * activation tensor observed on the statistics' tokens. Throws if a layer observed nothing.
     */
    public static double[] layerMinima(NeuronStatistics observed) {
        MemorySegment min = observed.segment(Statistic.MIN);
        double[] out = new double[observed.layers()];
        for (int l = 0; l < observed.layers(); l++) {
            double m = Double.POSITIVE_INFINITY;
            for (int g = 0; g < observed.groupCount(); g++) {
                long base = observed.offset(l, g);
                for (int n = 0; n < observed.neurons(); n++) {
                    m = Math.min(m, min.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n));
                }
            }
            if (!Double.isFinite(m)) {
                throw new NeuronScopeException("no minimum observed in layer " + l);
            }
            out[l] = m;
        }
        return out;
    }

    private static InterventionMask build(NeuronSet set, Collection<String> groups, Mode mode, float value, double[] minima) {
        if (groups.isEmpty()) {
            throw new NeuronScopeException("choose at least one group of " + set.groupNames());
        }
        int layers = set.layers(), neurons = set.neurons();
        BitSet chosen = set.union(List.copyOf(groups));
        InterventionMask m = identity(layers, neurons);
        for (int l = 0; l < layers; l++) {
            for (int n = 0; n < neurons; n++) {
                boolean in = chosen.get(l * neurons + n);
                switch (mode) {
                    case DEACTIVATE -> { if (in) { m.scale[l][n] = 0f; } }
                    case SET -> { if (in) { m.scale[l][n] = 0f; m.shift[l][n] = value; } }
                    case SET_TO_MIN -> { if (in) { m.scale[l][n] = 0f; m.shift[l][n] = (float) minima[l]; } }
                    case SCALE -> { if (in) { m.scale[l][n] = value; } }
                    case COMPLEMENTARY -> { if (!in) { m.scale[l][n] = 0f; } }
                }
            }
        }
        return m;
    }

    public int layers() {
        return scale.length;
    }

    public int neurons() {
        return scale.length == 0 ? 0 : scale[0].length;
    }

    public float scale(int layer, int neuron) {
        return scale[layer][neuron];
    }

    public float shift(int layer, int neuron) {
        return shift[layer][neuron];
    }

    /** A copy of the scale array, [layer][neuron]. */
    public float[][] scale() {
        return deepCopy(scale);
    }

    /** A copy of the shift array, [layer][neuron]. */
    public float[][] shift() {
        return deepCopy(shift);
    }

    /** Whether layer l is untouched (every scale 1, every shift 0). */
    public boolean isIdentity(int layer) {
        for (int n = 0; n < neurons(); n++) {
            if (scale[layer][n] != 1f || shift[layer][n] != 0f) {
                return false;
            }
        }
        return true;
    }

    /** The number of neurons the mask changes. */
    public int changed() {
        int c = 0;
        for (int l = 0; l < layers(); l++) {
            for (int n = 0; n < neurons(); n++) {
                c += scale[l][n] != 1f || shift[l][n] != 0f ? 1 : 0;
            }
        }
        return c;
    }

    private static float[][] deepCopy(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }
}
