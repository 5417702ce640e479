package org.neuronscope.methods;

import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;

/**
 * A per-layer, per-neuron intervention {@code a ← scale·a + shift + minimum·m} as plain arrays
 * {@code scale[L][N]}, {@code shift[L][N]} and {@code minimum[L][N]} (identity: scale 1, shift 0,
 * minimum 0), built from groups of a {@link NeuronSet} (docs/METHODS.md §6); m is the smallest value
 * of the layer's tensor in the current call ({@link Intervention.SetToCallMinimum}), which the graph
 * computes. Immutable; the runtime writes it into a session's hooks.
 */
public final class InterventionMask {
    private final float[][] scale;
    private final float[][] shift;
    private final float[][] minimum;

    private InterventionMask(float[][] scale, float[][] shift) {
        this(scale, shift, new float[scale.length][scale.length == 0 ? 0 : scale[0].length]);
    }

    private InterventionMask(float[][] scale, float[][] shift, float[][] minimum) {
        this.scale = scale;
        this.shift = shift;
        this.minimum = minimum;
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
     * A mask from explicit arrays {@code scale[L][N]} and {@code shift[L][N]} (copied), for
     * interventions that no neuron set describes.
     *
     * @throws IllegalArgumentException if the arrays are ragged, differ in shape, or hold a NaN or infinity
     */
    public static InterventionMask of(float[][] scale, float[][] shift) {
        if (scale.length != shift.length) {
            throw new IllegalArgumentException(scale.length + " layers of scales but " + shift.length + " of shifts");
        }
        int n = scale.length == 0 ? 0 : scale[0].length;
        for (int l = 0; l < scale.length; l++) {
            if (scale[l].length != n || shift[l].length != n) {
                throw new IllegalArgumentException("layer " + l + " has " + scale[l].length + " scales and " + shift[l].length
                        + " shifts, layer 0 has " + n);
            }
            for (int i = 0; i < n; i++) {
                if (!Float.isFinite(scale[l][i]) || !Float.isFinite(shift[l][i])) {
                    throw new IllegalArgumentException("layer " + l + " neuron " + i + ": scale " + scale[l][i] + ", shift " + shift[l][i]
                            + " (must be finite)");
                }
            }
        }
        return new InterventionMask(deepCopy(scale), deepCopy(shift));
    }

    /**
     * The mask that applies {@code intervention} to the union of {@code groups} of {@code set} (to
     * every other neuron, for {@link Intervention.Complementary}).
     *
     * @throws IllegalArgumentException if no group is chosen, a group is unknown, or a minimum lacks
     *                                  its per-layer minima or has another number of layers
     */
    public static InterventionMask of(NeuronSet set, Collection<String> groups, Intervention intervention) {
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("choose at least one group of " + set.groupNames());
        }
        if (intervention.needsMinima()) {
            throw new IllegalArgumentException(intervention + " needs the per-layer minima of the activations "
                    + "(statistics with MIN: InterventionMask.layerMinima, or --stats on the command line)");
        }
        BitSet chosen = set.union(List.copyOf(groups));
        InterventionMask m = identity(set.layers(), set.neurons());
        boolean complement = intervention instanceof Intervention.Complementary;
        Intervention action = intervention instanceof Intervention.Complementary c ? c.others() : intervention;
        if (action instanceof Intervention.SetToMinimum min && min.layerMinima().length != set.layers()) {
            throw new IllegalArgumentException(min.layerMinima().length + " layer minima for a set of " + set.layers() + " layers");
        }
        double[] minima = action instanceof Intervention.SetToMinimum min ? min.layerMinima() : null;
        for (int l = 0; l < set.layers(); l++) {
            for (int n = 0; n < set.neurons(); n++) {
                if (chosen.get(l * set.neurons() + n) == complement) {
                    continue;
                }
                switch (action) {
                    case Intervention.Deactivate d -> m.scale[l][n] = 0f;
                    case Intervention.SetTo c -> { m.scale[l][n] = 0f; m.shift[l][n] = c.value(); }
                    case Intervention.SetToMinimum x -> { m.scale[l][n] = 0f; m.shift[l][n] = (float) minima[l]; }
                    case Intervention.SetToCallMinimum x -> { m.scale[l][n] = 0f; m.minimum[l][n] = 1f; }
                    case Intervention.Scale s -> m.scale[l][n] = s.factor();
                    case Intervention.Complementary c -> throw new IllegalArgumentException("complementary of complementary");
                }
            }
        }
        return m;
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
                throw new IllegalArgumentException("no minimum observed in layer " + l + " of these statistics");
            }
            out[l] = m;
        }
        return out;
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

    /** The weight of the current call's tensor minimum added to the neuron (1: set to that minimum, 0: none). */
    public float minimumWeight(int layer, int neuron) {
        return minimum[layer][neuron];
    }

    /** Whether some neuron is set to the minimum of the current call's tensor (no weight edit expresses that). */
    public boolean usesCallMinimum() {
        for (float[] row : minimum) {
            for (float w : row) {
                if (w != 0f) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A copy of the scale array, [layer][neuron]. */
    public float[][] scale() {
        return deepCopy(scale);
    }

    /** A copy of the shift array, [layer][neuron]. */
    public float[][] shift() {
        return deepCopy(shift);
    }

    /** Whether layer l is untouched (every scale 1, every shift 0, no minimum). */
    public boolean isIdentity(int layer) {
        for (int n = 0; n < neurons(); n++) {
            if (scale[layer][n] != 1f || shift[layer][n] != 0f || minimum[layer][n] != 0f) {
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
                c += scale[l][n] != 1f || shift[l][n] != 0f || minimum[l][n] != 0f ? 1 : 0;
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
