package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.hooks.HookPoint;
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
        InterventionMask.setToMinimum(set, groups, InterventionMask.layerMinima(observed)).applyTo(hooks, point);
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
        InterventionMask.of(set, groups, m, value).applyTo(hooks, point);
    }
}
