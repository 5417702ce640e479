package org.neuronscope.benchmarks;

import org.neuronscope.HookPoint;

import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Scoring and selection on Qwen2-VL-7B's shape, 28 layers × 18944 neurons × 7 groups, one thread:
 * <ul>
 * <li>{@code lape}: LAPE from COUNT (probabilities, global percentile filter, entropy, global
 *     lowest-entropy selection, group assignment), defaults 1 %, 0.95, 0.95; {@code lapeWorkspace}
 *     the same reusing one {@link EntropySelection.Workspace};</li>
 * <li>{@code minerSelect}: MINER stage 4, W_m of 7 modalities from aggregated scores (mean + max
 *     weights) and LA_MU selection of 2 %;</li>
 * <li>{@code manu}: MANU's four importances for forget and retain, the code-variant score and the
 *     top 2 % of one group.</li>
 * </ul>
 * Random counts uniform in [0, tokens], so about 30 % of neurons pass LAPE's filter.
 *
 * <pre>java -cp "benchmarks/target/classes:$(cat cp.txt)" org.openjdk.jmh.Main MethodsBenchmark -f 1 -wi 3 -i 5</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
public class MethodsBenchmark {
    static final int LAYERS = 28;
    static final int NEURONS = 18944;
    static final List<String> GROUPS = List.of("text", "image", "video", "audio", "special", "docs", "scenes");

    NeuronStatistics counts;
    NeuronStatistics forget;
    NeuronStatistics retain;
    Miner.Aggregator aggregator;
    final EntropySelection.Workspace workspace = new EntropySelection.Workspace();

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rng = new SplittableRandom(1);
        counts = new NeuronStatistics(HookPoint.FFN_ACT, LAYERS, NEURONS, GROUPS, EnumSet.of(Statistic.COUNT), 0f, 0f);
        for (int g = 0; g < GROUPS.size(); g++) {
            counts.addTokens(g, 10_000);
        }
        fill(counts.segment(Statistic.COUNT), rng, 10_001, 0);

        EnumSet<Statistic> manuStats = EnumSet.of(Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.COUNT_ABS);
        forget = new NeuronStatistics(HookPoint.FFN_POST, LAYERS, NEURONS, List.of("forget"), manuStats, 0f, 0.1f);
        retain = new NeuronStatistics(HookPoint.FFN_POST, LAYERS, NEURONS, List.of("retain"), manuStats, 0f, 0.1f);
        for (NeuronStatistics s : List.of(forget, retain)) {
            s.addTokens(0, 1000);
            fill(s.segment(Statistic.SUM), rng, 2000, -1000);
            fill(s.segment(Statistic.SUM_SQ), rng, 100_000, 0);
            fill(s.segment(Statistic.SUM_ABS), rng, 1000, 0);
            fill(s.segment(Statistic.COUNT_ABS), rng, 1001, 0);
        }

        aggregator = new Miner.Aggregator(LAYERS, NEURONS, GROUPS, EnumSet.of(Miner.Metric.MEAN, Miner.Metric.MAX));
        try (NeuronStatistics sample = new NeuronStatistics(HookPoint.FFN_ACT, LAYERS, NEURONS, GROUPS,
                EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.MAX), 0f, 0f)) {
            for (int g = 0; g < GROUPS.size(); g++) {
                sample.addTokens(g, 100);
            }
            fill(sample.segment(Statistic.SUM), rng, 1000, -500);
            fill(sample.segment(Statistic.MAX), rng, 100, 0);
            aggregator.add("synthetic", new Miner.SampleStatistics(sample, null, null));
        }
    }

    private static void fill(MemorySegment seg, SplittableRandom rng, int bound, int offset) {
        for (long i = 0; i < seg.byteSize() / 8; i++) {
            seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, rng.nextInt(bound) + offset);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        counts.close();
        forget.close();
        retain.close();
    }

    @Benchmark
    public NeuronSet lape() {
        return EntropySelection.select(counts, EntropySelection.Params.DEFAULTS);
    }

    /** The same with one reused workspace (no scratch allocation per call). */
    @Benchmark
    public NeuronSet lapeWorkspace() {
        return workspace.select(counts, EntropySelection.Params.DEFAULTS);
    }

    @Benchmark
    public NeuronSet minerSelect() {
        return Miner.select(aggregator, HookPoint.FFN_ACT, Miner.Params.DEFAULTS.with(Miner.Weights.MEAN_MAX));
    }

    @Benchmark
    public NeuronSet manu() {
        return Manu.select(forget, 0, retain, 0, Manu.Params.DEFAULTS, "forget");
    }
}
