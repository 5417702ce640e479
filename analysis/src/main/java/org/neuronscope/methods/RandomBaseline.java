package org.neuronscope.methods;

import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/** Random neuron sets matched to a selection: the baseline every ablation is compared against. */
public final class RandomBaseline {
    private RandomBaseline() {
    }

    /** k distinct indices of [0, n), sorted, from a seeded generator (partial Fisher–Yates). */
    static int[] sample(SplittableRandom rng, int n, int k) {
        if (k > n || k < 0) {
            throw new IllegalArgumentException("cannot draw " + k + " of " + n);
        }
        int[] pool = new int[n];
        for (int i = 0; i < n; i++) {
            pool[i] = i;
        }
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(n - i);
            int t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
        }
        int[] out = Arrays.copyOf(pool, k);
        Arrays.sort(out);
        return out;
    }

    /**
     * A random set matching every group of {@code set}: per group (in order, one seeded generator),
     * as many distinct random neurons as the group has, with {@code preserveLayerDistribution} the
     * same number in each layer. Same seed, same set.
     */
    public static NeuronSet matching(NeuronSet set, long seed, boolean preserveLayerDistribution) {
        SplittableRandom rng = new SplittableRandom(seed);
        NeuronSet out = new NeuronSet("random", set.module(), set.hookPoint(), set.layers(), set.neurons(), Map.of(
                "matching", set.method(), "seed", Long.toString(seed), "same_layers", Boolean.toString(preserveLayerDistribution)));
        for (String group : set.groupNames()) {
            draw(rng, set, group, preserveLayerDistribution, out);
        }
        return out;
    }

    /** {@code count} distinct random (layer, neuron) pairs of L × N, in group {@code group}. */
    public static NeuronSet of(HookPoint hookPoint, int layers, int neurons, int count, long seed, String group) {
        NeuronSet out = new NeuronSet("random", hookPoint, layers, neurons, Map.of("seed", Long.toString(seed), "count", Integer.toString(count)));
        out.ensureGroup(group);
        for (int i : sample(new SplittableRandom(seed), layers * neurons, count)) {
            out.add(group, i / neurons, i % neurons, 0);
        }
        return out;
    }

    private static void draw(SplittableRandom rng, NeuronSet set, String group, boolean sameLayers, NeuronSet out) {
        draw(rng, set.layers(), set.neurons(), set.perLayerCounts(group), sameLayers, group, out);
    }

    /** Distinct random neurons into {@code group}: perLayer[l] in layer l, or their total anywhere. */
    private static void draw(SplittableRandom rng, int layers, int neurons, int[] perLayer, boolean sameLayers, String group, NeuronSet out) {
        out.ensureGroup(group);
        if (sameLayers) {
            for (int l = 0; l < layers; l++) {
                for (int n : sample(rng, neurons, perLayer[l])) {
                    out.add(group, l, n, 0);
                }
            }
        } else {
            for (int i : sample(rng, layers * neurons, Arrays.stream(perLayer).sum())) {
                out.add(group, i / neurons, i % neurons, 0);
            }
        }
    }

    /**
     * As many random neurons as {@code group} of {@code set} has, in a group of the same name;
     * with {@code sameLayers}, the same number in each layer as the set.
     */
    public static NeuronSet matching(NeuronSet set, String group, long seed, boolean sameLayers) {
        SplittableRandom rng = new SplittableRandom(seed);
        NeuronSet out = new NeuronSet("random", set.module(), set.hookPoint(), set.layers(), set.neurons(), Map.of(
                "matching", set.method() + ":" + group, "seed", Long.toString(seed), "same_layers", Boolean.toString(sameLayers)));
        draw(rng, set, group, sameLayers, out);
        return out;
    }

    /**
     * The baseline of an ablation of several groups at once, which switches off their union: as many
     * random neurons as the union of {@code groups} in {@code set} holds (a neuron in two groups counts
     * once), with {@code sameLayers} as many in each layer, in one group named by the groups joined with
     * "+". Per-group draws would switch off more random neurons than selected ones wherever groups overlap.
     */
    public static NeuronSet matchingUnion(NeuronSet set, java.util.Collection<String> groups, long seed, boolean sameLayers) {
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("no groups to match");
        }
        java.util.BitSet union = set.union(groups);
        String name = String.join("+", groups);
        NeuronSet out = new NeuronSet("random", set.module(), set.hookPoint(), set.layers(), set.neurons(), Map.of(
                "matching", set.method() + ":" + name, "seed", Long.toString(seed), "same_layers", Boolean.toString(sameLayers)));
        int[] perLayer = new int[set.layers()];
        for (int l = 0; l < perLayer.length; l++) {
            perLayer[l] = union.get(l * set.neurons(), (l + 1) * set.neurons()).cardinality();
        }
        draw(new SplittableRandom(seed), set.layers(), set.neurons(), perLayer, sameLayers, name, out);
        return out;
    }
}
