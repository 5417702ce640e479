package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code stats} over Spark: the dataset is cut into contiguous ranges of samples (partition p holds
 * samples [p·n/P, (p+1)·n/P) in dataset order); each task decodes its range on its executor's model
 * with the code of the single-machine command ({@link StatsExperiment#collect}), writes the raw
 * totals atomically to {@code <out>/partitions/part-NNNNN}, and returns them; the driver gathers them
 * with {@code treeAggregate} into a map partition → totals (a retried or speculative attempt yields
 * the same entry again, never a second count), merges them in partition order, and saves the result
 * as {@code stats} does ({@code <out>/statistics}).
 *
 * <p>Token counts are exact integers. Float64 sums differ from one process's running sum only in
 * how additions associate (partition totals are added at the end), so with one partition the files
 * are byte-identical to {@code neuronscope stats}, and with several they agree to rounding. The
 * partitioning is part of the result, not the scheduling: which executor runs what, in what order,
 * and how often, changes nothing.
 *
 * <p>A restarted job (same output directory, dataset, model and parameters) skips the partitions
 * already written and ends byte-identical to an uninterrupted run; {@code <out>/spark-job.json}
 * records what the partitions were computed from, and a run with anything else is refused.
 */
public final class SparkStats {
    private static final Logger LOG = LoggerFactory.getLogger(SparkStats.class);
    /** The manifest of a job's output directory. */
    public static final String MANIFEST = Partitions.MANIFEST;

    private SparkStats() {
    }

    /**
     * What to collect.
     *
     * @param setup      how every executor opens the model
     * @param grouping   how tokens are grouped (fixed on the driver over the whole dataset)
     * @param point      the hook point
     * @param statistics what to collect
     * @param partitions ranges the dataset is cut into (at most one per sample); part of the result's rounding
     */
    public record Job(JobSetup setup, Grouping grouping, HookPoint point, Set<Statistic> statistics, int partitions) implements Serializable {
        public Job {
            if (partitions <= 0) {
                throw new IllegalArgumentException("partitions must be positive, got " + partitions);
            }
            statistics = Set.copyOf(statistics.isEmpty() ? StatsExperiment.Params.DEFAULTS.statistics() : statistics);
        }

        StatsExperiment.Params params() {
            return new StatsExperiment.Params(point, EnumSet.copyOf(statistics), setup.parallel(), setup.parallel());
        }
    }

    /** Called in the tasks, on the executors: a way to watch (or, in tests, to fail) attempts. */
    public interface TaskObserver extends Serializable {
        /** Before a partition is decoded (or its earlier result read). */
        default void started(int partition, int attempt) {
        }

        /** After the partition's result is written, before it is returned. */
        default void finished(int partition, int attempt) {
        }

        TaskObserver NONE = new TaskObserver() {
        };
    }

    /** The merged statistics (owned by the caller) and each partition's provenance, in partition order. */
    public record Result(NeuronStatistics statistics, List<PartialStatistics> partitions) implements AutoCloseable {
        @Override
        public void close() {
            statistics.close();
        }
    }

    public static Path partitionsDir(Path out) {
        return Partitions.dir(out);
    }

    static Path partitionDir(Path out, int p) {
        return Partitions.of(out, p);
    }

    /** Runs the job over {@code samples} (read the dataset on the driver too: {@link Samples#loadOnDriver()}). */
    public static Result run(SparkSession spark, Job job, Samples samples, Path out) {
        return run(spark, job, samples, samples.loadOnDriver(), out, TaskObserver.NONE);
    }

    /**
     * Runs the job; {@code data} is the same dataset read on the driver (validated, fingerprinted and
     * the source of the result's metadata), {@code observer} is called in every task attempt.
     */
    public static Result run(SparkSession spark, Job job, Samples samples, Dataset data, Path out, TaskObserver observer) {
        SparkSupport.checkJdk();
        int n = data.size();
        int parts = Math.min(job.partitions(), n);
        StatsExperiment.Params params = job.params();
        Map<String, String> metadata = StatsExperiment.metadata(data, job.setup().toSetup(), job.grouping().toGrouping(), params);
        Path absOut = out.toAbsolutePath().normalize();
        writeOrCheckManifest(absOut, job, parts, n, metadata);
        Partitions.removeAllAttempts(absOut);

        String outDir = absOut.toString();
        String file = samples.file().toString();
        String baseDir = samples.baseDir().toString();
        Job j = job;
        TreeMap<Integer, PartialStatistics> byPartition = Partitions.run(Partitions.indexed(samples.json().javaRDD()), new Partitions.Ranges(parts, n),
                (p, attempt, attemptId, from, to, rows) -> task(j, p, attempt, attemptId, from, to, rows, file, baseDir, outDir, observer));
        long counted = byPartition.values().stream().mapToLong(PartialStatistics::samples).sum();
        if (counted != n) {
            throw new IllegalStateException("the partitions hold " + counted + " samples, the dataset " + n + " (" + data.path() + ")");
        }
        NeuronStatistics total = null;
        try {
            for (PartialStatistics ps : byPartition.values()) { // in partition order
                if (total == null) {
                    total = ps.toStatistics();
                } else {
                    try (NeuronStatistics s = ps.toStatistics()) {
                        total.merge(s);
                    }
                }
            }
            total.metadata().putAll(metadata);
            NeuronStatistics result = StatsExperiment.result(total, job.grouping().toGrouping(), n);
            try {
                result.save(StatsExperiment.statisticsDir(absOut));
            } catch (IOException e) {
                result.close();
                throw new UncheckedIOException("cannot write " + StatsExperiment.statisticsDir(absOut) + ": " + e.getMessage(), e);
            }
            long reused = byPartition.values().stream().filter(PartialStatistics::reused).count();
            LOG.info("statistics of {} samples in {} partitions ({} read from an earlier run) written to {}", n, parts, reused,
                    StatsExperiment.statisticsDir(absOut));
            return new Result(result, List.copyOf(byPartition.values()));
        } finally {
            if (total != null) {
                total.close();
            }
        }
    }

    /** One task: partition p's samples (index → JSON line), decoded, or read when an earlier attempt or run wrote them. */
    private static PartialStatistics task(Job job, int p, int attempt, long attemptId, long from, long to, List<Tuple2<Long, String>> lines,
                                          String file, String baseDir, String outDir, TaskObserver observer) throws IOException {
        observer.started(p, attempt);
        Path dir = partitionDir(Path.of(outDir), p);
        if (NeuronStatistics.isSavedIn(dir)) {
            try (NeuronStatistics saved = NeuronStatistics.read(dir)) {
                String range = saved.metadata().get("range");
                if (!(from + ".." + to).equals(range)) {
                    throw new IllegalStateException(dir + " holds samples " + range + ", partition " + p + " is " + from + ".." + to);
                }
                observer.finished(p, attempt);
                return new PartialStatistics(p, (int) (to - from), true, saved);
            }
        }
        Dataset data = Samples.slice(file, baseDir, from, to, lines);
        List<Sample> slice = data.samples();
        long t0 = System.nanoTime();
        try (NeuronStatistics s = Workbenches.with(job.setup(),
                wb -> StatsExperiment.collect(wb, data, job.grouping().toGrouping(), job.params(), Progress.Listener.NONE))) {
            s.metadata().put("partition", Integer.toString(p));
            s.metadata().put("range", from + ".." + to);
            s.metadata().put("first_id", slice.getFirst().id());
            s.metadata().put("last_id", slice.getLast().id());
            Partitions.commit(dir, attemptId, s::save);
            LOG.info("partition {} ({} samples) done in {} ms on pid {}", p, slice.size(), (System.nanoTime() - t0) / 1_000_000,
                    ProcessHandle.current().pid());
            observer.finished(p, attempt);
            return new PartialStatistics(p, slice.size(), false, s);
        }
    }

    /** Writes {@code <out>/spark-job.json}, or checks that the one there describes this job. */
    private static void writeOrCheckManifest(Path out, Job job, int parts, int n, Map<String, String> metadata) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put("partitions", Integer.toString(parts));
        m.put("samples", Integer.toString(n));
        m.put("parallel", Integer.toString(job.setup().parallel()));
        m.remove("fingerprint.model_stamp"); // a touched model file with the same bytes is the same model
        Partitions.writeOrCheckManifest(out, m);
    }
}
