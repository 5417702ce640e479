package org.neuronscope.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * What the module's jobs share: samples cut into contiguous ranges (one task each), each partition's
 * result committed atomically under {@code <out>/partitions/part-NNNNN} and gathered with
 * {@code treeAggregate} into a map partition → result (a retried or speculative attempt returns the
 * same entry again, never a second one), the manifest {@code <out>/spark-job.json} that refuses a
 * rerun of another job, and the removal of what killed attempts left behind.
 */
final class Partitions {
    private static final Logger LOG = LoggerFactory.getLogger(Partitions.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The manifest of a job's output directory. */
    static final String MANIFEST = "spark-job.json";
    private static final String ATTEMPT = ".attempt-";

    private Partitions() {
    }

    static Path dir(Path out) {
        return out.resolve("partitions");
    }

    static Path of(Path out, int p) {
        return dir(out).resolve(String.format("part-%05d", p));
    }

    /** What one task does with its partition's rows (index, value), given sorted and checked to be exactly [from, to). */
    interface Task<T, R extends Serializable> extends Serializable {
        R run(int partition, int attempt, long attemptId, long from, long to, List<Tuple2<Long, T>> rows) throws Exception;
    }

    /** Indexes the rows in their order (index → row). */
    static <T> JavaPairRDD<Long, T> indexed(JavaRDD<T> rows) {
        return rows.zipWithIndex().mapToPair(t -> new Tuple2<>(t._2(), t._1()));
    }

    /**
     * Runs {@code task} on each of {@code ranges}' partitions of {@code rows} and returns every
     * partition's result, by partition; refuses a result set that misses a partition.
     */
    static <T, R extends Serializable> TreeMap<Integer, R> run(JavaPairRDD<Long, T> rows, Ranges ranges, Task<T, R> task) {
        Ranges r = ranges;
        JavaRDD<Tuple2<Integer, R>> results = rows.partitionBy(ranges).mapPartitionsWithIndex((Integer p, Iterator<Tuple2<Long, T>> it) -> {
            SparkSupport.checkJdk();
            TaskContext tc = TaskContext.get();
            long from = r.start(p);
            long to = r.start(p + 1);
            List<Tuple2<Long, T>> lines = new ArrayList<>();
            it.forEachRemaining(lines::add);
            lines.sort(Comparator.comparing(Tuple2::_1));
            if (lines.size() != to - from || (!lines.isEmpty() && (lines.getFirst()._1() != from || lines.getLast()._1() != to - 1))) {
                throw new IllegalStateException("partition " + p + " got " + lines.size() + " samples, expected " + from + ".." + (to - 1));
            }
            R out = task.run(p, tc != null ? tc.attemptNumber() : 0, tc != null ? tc.taskAttemptId() : System.nanoTime(), from, to, lines);
            return List.of(new Tuple2<>(p, out)).iterator();
        }, true);
        TreeMap<Integer, R> byPartition = results.treeAggregate(new TreeMap<>(),
                (m, t) -> {
                    m.put(t._1(), t._2());
                    return m;
                },
                (a, b) -> {
                    a.putAll(b);
                    return a;
                }, 2);
        if (!byPartition.keySet().equals(IntStream.range(0, ranges.numPartitions()).boxed().collect(Collectors.toSet()))) {
            throw new IllegalStateException("partitions returned: " + byPartition.keySet() + ", expected 0.." + (ranges.numPartitions() - 1));
        }
        return byPartition;
    }

    /** The name an attempt writes partition {@code target} under before renaming it into place. */
    static Path attemptPath(Path target, long attemptId) {
        return target.resolveSibling("." + target.getFileName() + ATTEMPT + attemptId);
    }

    /** Something that writes a partition's result (a file or a directory) at a path. */
    interface Writer {
        void write(Path to) throws IOException;
    }

    /**
     * Writes under the attempt's own name, then renames into place; an attempt that finds the
     * partition committed by another leaves that one (the same values). After the commit, what
     * other attempts of the partition left (killed ones) is removed.
     */
    static void commit(Path target, long attemptId, Writer writer) throws IOException {
        Path tmp = attemptPath(target, attemptId);
        try {
            writer.write(tmp);
            if (Files.isRegularFile(tmp) && Files.exists(target)) {
                Files.delete(tmp); // a file rename would replace the committed one: leave it in place
            } else {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            deleteRecursively(tmp); // another attempt of the same partition won
        } catch (IOException e) {
            // a concurrent commit's clean-up may remove this attempt's files; the partition is written all the same
            if (!Files.exists(target)) {
                deleteRecursively(tmp);
                throw e;
            }
            deleteRecursively(tmp);
        }
        removeAttempts(target);
    }

    /** Removes the attempt files and directories of {@code target} (all attempts of that partition). */
    static void removeAttempts(Path target) throws IOException {
        String prefix = "." + target.getFileName() + ATTEMPT;
        try (var s = Files.list(target.getParent())) {
            for (Path p : s.filter(x -> x.getFileName().toString().startsWith(prefix)).toList()) {
                deleteRecursively(p);
            }
        }
    }

    /**
     * Removes every attempt left under {@code <out>/partitions} (at job start, when no attempt of
     * this output directory runs: they are what killed attempts left); returns how many.
     */
    static int removeAllAttempts(Path out) {
        Path d = dir(out);
        if (!Files.isDirectory(d)) {
            return 0;
        }
        try (var s = Files.list(d)) {
            List<Path> left = s.filter(x -> x.getFileName().toString().startsWith(".part-") && x.getFileName().toString().contains(ATTEMPT)).toList();
            for (Path p : left) {
                deleteRecursively(p);
            }
            if (!left.isEmpty()) {
                LOG.info("removed {} attempt(s) that killed tasks left in {}", left.size(), d);
            }
            return left.size();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean " + d + ": " + e.getMessage(), e);
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (NoSuchFileException e) {
            // removed meanwhile by another attempt's clean-up
        }
    }

    /** A partition file: {@code format} (UTF), partition, first and end sample (int, long, long), then the payload. */
    static byte[] frame(String format, int p, long from, long to, byte[] payload) {
        var bytes = new java.io.ByteArrayOutputStream(payload.length + 64);
        try (var out = new java.io.DataOutputStream(bytes)) {
            out.writeUTF(format);
            out.writeInt(p);
            out.writeLong(from);
            out.writeLong(to);
            out.write(payload);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    /** The payload of a partition file written by {@link #frame}, checked to be {@code format}'s of partition p, samples [from, to). */
    static byte[] unframe(Path file, String format, int p, long from, long to) throws IOException {
        byte[] all = Files.readAllBytes(file);
        var in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(all));
        String f;
        int q;
        long a;
        long b;
        try {
            f = in.readUTF();
            q = in.readInt();
            a = in.readLong();
            b = in.readLong();
        } catch (IOException e) {
            throw new IOException(file + " is not a partition file (" + e + ")", e);
        }
        if (!f.equals(format) || q != p || a != from || b != to) {
            throw new IllegalStateException(file + " holds " + f + " partition " + q + " of samples " + a + ".." + b + ", expected " + format
                    + " partition " + p + " of " + from + ".." + to);
        }
        return java.util.Arrays.copyOfRange(all, all.length - in.available(), all.length);
    }

    /** Writes {@code <out>/spark-job.json} from {@code m}, or checks that the one there holds the same; creates {@code partitions/}. */
    static void writeOrCheckManifest(Path out, Map<String, String> m) {
        Path file = out.resolve(MANIFEST);
        try {
            Files.createDirectories(dir(out));
            if (Files.isRegularFile(file)) {
                @SuppressWarnings("unchecked")
                Map<String, String> had = JSON.readValue(file.toFile(), LinkedHashMap.class);
                if (!had.equals(m)) {
                    List<String> diff = new ArrayList<>();
                    for (String k : new java.util.LinkedHashSet<>(List.copyOf(m.keySet()))) {
                        if (!Objects.equals(had.get(k), m.get(k))) {
                            diff.add(k + ": " + had.get(k) + " -> " + m.get(k));
                        }
                    }
                    had.keySet().stream().filter(k -> !m.containsKey(k)).forEach(k -> diff.add(k + ": " + had.get(k) + " -> (none)"));
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

    /** Sample index → partition: P contiguous ranges of (nearly) equal size, in dataset order, optionally cut only at multiples of a unit. */
    static final class Ranges extends Partitioner {
        private final int parts;
        private final long n;
        private final int unit;

        Ranges(int parts, long n) {
            this(parts, n, 1);
        }

        /** Boundaries at multiples of {@code unit} (the samples a task decodes together), the last range ending at n. */
        Ranges(int parts, long n, int unit) {
            if (unit <= 0 || parts <= 0 || parts > Math.max(1, (n + unit - 1) / unit)) {
                throw new IllegalArgumentException(parts + " partitions of " + n + " samples in units of " + unit);
            }
            this.parts = parts;
            this.n = n;
            this.unit = unit;
        }

        long start(int p) {
            long units = (n + unit - 1) / unit;
            return Math.min(n, p * units / parts * unit);
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
            return o instanceof Ranges r && r.parts == parts && r.n == n && r.unit == unit;
        }

        @Override
        public int hashCode() {
            return (Long.hashCode(n) * 31 + parts) * 31 + unit;
        }
    }
}
