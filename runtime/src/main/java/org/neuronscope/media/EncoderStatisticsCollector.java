package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Grouped statistics of one encoder module's neurons over media items, as
 * {@code StatisticsCollector} collects the language model's: each item counts for its group (its
 * label); every row of the module (patch, audio frame, projector token) is one "token" of the
 * group. The result is a {@link NeuronStatistics} that records its module and is selected like the
 * language model's (LAPE / MMNeuron entropy, MANU). The sums are reduced in the encoder graph; one
 * tap of layer 0 counts the rows of each encode. MAX and MIN are not collected.
 */
public final class EncoderStatisticsCollector implements AutoCloseable {
    private final Projector projector;
    private final Module module;
    private final HookPoint point;
    private final List<String> groups;
    private final EncoderHooks hooks;
    private final Map<Statistic, EncoderAccumulator> sums = new EnumMap<>(Statistic.class);
    private final long[] rows;
    private final float countThreshold;
    private final float countAbsThreshold;
    private long lastRows;

    public EncoderStatisticsCollector(Projector projector, Module module, HookPoint point, List<String> groups, Set<Statistic> statistics,
                                      float countThreshold, float countAbsThreshold) {
        Objects.requireNonNull(projector, "projector");
        Objects.requireNonNull(module, "module");
        Objects.requireNonNull(point, "point");
        if (groups == null || groups.isEmpty() || groups.stream().distinct().count() != groups.size()) {
            throw new IllegalArgumentException("groups must be non-empty and unique, got " + groups);
        }
        if (statistics == null || statistics.isEmpty()) {
            throw new IllegalArgumentException("choose at least one statistic");
        }
        if (statistics.contains(Statistic.SUM) && statistics.contains(Statistic.WEIGHTED_SUM)) {
            throw new IllegalArgumentException("SUM and WEIGHTED_SUM are the same sum in the graph; choose one");
        }
        for (Statistic s : statistics) {
            if (s.isExtremum()) {
                throw new IllegalArgumentException(s + " is not collected for encoders (sums and counts are)");
            }
        }
        this.projector = projector;
        this.module = module;
        this.point = point;
        this.groups = List.copyOf(groups);
        this.rows = new long[groups.size()];
        this.countThreshold = countThreshold;
        this.countAbsThreshold = countAbsThreshold;
        this.hooks = projector.openHooks(groups.size());
        try {
            for (Statistic s : statistics) {
                float t = s == Statistic.COUNT ? countThreshold : s == Statistic.COUNT_ABS ? countAbsThreshold : 0f;
                sums.put(s, hooks.reduce(module, point, s, t));
            }
            hooks.tap(module, point, 0, (m, p, l, data, width, n) -> lastRows = n);
        } catch (RuntimeException e) {
            hooks.close();
            throw e;
        }
    }

    /** The hooks, for more (a mask while collecting, per-patch weights). */
    public EncoderHooks hooks() {
        return hooks;
    }

    /** Encodes {@code media} as an item of {@code group}; returns its embeddings. */
    public float[] add(Media media, String group) {
        int g = groups.indexOf(group);
        if (g < 0) {
            throw new IllegalArgumentException("unknown group '" + group + "' (groups " + groups + ")");
        }
        hooks.group(g);
        lastRows = 0;
        float[] out = projector.encode(media);
        rows[g] += lastRows;
        return out;
    }

    /** Rows counted for group g so far. */
    public long rows(int g) {
        return rows[g];
    }

    /** The statistics so far, as a new {@link NeuronStatistics} (the caller closes it) that names its module. */
    public NeuronStatistics statistics() {
        EncoderAccumulator any = sums.values().iterator().next();
        NeuronStatistics st = new NeuronStatistics(point, any.layers(), any.width(), groups, sums.keySet(), countThreshold, countAbsThreshold);
        st.setModule(module);
        for (var e : sums.entrySet()) {
            double[] a = e.getValue().toArray();
            java.lang.foreign.MemorySegment seg = java.lang.foreign.MemorySegment.ofArray(a);
            st.addSums(e.getKey(), seg, groups.size(), 0);
        }
        for (int g = 0; g < groups.size(); g++) {
            st.addTokens(g, rows[g]);
        }
        st.metadata().put("projector", projector.path().getFileName().toString());
        return st;
    }

    @Override
    public void close() {
        hooks.close();
    }
}
