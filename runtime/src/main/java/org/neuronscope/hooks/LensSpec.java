package org.neuronscope.hooks;

import java.util.Arrays;

/**
 * What the logit lens decodes (see {@link Lens}): which layers (empty: every layer), how many top
 * tokens per (layer, token), the target token whose probability is reported (-1: none), whether
 * per-token rows go to a listener, and whether entropy and target probability are summed per
 * token-weight column (group means, see {@link Lens#groupMeanEntropy}).
 *
 * @param layers   the lensed layers, ascending, no duplicates; empty means every layer
 * @param topK     ids and probabilities per row, in [0, vocabulary size]
 * @param target   a token id, or -1
 * @param perToken deliver per-token rows to the lens' listener
 * @param groups   sum per token-weight column (needs the scope's {@link HookScope#tokenWeights(int)})
 */
public record LensSpec(int[] layers, int topK, int target, boolean perToken, boolean groups) {
    /** Every layer, the top 10, no target, per-token rows, no group sums. */
    public static final LensSpec DEFAULT = new LensSpec(new int[0], 10, -1, true, false);

    public LensSpec {
        layers = layers == null ? new int[0] : layers.clone();
        for (int i = 0; i < layers.length; i++) {
            if (layers[i] < 0 || (i > 0 && layers[i] <= layers[i - 1])) {
                throw new IllegalArgumentException("lens layers must be non-negative and strictly ascending, got " + Arrays.toString(layers));
            }
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        }
        if (target < -1) {
            throw new IllegalArgumentException("target must be a token id or -1, got " + target);
        }
        if (!perToken && !groups) {
            throw new IllegalArgumentException("a lens must deliver per-token rows, group sums, or both");
        }
    }

    @Override
    public int[] layers() {
        return layers.clone();
    }

    public boolean allLayers() {
        return layers.length == 0;
    }

    public LensSpec withLayers(int... l) {
        return new LensSpec(l, topK, target, perToken, groups);
    }

    public LensSpec withTopK(int k) {
        return new LensSpec(layers, k, target, perToken, groups);
    }

    public LensSpec withTarget(int t) {
        return new LensSpec(layers, topK, t, perToken, groups);
    }

    public LensSpec withPerToken(boolean on) {
        return new LensSpec(layers, topK, target, on, groups);
    }

    public LensSpec withGroups(boolean on) {
        return new LensSpec(layers, topK, target, perToken, on);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LensSpec s && Arrays.equals(layers, s.layers) && topK == s.topK && target == s.target
                && perToken == s.perToken && groups == s.groups;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(layers) * 31 + Integer.hashCode(topK) * 17 + target + (perToken ? 2 : 0) + (groups ? 1 : 0);
    }

    @Override
    public String toString() {
        return "LensSpec[layers=" + (allLayers() ? "all" : Arrays.toString(layers)) + ", topK=" + topK + ", target=" + target
                + ", perToken=" + perToken + ", groups=" + groups + "]";
    }
}
