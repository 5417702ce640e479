package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Separate executor JVMs: Spark's {@code local-cluster[2,1,1024]} master (a standalone master and two
 * workers inside the test JVM, each worker starting an executor process), run from the test class
 * path as {@link LocalCluster} describes; the executors load
 * the native libraries from the project's jars on that class path and each loads the model once,
 * for the statistics, MINER and ablation jobs together.
 */
class SparkClusterTest {
    @Test
    void twoExecutorProcessesGiveTheSingleMachineStatisticsAndSelection(@TempDir Path dir) throws Exception {
        SparkSession spark = LocalCluster.start(dir.resolve("spark-home"), 2, "neuronscope-cluster-test");
        try {
            Path file = SparkFixtures.dataset(dir, 16);
            Samples samples = Samples.read(spark, file, null, null);
            Dataset data = samples.loadOnDriver();
            Grouping g = Grouping.of("label:language", data, true);
            SparkStats.Job job = new SparkStats.Job(SparkFixtures.setup(), g, HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 4);
            try (NeuronStatistics single = SparkFixtures.singleProcess(job.setup(), file, g, job, dir.resolve("single"));
                 SparkStats.Result r = SparkStats.run(spark, job, samples, data, dir.resolve("cluster"), SparkStats.TaskObserver.NONE)) {
                long driver = ProcessHandle.current().pid();
                Map<Long, Set<Integer>> loadsByPid = r.partitions().stream().collect(Collectors.groupingBy(PartialStatistics::pid,
                        Collectors.mapping(PartialStatistics::loadsInJvm, Collectors.toSet())));
                System.err.println("partitions by executor pid (models loaded there): " + loadsByPid);
                for (var e : loadsByPid.entrySet()) {
                    assertNotEquals(driver, e.getKey(), "a partition ran in the driver JVM");
                    assertEquals(Set.of(1), e.getValue(), "executor " + e.getKey() + " loaded the model once and reused it");
                }
                assertEquals(2, loadsByPid.size(), "both executors ran partitions: " + loadsByPid);
                SparkFixtures.assertEqualStatistics(single, r.statistics());
                NeuronSet a = EntropySelection.select(single, EntropySelection.Params.DEFAULTS);
                NeuronSet b = EntropySelection.select(r.statistics(), EntropySelection.Params.DEFAULTS);
                assertTrue(a.size() > 0);
                assertEquals(a.groupNames(), b.groupNames());
                for (String group : a.groupNames()) {
                    assertEquals(a.neurons(group), b.neurons(group), group);
                }
            }
            // MINER and ablate on the same executors and models (the same setup: no second load)
            SparkMiner.Job miner = new SparkMiner.Job(SparkFixtures.setup(), SparkMinerTest.MODALITIES, false, 3);
            org.neuronscope.methods.Miner.Aggregator single = SparkMinerTest.single(miner.setup(), List.of(file), false);
            SparkMiner.Result m = SparkMiner.run(spark, miner, List.of(samples), List.of(data), dir.resolve("miner"), SparkStats.TaskObserver.NONE);
            assertEquals(Set.of(1), m.partitions().stream().map(PartialResult::loadsInJvm).collect(Collectors.toSet()));
            assertTrue(m.partitions().stream().noneMatch(x -> x.pid() == ProcessHandle.current().pid()), "MINER ran in the driver");
            SparkMinerTest.assertSameSelection(single, m.aggregate(), new org.neuronscope.methods.Miner.Params(
                    org.neuronscope.methods.Miner.Weights.MEAN_MAX, 0.05, org.neuronscope.methods.Miner.Strategy.LA_MU, 0));
            Path questions = SparkAblateTest.dataset(dir, 6);
            List<org.neuronscope.experiments.AblationExperiment.Condition> conditions = SparkAblateTest.conditions(SparkFixtures.setup()).subList(0, 1);
            SparkAblate.Job ablate = new SparkAblate.Job(SparkFixtures.setup(), "media", 2, 2);
            Samples qs = Samples.read(spark, questions, null, null);
            SparkAblate.Result t = SparkAblate.run(spark, ablate, conditions, qs, qs.loadOnDriver(), dir.resolve("ablate"), SparkStats.TaskObserver.NONE);
            assertEquals(Set.of(1), t.partitions().stream().map(PartialResult::loadsInJvm).collect(Collectors.toSet()));
            assertEquals(SparkAblateTest.single(SparkFixtures.setup(), questions, conditions, ablate), t.table().toCsv());
        } finally {
            spark.stop();
            LocalCluster.clear();
        }
    }
}
