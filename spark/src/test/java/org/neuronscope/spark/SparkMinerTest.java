package org.neuronscope.spark;

import org.apache.spark.SparkException;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MINER's stages 1–3 over Spark against the single-machine collection ({@code select --method miner}'s
 * code, one JVM, one running sum per dataset) on {@code local[2,2]}: the aggregate (sample counts,
 * occurrences, score sums) and the stage-4 selection.
 */
class SparkMinerTest {
    static SparkSession spark;
    static final List<String> MODALITIES = List.of("text", "special");

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2,2]").appName("neuronscope-miner-test").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** The fixture's model with its own chat template (special tokens around the text). */
    static JobSetup setup() {
        return SparkFixtures.setup().withChatTemplate(null);
    }

    static Miner.Aggregator single(JobSetup setup, List<Path> files, boolean attention) {
        List<Dataset> data = files.stream().map(Dataset::load).toList();
        try (Workbench wb = Workbench.open(setup.toSetup())) {
            return MinerExperiment.collect(wb, data, MODALITIES, attention, Progress.Listener.NONE);
        }
    }

    static SparkMiner.Result onSpark(SparkMiner.Job job, List<Path> files, Path out, SparkStats.TaskObserver observer) {
        List<Samples> samples = files.stream().map(f -> Samples.read(spark, f, null, null)).toList();
        return SparkMiner.run(spark, job, samples, samples.stream().map(Samples::loadOnDriver).toList(), out, observer);
    }

    static void assertSameSelection(Miner.Aggregator a, Miner.Aggregator b, Miner.Params p) {
        NeuronSet x = Miner.select(a, HookPoint.FFN_ACT, p);
        NeuronSet y = Miner.select(b, HookPoint.FFN_ACT, p);
        assertTrue(x.size() > 0);
        assertEquals(x.groupNames(), y.groupNames());
        for (String g : x.groupNames()) {
            assertEquals(x.describe(g), y.describe(g), p.strategy() + " " + g);
        }
    }

    @Test
    void theReferenceAttentionOnOnePartitionIsTheSingleMachineAggregateBitForBit(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 6);
        JobSetup setup = setup().withParallel(2); // each sample decoded beside itself
        SparkMiner.Job job = new SparkMiner.Job(setup, MODALITIES, true, Miner.Attention.REFERENCE, 1);
        Miner.Aggregator single;
        Miner.Aggregator specification;
        try (Workbench wb = Workbench.open(setup.toSetup())) {
            single = MinerExperiment.collect(wb, List.of(Dataset.load(file)), MODALITIES, true, Miner.Attention.REFERENCE, Progress.Listener.NONE);
            specification = MinerExperiment.collect(wb, List.of(Dataset.load(file)), MODALITIES, true, Progress.Listener.NONE);
        }
        SparkMiner.Result r = onSpark(job, List.of(file), dir.resolve("spark"), SparkStats.TaskObserver.NONE);
        assertArrayEquals(single.toBytes(), r.aggregate().toBytes(), "the reference attention's aggregate over Spark");
        assertFalse(java.util.Arrays.equals(specification.toBytes(), single.toBytes()), "the protocols must give different attention metrics");
        // a job directory of one protocol is not resumed by the other
        SparkMiner.Job other = new SparkMiner.Job(setup, MODALITIES, true, Miner.Attention.SPECIFICATION, 1);
        assertThrows(RuntimeException.class, () -> onSpark(other, List.of(file), dir.resolve("spark"), SparkStats.TaskObserver.NONE));
        // too small a setup is refused before any work
        assertThrows(IllegalArgumentException.class, () -> new SparkMiner.Job(setup(), MODALITIES, true, Miner.Attention.REFERENCE, 2));
    }

    @Test
    void onePartitionIsTheSingleMachineAggregateBitForBit(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 6);
        SparkMiner.Job job = new SparkMiner.Job(setup(), MODALITIES, true, 1);
        Miner.Aggregator single = single(job.setup(), List.of(file), true);
        SparkMiner.Result r = onSpark(job, List.of(file), dir.resolve("spark"), SparkStats.TaskObserver.NONE);
        assertTrue(single.occurs("special") && single.hasMetric(Miner.Metric.ATTN_K), "special tokens and attention collected");
        assertArrayEquals(single.toBytes(), r.aggregate().toBytes());
        assertSameSelection(single, r.aggregate(), Miner.Params.DEFAULTS);
    }

    @Test
    void twoDatasetsInThreePartitionsWithRetriesGiveTheSingleMachineAggregateAndSelection(@TempDir Path dir) throws Exception {
        // partitions cut through dataset a and span the boundary between a and b
        List<Path> files = List.of(SparkFixtures.dataset(dir, 7, "a"), SparkFixtures.dataset(dir, 5, "b"));
        SparkMiner.Job job = new SparkMiner.Job(setup(), MODALITIES, false, 3);
        Miner.Aggregator single = single(job.setup(), files, false);
        SparkMiner.Result clean = onSpark(job, files, dir.resolve("clean"), SparkStats.TaskObserver.NONE);
        SparkMiner.Result retried = onSpark(job, files, dir.resolve("retried"), new SparkStatsTest.FailFirstAttempts());
        Miner.Aggregator m = clean.aggregate();
        assertEquals(List.of("a", "b"), m.datasets());
        assertEquals(7, m.samples("a"));
        assertEquals(5, m.samples("b"));
        double worst = 0;
        for (String mod : MODALITIES) {
            assertEquals(single.datasetsWith(mod), m.datasetsWith(mod), mod);
            for (Miner.Metric metric : List.of(Miner.Metric.PROB, Miner.Metric.MEAN, Miner.Metric.MAX)) {
                double[] a = single.score(metric, mod);
                double[] b = m.score(metric, mod);
                for (int i = 0; i < a.length; i++) {
                    double rel = Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Double.MIN_NORMAL);
                    worst = Math.max(worst, a[i] == b[i] ? 0 : rel);
                    assertTrue(a[i] == b[i] || rel <= 1e-12, metric + " " + mod + " " + i + ": " + a[i] + " vs " + b[i]);
                }
            }
        }
        System.err.println("MINER, 3 partitions vs one process: largest relative difference of the scores " + worst);
        for (Miner.Strategy s : Miner.Strategy.values()) {
            assertSameSelection(single, m, new Miner.Params(Miner.Weights.MEAN_MAX, 0.05, s, 3));
        }
        assertTrue(retried.partitions().get(1).reused(), "the retry of partition 1 reads what its failed attempt wrote");
        assertArrayEquals(clean.aggregate().toBytes(), retried.aggregate().toBytes(), "retries change nothing");
    }

    /**
     * Fails a partition on every attempt, once another partition's file is written (so that a rerun
     * has something to skip). A named class: an anonymous one would hold the test instance, which
     * Spark cannot serialize.
     */
    record FailsAlways(int partition, String waitFor) implements SparkStats.TaskObserver {
        @Override
        public void started(int p, int attempt) {
            if (p != partition) {
                return;
            }
            try {
                for (int i = 0; i < 600 && !Files.exists(Path.of(waitFor)); i++) {
                    Thread.sleep(50);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("planted failure of partition " + partition + ", every attempt");
        }
    }

    @Test
    void anInterruptedJobResumesToTheUninterruptedResultAndLeavesNoAttempts(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 8);
        SparkMiner.Job job = new SparkMiner.Job(setup(), MODALITIES, false, 4);
        byte[] whole = onSpark(job, List.of(file), dir.resolve("whole"), SparkStats.TaskObserver.NONE).aggregate().toBytes();
        Path cut = dir.resolve("cut");
        SparkStats.TaskObserver alwaysFails = new FailsAlways(2, Partitions.of(cut, 0).toString());
        assertThrows(SparkException.class, () -> onSpark(job, List.of(file), cut, alwaysFails));
        assertFalse(Files.exists(Partitions.of(cut, 2)));
        // what a killed attempt leaves: removed when the job starts again
        Path stale = Partitions.attemptPath(Partitions.of(cut, 2), 12345);
        Files.write(stale, new byte[] {1, 2, 3});
        SparkMiner.Result r = onSpark(job, List.of(file), cut, SparkStats.TaskObserver.NONE);
        assertFalse(r.partitions().get(2).reused());
        assertTrue(r.partitions().stream().filter(PartialResult::reused).count() >= 1, "finished partitions are read back");
        assertArrayEquals(whole, r.aggregate().toBytes());
        assertFalse(Files.exists(stale));
        try (var s = Files.list(Partitions.dir(cut))) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(), "attempts left");
        }
        SparkMiner.Job other = new SparkMiner.Job(setup(), List.of("text"), false, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> onSpark(other, List.of(file), cut, SparkStats.TaskObserver.NONE));
        assertTrue(e.getMessage().contains("fingerprint.params"), e.getMessage());
    }
}
