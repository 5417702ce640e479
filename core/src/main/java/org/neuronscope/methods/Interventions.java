package org.neuronscope.methods;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.hooks.HookPoint;
import org.neuronscope.hooks.Intervention;
import org.neuronscope.hooks.NeuronHooks;

import java.util.Collection;

/** Turns a neuron set into interventions on a running session (METHODS.md §6). */
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
                                    org.neuronscope.stats.NeuronStatistics observed) {
        if (!observed.has(org.neuronscope.stats.Statistic.MIN) || observed.layers() != set.layers() || observed.neurons() != set.neurons()) {
            throw new NeuronScopeException("setToMinimum needs MIN statistics of the set's shape");
        }
        for (int l = 0; l < set.layers(); l++) {
            double min = Double.POSITIVE_INFINITY;
            for (int g = 0; g < observed.groupCount(); g++) {
                for (int n = 0; n < observed.neurons(); n++) {
                    min = Math.min(min, observed.get(org.neuronscope.stats.Statistic.MIN, l, g, n));
                }
            }
            if (!Double.isFinite(min)) {
                throw new NeuronScopeException("no minimum observed in layer " + l);
            }
            NeuronSet layerOnly = new NeuronSet(set.method(), set.hookPoint(), set.layers(), set.neurons(), set.params());
            for (String g : groups) {
                for (int n : set.neurons(g, l)) {
                    layerOnly.add(g, l, n, 0);
                }
            }
            apply(hooks, point, layerOnly, groups.stream().filter(layerOnly.groupNames()::contains).toList(), Mode.SET, (float) min);
        }
    }

    /** Applies {@code mode} to the neurons of {@code groups} at {@code point} (ffn.act or ffn.out). */
    public static void apply(NeuronHooks hooks, HookPoint point, NeuronSet set, Collection<String> groups, Mode mode, float value) {
        if (set.layers() != hooks.layers()) {
            throw new NeuronScopeException("the neuron set has " + set.layers() + " layers, the model " + hooks.layers());
        }
        for (int l = 0; l < set.layers(); l++) {
            java.util.BitSet chosen = new java.util.BitSet();
            for (String g : groups) {
                for (int n : set.neurons(g, l)) {
                    chosen.set(n);
                }
            }
            if (chosen.isEmpty() && mode != Mode.COMPLEMENTARY) {
                continue;
            }
            Intervention iv = hooks.intervention(point, l);
            if (iv.width() != set.neurons()) {
                throw new NeuronScopeException("the neuron set has " + set.neurons() + " neurons per layer, " + point + " has " + iv.width());
            }
            for (int n = 0; n < iv.width(); n++) {
                boolean in = chosen.get(n);
                switch (mode) {
                    case DEACTIVATE -> { if (in) iv.deactivate(n); }
                    case SET -> { if (in) iv.set(n, value); }
                    case SCALE -> { if (in) iv.scale(n, value); }
                    case COMPLEMENTARY -> { if (!in) iv.deactivate(n); }
                }
            }
        }
    }
}
