package org.neuronscope.benchmarks;

import org.neuronscope.methods.EntropySelection;
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
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * LAPE scoring and selection (probabilities, percentile filter, entropy, global lowest-entropy
 * selection, group assignment) on Qwen2-VL-7B's shape: 28 layers × 18944 neurons × 7 groups, one core.
 *
 * <pre>mvn -B -q -DskipTests -Prun verify -pl benchmarks -am -Drun.args="MethodsBenchmark"</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class MethodsBenchmark {
    static final int LAYERS = 28;
    static final int NEURONS = 18944;
    static final List<String> GROUPS = List.of("text", "image", "video", "audio", "special", "docs", "scenes");

    NeuronStatistics stats;

    @Setup(Level.Trial)
    public void setup() {
        stats = new NeuronStatistics("ffn.act", LAYERS, NEURONS, GROUPS, EnumSet.of(Statistic.COUNT), 0f, 0f);
        SplittableRandom rng = new SplittableRandom(1);
        var count = stats.segment(Statistic.COUNT);
        for (int g = 0; g < GROUPS.size(); g++) {
            stats.addTokens(g, 10_000);
        }
        for (long i = 0; i < count.byteSize() / 8; i++) {
            count.setAtIndex(ValueLayout.JAVA_DOUBLE, i, rng.nextInt(10_001));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stats.close();
    }

    @Benchmark
    public NeuronSet lape() {
        return EntropySelection.select(stats, EntropySelection.Params.DEFAULTS);
    }
}
