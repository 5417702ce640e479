package org.neuronscope.methods;

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
            throw new NeuronScopeException("cannot draw " + k + " of " + n);
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
     * As many random neurons as {@code group} of {@code set} has, in a group of the same name;
     * with {@code sameLayers}, the same number in each layer as the set.
     */
    public static NeuronSet matching(NeuronSet set, String group, long seed, boolean sameLayers) {
        SplittableRandom rng = new SplittableRandom(seed);
        NeuronSet out = new NeuronSet("random", set.hookPoint(), set.layers(), set.neurons(), Map.of(
                "matching", set.method() + ":" + group, "seed", Long.toString(seed), "same_layers", Boolean.toString(sameLayers)));
        out.ensureGroup(group);
        if (sameLayers) {
            int[] perLayer = set.perLayerCounts(group);
            for (int l = 0; l < set.layers(); l++) {
                for (int n : sample(rng, set.neurons(), perLayer[l])) {
                    out.add(group, l, n, 0);
                }
            }
        } else {
            for (int i : sample(rng, set.layers() * set.neurons(), set.size(group))) {
                out.add(group, i / set.neurons(), i % set.neurons(), 0);
            }
        }
        return out;
    }
}
