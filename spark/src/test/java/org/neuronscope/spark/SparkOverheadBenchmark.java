package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Spark path against plain {@code stats} (BENCHMARKS.md, "stats over Spark"). Not a test: run
 * it as a program (see BENCHMARKS.md for the command). Arguments: {@code mode rounds samples [layers]}
 * with mode {@code overhead} (plain stats vs the Spark job on local[1] with one partition, alternated
 * round by round; both open the model inside the timed region) or {@code executors} (the Spark job
 * on local-cluster with 1 executor vs 2 executors, one decode thread each, two partitions per run).
 */
public final class SparkOverheadBenchmark {
    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "overhead";
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 24;
        int layers = args.length > 3 ? Integer.parseInt(args[3]) : 12;
        ModelSpec spec = ModelSpec.qwen2_0_5b(SyntheticFixtures.vocabFor("qwen2")).withLayers(layers);
        Path model = SyntheticFixtures.model("bench-qwen2-" + layers + "l", spec);
        Path dir = Files.createTempDirectory("spark-bench");
        Path file = dir.resolve("bench.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lines.add("{\"id\": \"b" + i + "\", \"prompt\": \"" + ("Sample " + i + " of the benchmark talks about things, numbers and words. ").repeat(8)
                    + "\", \"language\": \"" + (i % 2 == 0 ? "en" : "fr") + "\"}");
        }
        Files.write(file, lines);
        JobSetup setup = JobSetup.of(model).withThreads(mode.equals("overhead") ? 2 : 1).withContext(2048, 512).withChatTemplate("raw");
        System.out.printf("model %s (%d layers), %d samples, mode %s, load average %.2f%n", model.getFileName(), layers, n, mode,
                java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        if (mode.equals("overhead")) {
            overhead(setup, file, dir, rounds);
        } else {
            executors(setup, file, dir, rounds);
        }
    }

    private static void overhead(JobSetup setup, Path file, Path dir, int rounds) throws Exception {
        SparkSession spark = SparkSession.builder().master("local[1]").appName("bench").config("spark.ui.enabled", "false").getOrCreate();
        double[] plain = new double[rounds];
        double[] onSpark = new double[rounds];
        double[] ratio = new double[rounds];
        try {
            Samples samples = Samples.read(spark, file, null, null);
            Dataset data = samples.loadOnDriver();
            Grouping g = Grouping.of("label:language", data, true);
            SparkStats.Job job = new SparkStats.Job(setup, g, HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 1);
            StatsExperiment.Params p = new StatsExperiment.Params(HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 10, 1);
            for (int r = -1; r < rounds; r++) { // round -1 warms up both
                long t0 = System.nanoTime();
                try (Workbench wb = Workbench.open(setup.toSetup());
                     NeuronStatistics s = StatsExperiment.run(wb, data, g.toGrouping(), p, dir.resolve("plain" + r), Progress.Listener.NONE)) {
                    s.tokens(0);
                }
                long t1 = System.nanoTime();
                Workbenches.closeAll(); // the Spark job loads its model inside the timed region too
                long t2 = System.nanoTime();
                SparkStats.run(spark, job, samples, data, dir.resolve("spark" + r), SparkStats.TaskObserver.NONE).close();
                long t3 = System.nanoTime();
                Workbenches.closeAll();
                if (r >= 0) {
                    plain[r] = (t1 - t0) / 1e9;
                    onSpark[r] = (t3 - t2) / 1e9;
                    ratio[r] = onSpark[r] / plain[r];
                    System.out.printf("round %d: plain %.3f s, spark %.3f s, ratio %.4f%n", r, plain[r], onSpark[r], ratio[r]);
                }
            }
        } finally {
            spark.stop();
        }
        System.out.printf("medians: plain %.3f s, spark %.3f s, ratio of pairs %.4f (load average now %.2f)%n", median(plain), median(onSpark),
                median(ratio), java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    private static void executors(JobSetup setup, Path file, Path dir, int rounds) throws Exception {
        double[][] t = new double[2][rounds];
        for (int e = 1; e <= 2; e++) {
            SparkSession spark = LocalCluster.start(dir.resolve("home" + e), e, "bench");
            try {
                Samples samples = Samples.read(spark, file, null, null);
                Dataset data = samples.loadOnDriver();
                SparkStats.Job job = new SparkStats.Job(setup, Grouping.of("label:language", data, true), HookPoint.FFN_ACT,
                        StatsExperiment.Params.DEFAULTS.statistics(), 2);
                for (int r = -1; r < rounds; r++) { // round -1 loads the executors' models
                    long t0 = System.nanoTime();
                    SparkStats.run(spark, job, samples, data, dir.resolve("e" + e + "r" + r), SparkStats.TaskObserver.NONE).close();
                    if (r >= 0) {
                        t[e - 1][r] = (System.nanoTime() - t0) / 1e9;
                        System.out.printf("%d executor(s), round %d: %.3f s%n", e, r, t[e - 1][r]);
                    }
                }
            } finally {
                spark.stop();
                LocalCluster.clear();
            }
        }
        System.out.printf("medians: 1 executor %.3f s, 2 executors %.3f s, speed-up %.3f (load average now %.2f)%n", median(t[0]), median(t[1]),
                median(t[0]) / median(t[1]), java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
