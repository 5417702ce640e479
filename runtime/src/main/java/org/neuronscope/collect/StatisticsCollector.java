package org.neuronscope.collect;

import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.NeuronHooks;
import org.neuronscope.hooks.Reduction;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptBatcher;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Collects {@link NeuronStatistics} of one hook point over many samples: each sample's tokens are
 * labelled with groups, decoded with in-graph reductions (and taps for MAX/MIN), and the sums are
 * added to the running totals after every sample — so a checkpoint saved after sample k and resumed
 * gives totals bit-identical to an uninterrupted run.
 */
public final class StatisticsCollector implements AutoCloseable {
    private static final String SAMPLES_DONE = "samples_done";

    private final NeuronHooks hooks;
    private final HookPoint point;
    private final NeuronStatistics totals;
    private final Map<Statistic, Accumulator> accumulators = new EnumMap<>(Statistic.class);
    private final int[] currentGroups;
    private long samplesDone;

    private StatisticsCollector(NeuronHooks hooks, HookPoint point, NeuronStatistics totals, long samplesDone) {
        this.hooks = hooks;
        this.point = point;
        this.totals = totals;
        this.samplesDone = samplesDone;
        this.currentGroups = new int[hooks.session().batchSize()];
        hooks.setColumns(totals.groupCount());
        for (Statistic s : totals.statistics()) {
            Reduction r = reductionOf(s);
            if (r != null) {
                float threshold = s == Statistic.COUNT ? totals.countThreshold() : totals.countAbsThreshold();
                accumulators.put(s, hooks.reduce(point, r, threshold));
            }
        }
        if (totals.has(Statistic.MAX) || totals.has(Statistic.MIN)) {
            hooks.tap(point, -1, (p, layer, data, width, n, batchIndex) -> {
                for (int i = 0; i < n; i++) {
                    int g = currentGroups[batchIndex[i]];
                    if (g >= 0) {
                        totals.observeExtrema(layer, g, data.asSlice((long) i * width * Float.BYTES, (long) width * Float.BYTES));
                    }
                }
            });
        }
    }

    /** The in-graph reduction computing a statistic; null for MAX and MIN (taps) and WEIGHTED_SUM (caller's weights). */
    private static Reduction reductionOf(Statistic s) {
        return switch (s) {
            case COUNT -> Reduction.COUNT;
            case COUNT_ABS -> Reduction.COUNT_ABS;
            case SUM -> Reduction.SUM;
            case SUM_SQ -> Reduction.SUM_SQ;
            case SUM_ABS -> Reduction.SUM_ABS;
            case MAX, MIN, WEIGHTED_SUM -> null;
        };
    }

    /** A new collection. */
    public static StatisticsCollector start(NeuronHooks hooks, HookPoint point, List<String> groups, Set<Statistic> statistics,
                                            float countThreshold, float countAbsThreshold) {
        if (statistics.contains(Statistic.WEIGHTED_SUM)) {
            throw new NeuronScopeException("StatisticsCollector labels tokens with one-hot groups; WEIGHTED_SUM needs the caller's "
                    + "token weights (see MinerCollector, or NeuronHooks.reduce with TokenWeights)");
        }
        int width = hooks.width(point, 0);
        return new StatisticsCollector(hooks, point,
                new NeuronStatistics(point.id(), hooks.layers(), width, groups, statistics, countThreshold, countAbsThreshold), 0);
    }

    /** Continues the collection saved by {@link #checkpoint(Path)}; {@link #samplesDone()} says where. */
    public static StatisticsCollector resume(NeuronHooks hooks, Path checkpoint) throws IOException {
        NeuronStatistics saved = NeuronStatistics.read(checkpoint);
        HookPoint point = HookPoint.parse(saved.hookPoint());
        if (saved.layers() != hooks.layers() || saved.neurons() != hooks.width(point, 0)) {
            saved.close();
            throw new NeuronScopeException(checkpoint + " was collected on another model or hook point");
        }
        long done = Long.parseLong(saved.metadata().getOrDefault(SAMPLES_DONE, "0"));
        return new StatisticsCollector(hooks, point, saved, done);
    }

