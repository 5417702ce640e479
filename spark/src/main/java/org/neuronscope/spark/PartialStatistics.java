package org.neuronscope.spark;

import org.neuronscope.HookPoint;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.io.Serializable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * One partition's statistics as a serializable value (what a task returns to the driver): the raw
 * float64 arrays and int64 token counts of {@link NeuronStatistics}, its shape and thresholds, and
 * where it came from (partition, samples, the executor's process and how many models it had loaded).
 */
public final class PartialStatistics implements Serializable {
    private static final long serialVersionUID = 1L;

    final int partition;
    final int samples;
    final boolean reused;
    final long pid;
    final int loadsInJvm;
    private final String hookPoint;
    private final int layers;
    private final int neurons;
    private final ArrayList<String> groups;
    private final float countThreshold;
    private final float countAbsThreshold;
    private final EnumMap<Statistic, double[]> values = new EnumMap<>(Statistic.class);
    private final long[] tokens;

    PartialStatistics(int partition, int samples, boolean reused, NeuronStatistics s) {
        this.partition = partition;
        this.samples = samples;
        this.reused = reused;
        this.pid = ProcessHandle.current().pid();
        this.loadsInJvm = Workbenches.loads();
        this.hookPoint = s.hookPoint().id();
        this.layers = s.layers();
        this.neurons = s.neurons();
        this.groups = new ArrayList<>(s.groups());
        this.countThreshold = s.countThreshold();
        this.countAbsThreshold = s.countAbsThreshold();
        for (Statistic st : s.statistics()) {
            values.put(st, s.segment(st).toArray(ValueLayout.JAVA_DOUBLE));
        }
        this.tokens = s.tokenCounts().toArray(ValueLayout.JAVA_LONG);
    }

    /** The statistics again (the caller closes them). */
    NeuronStatistics toStatistics() {
        NeuronStatistics s = new NeuronStatistics(HookPoint.parse(hookPoint), layers, neurons, groups, values.keySet(), countThreshold,
                countAbsThreshold);
        for (Map.Entry<Statistic, double[]> e : values.entrySet()) {
            MemorySegment.copy(e.getValue(), 0, s.segment(e.getKey()), ValueLayout.JAVA_DOUBLE, 0, e.getValue().length);
        }
        for (int g = 0; g < tokens.length; g++) {
            s.setTokens(g, tokens[g]);
        }
        return s;
    }

    public int partition() {
        return partition;
    }

    public int samples() {
        return samples;
    }

    /** Whether the task read a result a previous run had written instead of decoding. */
    public boolean reused() {
        return reused;
    }

    /** The process id of the executor JVM that returned it. */
    public long pid() {
        return pid;
    }

    /** How many models that JVM had loaded when it returned it (1: every task reused the first). */
    public int loadsInJvm() {
        return loadsInJvm;
    }

    List<String> groups() {
        return groups;
    }
}
