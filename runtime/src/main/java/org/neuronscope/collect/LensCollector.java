package org.neuronscope.collect;

import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.Lens;
import org.neuronscope.hooks.LensRow;
import org.neuronscope.hooks.LensSpec;
import org.neuronscope.media.Prompt;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The logit lens over prompts: each prompt (text, or text and media in several decodes) is decoded
 * with an empty KV cache, and the lens of the chosen positions comes back per prompt entry ({@link
 * PromptLens}): the rows of every lensed (layer, entry), and per (layer, group) the weighted sums of
 * entropy, target probability and weight, from which the group means follow. Holds a hook scope of
 * the session until closed.
 */
public final class LensCollector implements AutoCloseable {
    /** Which entries of a prompt the lens decodes. */
    public enum Positions {
        /** every entry */
        ALL,
        /** the prompt's last entry (where the model's next-token prediction is read) */
        LAST,
        /** the entries of one token group (the image tokens, say) */
        GROUP
    }

    /**
     * The lens of one prompt.
     *
     * @param rows          per (layer, entry) of the lensed positions; {@link LensRow#batchEntry()} is the prompt entry
     * @param entropySum    [layer][group] weighted entropy sums over the lensed entries of each group
     * @param targetSum     [layer][group], zero without a target
     * @param weight        [layer][group] the entries counted (one-hot groups: their number)
     */
    public record PromptLens(int entries, List<LensRow> rows, double[][] entropySum, double[][] targetSum, double[][] weight) {
        /** The mean entropy of a group at a layer (NaN if the group has no lensed entry). */
        public double meanEntropy(int layer, int group) {
            return weight[layer][group] == 0 ? Double.NaN : entropySum[layer][group] / weight[layer][group];
        }

        public double meanTarget(int layer, int group) {
            return weight[layer][group] == 0 ? Double.NaN : targetSum[layer][group] / weight[layer][group];
        }
    }

    private final Session session;
    private final HookScope scope;
    private final Lens lens;
    private final LensSpec spec;
    private final int groups;
    private final Positions positions;
    private final int group;
    private final int layers;

    private LensCollector(Session session, HookScope scope, Lens lens, LensSpec spec, int groups, Positions positions, int group) {
        this.session = session;
        this.scope = scope;
        this.lens = lens;
        this.spec = spec;
        this.groups = groups;
        this.positions = positions;
        this.group = group;
        this.layers = session.model().layerCount();
    }

    /**
     * Starts a lens over prompts.
     *
     * @param spec      layers, top-k, target (its perToken and groups flags are set by the collector: both on)
     * @param groups    the number of token groups of the prompts' labels (at least 1)
     * @param positions which entries are lensed; with GROUP, {@code group} names the group's index
     */
    public static LensCollector start(Session session, LensSpec spec, int groups, Positions positions, int group) {
        if (groups < 1) {
            throw new IllegalArgumentException("at least one token group, got " + groups);
        }
        if (positions == Positions.GROUP && (group < 0 || group >= groups)) {
            throw new IndexOutOfBoundsException("group " + group + " is out of range [0, " + groups + ")");
        }
        if (!session.model().hasLogits()) {
            // an encoder without a language-model head (bert): there is nothing to decode the residual stream into
            throw new org.neuronscope.UnsupportedArchitectureException("the logit lens needs a language-model head, and "
                    + session.model().path().getFileName() + " (an encoder) has none; statistics, interventions and probing apply");
        }
        HookScope scope = session.hooks().openScope();
        try {
            scope.tokenWeights(groups);
            LensSpec s = spec.withPerToken(true).withGroups(true);
            Lens lens = scope.lens(s);
            return new LensCollector(session, scope, lens, s, groups, positions, group);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    public LensSpec spec() {
        return spec;
    }

    public Lens lens() {
        return lens;
    }

    /**
     * Decodes one prompt into sequence 0 with an empty KV cache; entry i counts for group
     * {@code groupOfEntry[i]} (-1: for none).
     *
     * @throws IllegalArgumentException if the positions are a group and the prompt has no entry in it
     */
    public PromptLens add(Prompt prompt, int[] groupOfEntry) {
        if (groupOfEntry.length != prompt.length()) {
            throw new IllegalArgumentException(groupOfEntry.length + " group labels for a prompt of " + prompt.length() + " entries");
        }
        if (positions == Positions.GROUP && Arrays.stream(groupOfEntry).noneMatch(g -> g == group)) {
            throw new IllegalArgumentException("the prompt has no entry in group " + group + " (of " + prompt.length() + " entries)");
        }
        session.clearMemory();
        lens.resetGroups();
        List<LensRow> rows = new ArrayList<>();
        int[] offset = {0};
        lens.onRows(r -> rows.add(new LensRow(r.layer(), offset[0] + r.batchEntry(), r.ids(), r.probs(), r.entropy(), r.targetProb())));
        int length = prompt.length();
        prompt.decode(session, 0, 0, groupOfEntry, (Batch batch, int[] g) -> {
            int n = batch.size();
            scope.tokenWeights().setGroups(g);
            switch (positions) {
                case ALL -> lens.selectAll();
                case LAST -> lens.select(offset[0] + n == length ? new int[] {n - 1} : new int[0]);
                case GROUP -> lens.select(java.util.stream.IntStream.range(0, n).filter(i -> g[i] == group).toArray());
            }
            session.decode(batch);
            offset[0] += n;
        });
        lens.onRows(null);
        double[][] h = new double[layers][groups];
        double[][] t = new double[layers][groups];
        double[][] w = new double[layers][groups];
        for (int layer : lens.lensedLayers()) {
            for (int c = 0; c < groups; c++) {
                h[layer][c] = lens.groupEntropySum(layer, c);
                t[layer][c] = spec.target() >= 0 ? lens.groupTargetSum(layer, c) : 0;
                w[layer][c] = lens.groupWeight(layer, c);
            }
        }
        rows.sort((a, b) -> a.layer() != b.layer() ? Integer.compare(a.layer(), b.layer()) : Integer.compare(a.batchEntry(), b.batchEntry()));
        return new PromptLens(length, List.copyOf(rows), h, t, w);
    }

    @Override
    public void close() {
        scope.close();
    }
}