    /**
     * Decodes one sample with an empty KV cache; entry i counts for group {@code groupOfEntry[i]}
     * (-1: for none). Every entry of every layer is observed.
     */
    public void add(Batch batch, int[] groupOfEntry) {
        if (groupOfEntry.length != batch.size()) {
            throw new NeuronScopeException(groupOfEntry.length + " group labels for a batch of " + batch.size());
        }
        beginSample();
        decodeLabelled(batch, groupOfEntry);
        endSample(List.of(groupOfEntry));
    }

    /**
     * Decodes one prompt (text, or text and media in several decodes) with an empty KV cache into
     * sequence 0; entry i counts for group {@code groupOfEntry[i]} (-1: for none).
     */
    public void add(Prompt prompt, int[] groupOfEntry) {
        if (groupOfEntry.length != prompt.length()) {
            throw new NeuronScopeException(groupOfEntry.length + " group labels for a prompt of " + prompt.length() + " entries");
        }
        beginSample();
        prompt.decode(hooks.session(), 0, 0, groupOfEntry, this::decodeLabelled);
        endSample(List.of(groupOfEntry));
    }

    /**
     * Decodes several prompts together (each in its own sequence 0, 1, ...; the session needs that
     * many sequences), sharing token batches for throughput. Counts as {@code prompts.size()} samples.
     */
    public void addAll(List<? extends Prompt> prompts, List<int[]> groupsOfPrompt) {
        if (prompts.size() > hooks.session().maxSequences()) {
            throw new NeuronScopeException(prompts.size() + " prompts at once need a session with as many sequences; it has "
                    + hooks.session().maxSequences());
        }
        beginSample();
        int[] seqIds = java.util.stream.IntStream.range(0, prompts.size()).toArray();
        PromptBatcher.decode(hooks.session(), prompts, seqIds, groupsOfPrompt, this::decodeLabelled, (p, i) -> { });
        endSample(groupsOfPrompt);
    }

    private void beginSample() {
        accumulators.values().forEach(Accumulator::reset);
        hooks.session().clearMemory();
    }

    private void decodeLabelled(Batch batch, int[] groupOfEntry) {
        hooks.tokenWeights().setGroups(groupOfEntry);
        java.util.Arrays.fill(currentGroups, -1);
        System.arraycopy(groupOfEntry, 0, currentGroups, 0, groupOfEntry.length);
        hooks.session().decode(batch);
    }

    /** Adds what the accumulators gathered for these samples to the totals. */
    private void endSample(List<int[]> groupsOfSamples) {
        for (var e : accumulators.entrySet()) {
            totals.addSums(e.getKey(), e.getValue().segment(), totals.groupCount(), 0);
        }
        for (int[] groupOfEntry : groupsOfSamples) {
            for (int g : groupOfEntry) {
                if (g >= 0) {
                    totals.addTokens(g, 1);
                }
            }
            samplesDone++;
        }
    }

    public long samplesDone() {
        return samplesDone;
    }

    /** The running totals (live: they keep growing with {@link #add}). */
    public NeuronStatistics statistics() {
        return totals;
    }

    /** Saves the totals and the progress atomically; {@link #resume} continues from here. */
    public void checkpoint(Path dir) throws IOException {
        totals.metadata().put(SAMPLES_DONE, Long.toString(samplesDone));
        totals.save(dir);
    }

    /** Removes this collector's reductions and taps; the totals stay usable until closed by their owner. */
    @Override
    public void close() {
        if (hooks.isOpen()) {
            hooks.removeTap(point, -1);
            for (Statistic s : accumulators.keySet()) {
                hooks.removeReduction(point, reductionOf(s));
            }
        }
    }
}
