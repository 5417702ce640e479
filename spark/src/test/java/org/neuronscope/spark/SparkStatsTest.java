package org.neuronscope.spark;

import org.apache.spark.SparkException;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark path against the single-process {@code stats} (the oracle: the same code on one JVM,
 * one running sum) on {@code local[2,2]} (two task slots, a task may fail once and be retried).
 */
class SparkStatsTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2,2]").appName("neuronscope-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static SparkStats.Job job(Grouping g, HookPoint point, Set<Statistic> what, int partitions) {
        return new SparkStats.Job(SparkFixtures.setup(), g, point, what, partitions);
    }

    @Test
    void onePartitionWritesTheFilesOfStatsByteForByte(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 10);
        Samples samples = Samples.read(spark, file, null, null);
        Dataset data = samples.loadOnDriver();
        Grouping g = Grouping.of("label:language", data, true);
        SparkStats.Job job = job(g, HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 1);
        SparkFixtures.singleProcess(job.setup(), file, g, job, dir.resolve("single")).close();
        try (SparkStats.Result r = SparkStats.run(spark, job, samples, data, dir.resolve("spark"), SparkStats.TaskObserver.NONE)) {
            assertEquals(1, r.partitions().size());
        }
        SparkFixtures.assertSameFiles(StatsExperiment.statisticsDir(dir.resolve("single")), StatsExperiment.statisticsDir(dir.resolve("spark")));
    }

    /** Fails partition 1 after its result is written, and partition 2 before it starts, each on its first attempt only. */
    static final class FailFirstAttempts implements SparkStats.TaskObserver {
        @Override
        public void started(int partition, int attempt) {
            if (partition == 2 && attempt == 0) {
                throw new IllegalStateException("planted failure before partition 2");
            }
        }

        @Override
        public void finished(int partition, int attempt) {
            if (partition == 1 && attempt == 0) {
                throw new IllegalStateException("planted failure after partition 1 was written");
            }
        }
    }

    @Test
    void partitionsMergeToTheSingleProcessResultAndRetriedTasksChangeNothing(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 22);
        Samples samples = Samples.read(spark, file, null, null);
        Dataset data = samples.loadOnDriver();
        Grouping g = Grouping.of("label:language", data, true);
        SparkStats.Job job = job(g, HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 4);
        int loadsBefore = Workbenches.loads();
        try (NeuronStatistics single = SparkFixtures.singleProcess(job.setup(), file, g, job, dir.resolve("single"));
             SparkStats.Result clean = SparkStats.run(spark, job, samples, data, dir.resolve("clean"), SparkStats.TaskObserver.NONE);
             SparkStats.Result retried = SparkStats.run(spark, job, samples, data, dir.resolve("retried"), new FailFirstAttempts())) {
            double worst = SparkFixtures.assertEqualStatistics(single, clean.statistics());
            System.err.println("4 partitions vs one process: largest relative difference of the sums " + worst);
            assertEquals(4, clean.partitions().size());
            assertTrue(retried.partitions().get(1).reused(), "the retry of partition 1 reads what its failed attempt wrote");
            // the same model in this JVM for every task of both jobs (the single-process oracle opens its own)
            assertTrue(Workbenches.loads() - loadsBefore <= 1, "models loaded: " + (Workbenches.loads() - loadsBefore));
            // LAPE on both
            NeuronSet a = EntropySelection.select(single, EntropySelection.Params.DEFAULTS);
            NeuronSet b = EntropySelection.select(clean.statistics(), EntropySelection.Params.DEFAULTS);
            assertTrue(a.size() > 0);
            for (String group : a.groupNames()) {
                assertEquals(a.neurons(group).stream().map(n -> n.layer() + ":" + n.neuron()).toList(),
                        b.neurons(group).stream().map(n -> n.layer() + ":" + n.neuron()).toList(), group);
            }
        }
        // retries change nothing: byte-identical to the run without failures
        SparkFixtures.assertSameFiles(StatsExperiment.statisticsDir(dir.resolve("clean")), StatsExperiment.statisticsDir(dir.resolve("retried")));
    }

    @Test
    void modalityGroupingAtAnotherHookPoint(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 9);
        Samples samples = Samples.read(spark, file, null, null);
        Dataset data = samples.loadOnDriver();
        SparkStats.Job job = job(Grouping.modality(), HookPoint.FFN_POST, EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.SUM_SQ,
                Statistic.SUM_ABS, Statistic.MAX), 3);
        try (NeuronStatistics single = SparkFixtures.singleProcess(job.setup(), file, job.grouping(), job, dir.resolve("single"));
             SparkStats.Result r = SparkStats.run(spark, job, samples, data, dir.resolve("spark"), SparkStats.TaskObserver.NONE)) {
            assertTrue(single.groups().contains("prompt"), "derived groups: " + single.groups());
            SparkFixtures.assertEqualStatistics(single, r.statistics());
        }
    }

    @Test
    void anInterruptedJobResumesToTheUninterruptedResult(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 16);
        Samples samples = Samples.read(spark, file, null, null);
        Dataset data = samples.loadOnDriver();
        SparkStats.Job job = job(Grouping.of("label:language", data, true), HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 4);
        SparkStats.run(spark, job, samples, data, dir.resolve("whole"), SparkStats.TaskObserver.NONE).close();
        Path cut = dir.resolve("cut");
        // a named observer: an anonymous one would hold this test instance, which Spark cannot serialize (the job would fail before any task)
        SparkStats.TaskObserver alwaysFails = new SparkMinerTest.FailsAlways(3, SparkStats.partitionDir(cut, 0).toString());
        assertThrows(SparkException.class, () -> SparkStats.run(spark, job, samples, data, cut, alwaysFails));
        assertFalse(Files.exists(StatsExperiment.statisticsDir(cut)));
        assertFalse(Files.exists(SparkStats.partitionDir(cut, 3)));
        long written;
        try (var s = Files.list(SparkStats.partitionsDir(cut))) {
            written = s.filter(p -> !p.getFileName().toString().startsWith(".")).count();
        }
        assertTrue(written >= 1, "partitions written before the failure");
        // what killed attempts leave: a half-written partition directory, of a partition not yet written and of one written
        Path killed = Files.createDirectories(Partitions.attemptPath(SparkStats.partitionDir(cut, 3), 7001));
        Files.write(killed.resolve("half-written"), new byte[100]);
        Path killedWritten = Files.createDirectories(Partitions.attemptPath(SparkStats.partitionDir(cut, 1), 7002));
        try (SparkStats.Result r = SparkStats.run(spark, job, samples, data, cut, SparkStats.TaskObserver.NONE)) {
            // at least those: a task still running when the job failed may finish writing after the count
            assertTrue(r.partitions().stream().filter(PartialStatistics::reused).count() >= written);
            assertFalse(r.partitions().get(3).reused());
        }
        assertFalse(Files.exists(killed) || Files.exists(killedWritten), "the resumed job removed what killed attempts left");
        try (var s = Files.list(SparkStats.partitionsDir(cut))) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList());
        }
        SparkFixtures.assertSameFiles(StatsExperiment.statisticsDir(dir.resolve("whole")), StatsExperiment.statisticsDir(cut));
        // another job in the same directory is refused, naming the difference
        SparkStats.Job other = job(job.grouping(), HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkStats.run(spark, other, samples, data, cut,
                SparkStats.TaskObserver.NONE));
        assertTrue(e.getMessage().contains("partitions: 4 -> 2"), e.getMessage());
    }

    @Test
    void parquetWithTheSameFieldsGivesTheSameStatistics(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 8);
        Path parquet = dir.resolve("sentences.parquet");
        spark.read().json(file.toString()).coalesce(1).write().parquet(parquet.toString());
        Samples fromJsonl = Samples.read(spark, file, null, null);
        Samples fromParquet = Samples.read(spark, parquet, null, dir);
        Dataset data = fromJsonl.loadOnDriver();
        Dataset parquetData = fromParquet.loadOnDriver();
        assertEquals(data.samples().stream().map(s -> s.id() + s.prompt()).toList(),
                parquetData.samples().stream().map(s -> s.id() + s.prompt()).toList());
        SparkStats.Job job = job(Grouping.of("label:language", data, true), HookPoint.FFN_ACT, EnumSet.of(Statistic.COUNT, Statistic.SUM), 2);
        try (SparkStats.Result a = SparkStats.run(spark, job, fromJsonl, data, dir.resolve("a"), SparkStats.TaskObserver.NONE);
             SparkStats.Result b = SparkStats.run(spark, job, fromParquet, parquetData, dir.resolve("b"), SparkStats.TaskObserver.NONE)) {
            SparkFixtures.assertEqualStatistics(a.statistics(), b.statistics());
        }
    }

    @Test
    void anOlderJavaIsRefusedWithTheReason() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> SparkSupport.checkJdk(Runtime.Version.parse("25.0.2")));
        assertTrue(e.getMessage().contains("25.0.3") && e.getMessage().contains("25.0.2"), e.getMessage());
        SparkSupport.checkJdk(Runtime.Version.parse("25.0.3"));
        SparkSupport.checkJdk(Runtime.Version.parse("26"));
        assertThrows(IllegalStateException.class, () -> SparkSupport.checkJdk(Runtime.Version.parse("23.0.1")));
    }

    @Test
    void badInputIsRefusedBeforeDecoding(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 4);
        Dataset data = Dataset.load(file);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Grouping.of("label:domain", data, true));
        assertTrue(e.getMessage().contains("language"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Samples.read(spark, file, "csv", null));
        assertEquals(List.of("en", "fr").stream().sorted().toList(), Grouping.of("label:language", data, true).values().stream().sorted().toList());
    }
}
