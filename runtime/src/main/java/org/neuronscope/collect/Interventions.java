package org.neuronscope.collect;

import org.neuronscope.hooks.Intervention;

import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.NeuronHooks;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.Collection;

/** Turns a neuron set into interventions on a running session (METHODS.md §6), through {@link InterventionMask}. */
public final class Interventions {
    public enum Mode {
        /** a = 0. */
        DEACTIVATE,
        /** a = value. */
        SET,
        /** a = value · a. */
        SCALE,
        /** a = 0 for every neuron except the set's. */
        COMPLEMENTARY
    }

    private Interventions() {
    }

    /**
     * MINER's "set to the minimum": each chosen neuron of layer l is set to the smallest value the
     * activation tensor of layer l took in {@code observed} (its MIN statistic, over all groups).
     */
    public static void setToMinimum(NeuronHooks hooks, HookPoint point, NeuronSet set, Collection<String> groups,
                                    NeuronStatistics observed) {
        if (!observed.has(Statistic.MIN) || observed.layers() != set.layers() || observed.neurons() != set.neurons()) {
            throw new NeuronScopeException("setToMinimum needs MIN statistics of the set's shape (" + set.layers() + " x " + set.neurons() + ")");
        }
        apply(InterventionMask.setToMinimum(set, groups, InterventionMask.layerMinima(observed)), hooks, point);
    }

    /** Applies {@code mode} to the neurons of {@code groups} at {@code point} (ffn.act or ffn.out). */
    public static void apply(NeuronHooks hooks, HookPoint point, NeuronSet set, Collection<String> groups, Mode mode, float value) {
        if (set.layers() != hooks.layers()) {
            throw new NeuronScopeException("the neuron set has " + set.layers() + " layers, the model " + hooks.layers());
        }
        InterventionMask.Mode m = switch (mode) {
            case DEACTIVATE -> InterventionMask.Mode.DEACTIVATE;
            case SET -> InterventionMask.Mode.SET;
            case SCALE -> InterventionMask.Mode.SCALE;
            case COMPLEMENTARY -> InterventionMask.Mode.COMPLEMENTARY;
        };
        apply(InterventionMask.of(set, groups, m, value), hooks, point);
    }

    /**
     * Writes a mask into the hooks' interventions at {@code point} (layers left as they are where
     * the mask is the identity; a layer with an intervention already set is overwritten neuron by
     * neuron where the mask changes something).
     */
    public static void apply(InterventionMask mask, NeuronHooks hooks, HookPoint point) {
        if (mask.layers() != hooks.layers()) {
            throw new NeuronScopeException("the mask has " + mask.layers() + " layers, the model " + hooks.layers());
        }
        for (int l = 0; l < mask.layers(); l++) {
            if (mask.isIdentity(l)) {
                continue;
            }
            Intervention iv = hooks.intervention(point, l);
            if (iv.width() != mask.neurons()) {
                throw new NeuronScopeException("the mask has " + mask.neurons() + " neurons per layer, " + point + " has " + iv.width());
            }
            for (int n = 0; n < mask.neurons(); n++) {
                if (mask.scale(l, n) != 1f || mask.shift(l, n) != 0f) {
                    iv.affine(n, mask.scale(l, n), mask.shift(l, n));
                }
            }
        }
    }
}
