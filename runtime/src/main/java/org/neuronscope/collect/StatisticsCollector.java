package org.neuronscope.collect;


import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.Hooks;
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

    private final Session session;
    private final HookScope scope;
    private final HookPoint point;
    private final NeuronStatistics totals;
    private final Map<Statistic, Accumulator> accumulators = new EnumMap<>(Statistic.class);
    private final int[] currentGroups;
    private long samplesDone;

    private StatisticsCollector(Session session, HookPoint point, NeuronStatistics totals, long samplesDone) {
        this.session = session;
        this.point = point;
        this.totals = totals;
        this.samplesDone = samplesDone;
        this.currentGroups = new int[session.batchSize()];
        this.scope = session.hooks().openScope();
        try {
            scope.tokenWeights(totals.groupCount());
            for (Statistic s : totals.statistics()) {
                if (inGraph(s)) {
                    float threshold = s == Statistic.COUNT ? totals.countThreshold() : totals.countAbsThreshold();
                    accumulators.put(s, scope.reduce(point, s, threshold));
                }
            }
            if (totals.has(Statistic.MAX) || totals.has(Statistic.MIN)) {
                scope.tap(point, -1, (p, layer, data, width, n, batchIndex) -> {
                    for (int i = 0; i < n; i++) {
                        int g = currentGroups[batchIndex[i]];
                        if (g >= 0) {
                            totals.observeExtrema(layer, g, data.asSlice((long) i * width * Float.BYTES, (long) width * Float.BYTES));
                        }
                    }
                });
            }
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    /** Whether the graph reduces a statistic (MAX and MIN come from taps; WEIGHTED_SUM needs the caller's weights). */
    private static boolean inGraph(Statistic s) {
        return switch (s) {
            case COUNT, COUNT_ABS, SUM, SUM_SQ, SUM_ABS -> true;
            case MAX, MIN, WEIGHTED_SUM -> false;
        };
    }

    /** A new collection. */
    public static StatisticsCollector start(Session session, HookPoint point, List<String> groups, Set<Statistic> statistics,
                                            float countThreshold, float countAbsThreshold) {
        if (statistics.contains(Statistic.WEIGHTED_SUM)) {
            throw new IllegalArgumentException("StatisticsCollector labels tokens with one-hot groups; WEIGHTED_SUM needs the caller's "
                    + "token weights (see MinerCollector, or HookScope.reduce with TokenWeights)");
        }
        Hooks hooks = session.hooks();
        int width = hooks.uniformWidth(point);
        NeuronStatistics totals = new NeuronStatistics(point, hooks.layers(), width, groups, statistics, countThreshold, countAbsThreshold);
        try {
            return new StatisticsCollector(session, point, totals, 0);
        } catch (RuntimeException e) {
            totals.close();
            throw e;
        }
    }

    /** Continues the collection saved by {@link #checkpoint(Path)}; {@link #samplesDone()} says where. */
    public static StatisticsCollector resume(Session session, Path checkpoint) throws IOException {
        NeuronStatistics saved = NeuronStatistics.read(checkpoint);
        HookPoint point = saved.hookPoint();
        Hooks hooks = session.hooks();
        if (saved.layers() != hooks.layers() || saved.neurons() != hooks.width(point, 0)) {
            saved.close();
            throw new IllegalArgumentException(checkpoint + " was collected on another model or hook point ("
                    + saved.layers() + " layers x " + saved.neurons() + " at " + point + "; this model: " + hooks.layers() + " layers)");
        }
        long done = Long.parseLong(saved.metadata().getOrDefault(SAMPLES_DONE, "0"));
        try {
            return new StatisticsCollector(session, point, saved, done);
        } catch (RuntimeException e) {
            saved.close();
            throw e;
        }
    }

    /**
     * Decodes one sample with an empty KV cache; entry i counts for group {@code groupOfEntry[i]}
     * (-1: for none). Every entry of every layer is observed.
     */
    public void add(Batch batch, int[] groupOfEntry) {
        if (groupOfEntry.length != batch.size()) {
            throw new IllegalArgumentException(groupOfEntry.length + " group labels for a batch of " + batch.size());
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
            throw new IllegalArgumentException(groupOfEntry.length + " group labels for a prompt of " + prompt.length() + " entries");
        }
        beginSample();
        prompt.decode(session, 0, 0, groupOfEntry, this::decodeLabelled);
        endSample(List.of(groupOfEntry));
    }

    /**
     * Decodes several prompts together (each in its own sequence 0, 1, ...; the session needs that
     * many sequences), sharing token batches for throughput. Counts as {@code prompts.size()} samples.
     */
    public void addAll(List<? extends Prompt> prompts, List<int[]> groupsOfPrompt) {
        if (prompts.size() > session.maxSequences()) {
            throw new IllegalArgumentException(prompts.size() + " prompts at once need a session with as many sequences; it has "
                    + session.maxSequences());
        }
        beginSample();
        int[] seqIds = java.util.stream.IntStream.range(0, prompts.size()).toArray();
        PromptBatcher.decode(session, prompts, seqIds, groupsOfPrompt, this::decodeLabelled, (p, i) -> { });
        endSample(groupsOfPrompt);
    }

    private void beginSample() {
        accumulators.values().forEach(Accumulator::reset);
        session.clearMemory();
    }

    private void decodeLabelled(Batch batch, int[] groupOfEntry) {
        scope.tokenWeights().setGroups(groupOfEntry);
        java.util.Arrays.fill(currentGroups, -1);
        System.arraycopy(groupOfEntry, 0, currentGroups, 0, groupOfEntry.length);
        session.decode(batch);
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

    /**
     * The running totals (live: they keep growing with {@link #add}). They belong to this collector
     * and are freed with it: {@link NeuronStatistics#copy()} what must outlive it.
     */
    public NeuronStatistics statistics() {
        return totals;
    }

    /** Saves the totals and the progress atomically; {@link #resume} continues from here. */
    public void checkpoint(Path dir) throws IOException {
        totals.metadata().put(SAMPLES_DONE, Long.toString(samplesDone));
        totals.save(dir);
    }

    /** Removes this collector's reductions and taps and frees their memory and the totals'. */
    @Override
    public void close() {
        try {
            scope.close();
        } finally {
            totals.close();
        }
    }
}
