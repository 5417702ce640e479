package org.neuronscope.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
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
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Iterator;
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
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The manifest of a job's output directory. */
    public static final String MANIFEST = "spark-job.json";

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
        return out.resolve("partitions");
    }

    static Path partitionDir(Path out, int p) {
        return partitionsDir(out).resolve(String.format("part-%05d", p));
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

        String outDir = absOut.toString();
        String file = samples.file().toString();
        String baseDir = samples.baseDir().toString();
        Job j = job;
        JavaPairRDD<Long, String> indexed = samples.json().javaRDD().zipWithIndex().mapToPair(t -> new Tuple2<>(t._2(), t._1()));
        JavaRDD<PartialStatistics> partials = indexed.partitionBy(new Ranges(parts, n))
                .mapPartitionsWithIndex((p, it) -> List.of(task(j, p, parts, n, it, file, baseDir, outDir, observer)).iterator(), true);
        TreeMap<Integer, PartialStatistics> byPartition = partials.treeAggregate(new TreeMap<>(),
                (m, ps) -> {
                    m.put(ps.partition(), ps);
                    return m;
                },
                (a, b) -> {
                    a.putAll(b);
                    return a;
                }, 2);
        if (!byPartition.keySet().equals(java.util.stream.IntStream.range(0, parts).boxed().collect(java.util.stream.Collectors.toSet()))) {
            throw new IllegalStateException("partitions returned: " + byPartition.keySet() + ", expected 0.." + (parts - 1));
        }
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
    private static PartialStatistics task(Job job, int p, int parts, int n, Iterator<Tuple2<Long, String>> rows, String file, String baseDir,
                                          String outDir, TaskObserver observer) throws IOException {
        SparkSupport.checkJdk();
        TaskContext tc = TaskContext.get();
        int attempt = tc != null ? tc.attemptNumber() : 0;
        observer.started(p, attempt);
        Ranges ranges = new Ranges(parts, n);
        long from = ranges.start(p);
        long to = ranges.start(p + 1);
        Path out = Path.of(outDir);
        Path dir = partitionDir(out, p);
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
        List<Tuple2<Long, String>> lines = new ArrayList<>();
        rows.forEachRemaining(lines::add);
        lines.sort(Comparator.comparing(Tuple2::_1));
        if (lines.size() != to - from || (!lines.isEmpty() && (lines.getFirst()._1() != from || lines.getLast()._1() != to - 1))) {
            throw new IllegalStateException("partition " + p + " got " + lines.size() + " samples, expected " + from + ".." + (to - 1));
        }
        Path f = Path.of(file);
        Path base = Path.of(baseDir);
        List<Sample> slice = new ArrayList<>(lines.size());
        for (Tuple2<Long, String> t : lines) {
            slice.add(Dataset.parseLine(f, base, (int) (t._1() + 1), t._2()));
        }
        Dataset data = Dataset.of(f.getFileName() + "[" + from + ".." + to + ")", slice);
        long t0 = System.nanoTime();
        try (NeuronStatistics s = Workbenches.with(job.setup(),
                wb -> StatsExperiment.collect(wb, data, job.grouping().toGrouping(), job.params(), Progress.Listener.NONE))) {
            s.metadata().put("partition", Integer.toString(p));
            s.metadata().put("range", from + ".." + to);
            s.metadata().put("first_id", slice.getFirst().id());
            s.metadata().put("last_id", slice.getLast().id());
            writeAtomically(s, dir, tc != null ? tc.taskAttemptId() : System.nanoTime());
            LOG.info("partition {} ({} samples) done in {} ms on pid {}", p, slice.size(), (System.nanoTime() - t0) / 1_000_000,
                    ProcessHandle.current().pid());
            observer.finished(p, attempt);
            return new PartialStatistics(p, slice.size(), false, s);
        }
    }

    /** Saves under a name of this attempt, then renames into place; an attempt that finds the partition written leaves that one. */
    private static void writeAtomically(NeuronStatistics s, Path dir, long attemptId) throws IOException {
        Path tmp = dir.resolveSibling("." + dir.getFileName() + ".attempt-" + attemptId);
        s.save(tmp);
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            deleteRecursively(tmp); // another attempt of the same partition won: the same values
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    /** Writes {@code <out>/spark-job.json}, or checks that the one there describes this job. */
    private static void writeOrCheckManifest(Path out, Job job, int parts, int n, Map<String, String> metadata) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put("partitions", Integer.toString(parts));
        m.put("samples", Integer.toString(n));
        m.put("parallel", Integer.toString(job.setup().parallel()));
        m.remove("fingerprint.model_stamp"); // a touched model file with the same bytes is the same model
        Path file = out.resolve(MANIFEST);
        try {
            Files.createDirectories(partitionsDir(out));
            if (Files.isRegularFile(file)) {
                @SuppressWarnings("unchecked")
                Map<String, String> had = JSON.readValue(file.toFile(), LinkedHashMap.class);
                if (!had.equals(m)) {
                    List<String> diff = m.keySet().stream().filter(k -> !java.util.Objects.equals(had.get(k), m.get(k)))
                            .map(k -> k + ": " + had.get(k) + " -> " + m.get(k)).toList();
                    throw new IllegalArgumentException(out + " holds partitions of another job (" + String.join("; ", diff)
                            + "); remove it or use another output directory");
                }
                return;
            }
            ObjectNode node = JSON.createObjectNode();
            m.forEach(node::put);
            Path tmp = out.resolve(MANIFEST + ".tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), node);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Sample index → partition: P contiguous ranges of (nearly) equal size, in dataset order. */
    static final class Ranges extends Partitioner {
        private final int parts;
        private final long n;

        Ranges(int parts, long n) {
            this.parts = parts;
            this.n = n;
        }

        long start(int p) {
            return p * n / parts;
        }

        @Override
        public int numPartitions() {
            return parts;
        }

        @Override
        public int getPartition(Object key) {
            long i = (Long) key;
            int p = (int) (i * parts / n);
            while (p + 1 < parts && start(p + 1) <= i) {
                p++;
            }
            while (p > 0 && start(p) > i) {
                p--;
            }
            return p;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Ranges r && r.parts == parts && r.n == n;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(n) * 31 + parts;
        }
    }
}
