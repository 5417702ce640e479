package org.neuronscope.spark;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.methods.Miner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * MINER's stages 1–3 over Spark ({@code select --method miner}'s collection): the datasets, one after
 * another in the order given, are cut into contiguous ranges of samples; each task runs the
 * single-machine collection ({@link MinerExperiment#collect}) on its range, each dataset's part of it
 * under the dataset's name, writes the aggregate's exact binary form atomically to
 * {@code <out>/partitions/part-NNNNN}, and returns it; the driver merges the partitions' aggregates
 * in partition order ({@link Miner.Aggregator#merge}). Sample counts and occurrences are exact, the
 * per-sample score sums differ from one process's running sum only in how the additions associate
 * (with one partition, not at all). Stage 4 ({@link Miner#select}) runs on the driver. A restarted
 * job skips the partitions written and ends identical to an uninterrupted one.
 */
public final class SparkMiner {
    private static final Logger LOG = LoggerFactory.getLogger(SparkMiner.class);
    static final String FORMAT = "neuronscope-miner-partition/1";

    private SparkMiner() {
    }

    /**
     * What to collect.
     *
     * @param setup      how every executor opens the model
     * @param modalities the modalities (as {@code select --modalities})
     * @param attention  collect attn_k/attn_q (what weights on them need)
     * @param protocol   whose attention: the specification's causal probabilities, or the reference code's
     *                   unmasked scores softmaxed again (each sample decoded beside itself: 2 sequences)
     * @param partitions ranges the datasets are cut into (at most one per sample)
     */
    public record Job(JobSetup setup, List<String> modalities, boolean attention, Miner.Attention protocol, int partitions)
            implements Serializable {
        public Job {
            if (partitions <= 0) {
                throw new IllegalArgumentException("partitions must be positive, got " + partitions);
            }
            if (protocol == null) {
                throw new IllegalArgumentException("protocol must not be null");
            }
            if (attention && protocol == Miner.Attention.REFERENCE && setup.parallel() < 2) {
                throw new IllegalArgumentException("the reference attention decodes each sample beside itself: the setup needs 2 sequences "
                        + "(parallel 2), it has " + setup.parallel());
            }
            modalities = List.copyOf(modalities);
        }

        /** With the specification's attention. */
        public Job(JobSetup setup, List<String> modalities, boolean attention, int partitions) {
            this(setup, modalities, attention, Miner.Attention.SPECIFICATION, partitions);
        }
    }

    /** The merged stage-3 aggregate and each partition's provenance, in partition order. */
    public record Result(Miner.Aggregator aggregate, List<PartialResult> partitions) {
    }

    /**
     * Runs the job; {@code data} are the datasets of {@code samples} read on the driver (validated,
     * fingerprinted, and where their names come from: names must differ, as MINER averages per dataset).
     */
    public static Result run(SparkSession spark, Job job, List<Samples> samples, List<Dataset> data, Path out, SparkStats.TaskObserver observer) {
        SparkSupport.checkJdk();
        if (samples.isEmpty() || samples.size() != data.size()) {
            throw new IllegalArgumentException("one dataset read on the driver per Samples, got " + data.size() + " for " + samples.size());
        }
        List<String> names = data.stream().map(Dataset::name).toList();
        if (new HashSet<>(names).size() != names.size()) {
            throw new IllegalArgumentException("two datasets have the same name " + names + "; MINER averages per dataset, so names must differ");
        }
        long[] offsets = new long[data.size() + 1];
        for (int i = 0; i < data.size(); i++) {
            if (data.get(i).isEmpty()) {
                throw new IllegalArgumentException(data.get(i).name() + " has no samples");
            }
            offsets[i + 1] = offsets[i] + data.get(i).size();
        }
        long n = offsets[data.size()];
        int parts = (int) Math.min(job.partitions(), n);
        Map<String, String> m = new LinkedHashMap<>();
        m.put("job", "miner");
        m.putAll(MinerExperiment.fingerprint(data, job.setup().toSetup(), job.modalities(), job.attention(), job.protocol()));
        m.put("partitions", Integer.toString(parts));
        m.put("samples", Long.toString(n));
        Path absOut = out.toAbsolutePath().normalize();
        Partitions.writeOrCheckManifest(absOut, m);
        Partitions.removeAllAttempts(absOut);

        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<JavaRDD<Tuple2<Integer, String>>> rdds = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            int d = i;
            rdds.add(samples.get(i).json().javaRDD().map(line -> new Tuple2<>(d, line)));
        }
        JavaRDD<Tuple2<Integer, String>> all = rdds.size() == 1 ? rdds.getFirst() : sc.union(rdds.toArray(JavaRDD[]::new));
        List<String> files = samples.stream().map(s -> s.file().toString()).toList();
        List<String> bases = samples.stream().map(s -> s.baseDir().toString()).toList();
        String outDir = absOut.toString();
        Job j = job;
        TreeMap<Integer, PartialResult> byPartition = Partitions.run(Partitions.indexed(all), new Partitions.Ranges(parts, n),
                (p, attempt, attemptId, from, to, rows) -> task(j, p, attempt, attemptId, from, to, rows, names, offsets, files, bases, outDir,
                        observer));
        long counted = byPartition.values().stream().mapToLong(PartialResult::samples).sum();
        if (counted != n) {
            throw new IllegalStateException("the partitions hold " + counted + " samples, the datasets " + n);
        }
        Miner.Aggregator total = null;
        try {
            for (PartialResult r : byPartition.values()) { // in partition order
                Miner.Aggregator a = Miner.Aggregator.fromBytes(r.bytes());
                if (total == null) {
                    total = new Miner.Aggregator(a.layers(), a.neurons(), a.modalities(), a.metrics());
                }
                total.merge(a);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("a partition's MINER aggregate: " + e.getMessage(), e);
        }
        LOG.info("MINER stages 1-3 over {} samples of {} in {} partitions ({} read from an earlier run)", n, names, parts,
                byPartition.values().stream().filter(PartialResult::reused).count());
        return new Result(total, List.copyOf(byPartition.values()));
    }

    private static PartialResult task(Job job, int p, int attempt, long attemptId, long from, long to, List<Tuple2<Long, Tuple2<Integer, String>>> rows,
                                      List<String> names, long[] offsets, List<String> files, List<String> bases, String outDir,
                                      SparkStats.TaskObserver observer) throws IOException {
        observer.started(p, attempt);
        Path file = Partitions.of(Path.of(outDir), p);
        if (Files.isRegularFile(file)) {
            byte[] payload = Partitions.unframe(file, FORMAT, p, from, to);
            observer.finished(p, attempt);
            return PartialResult.of(p, (int) (to - from), true, payload);
        }
        // the range's samples, dataset by dataset (contiguous: the datasets follow each other), each under its own name
        List<Dataset> slices = new ArrayList<>();
        int i = 0;
        while (i < rows.size()) {
            int d = rows.get(i)._2()._1();
            List<Tuple2<Long, String>> part = new ArrayList<>();
            for (; i < rows.size() && rows.get(i)._2()._1() == d; i++) {
                part.add(new Tuple2<>(rows.get(i)._1() - offsets[d], rows.get(i)._2()._2()));
            }
            Dataset slice = Samples.slice(files.get(d), bases.get(d), part.getFirst()._1(), part.getLast()._1() + 1, part);
            slices.add(Dataset.of(names.get(d), slice.samples()));
        }
        long t0 = System.nanoTime();
        Miner.Aggregator agg = Workbenches.with(job.setup(),
                wb -> MinerExperiment.collect(wb, slices, job.modalities(), job.attention(), job.protocol(), Progress.Listener.NONE));
        byte[] payload = agg.toBytes();
        byte[] framed = Partitions.frame(FORMAT, p, from, to, payload);
        Partitions.commit(file, attemptId, tmp -> Files.write(tmp, framed));
        LOG.info("MINER partition {} ({} samples) done in {} ms on pid {}", p, to - from, (System.nanoTime() - t0) / 1_000_000,
                ProcessHandle.current().pid());
        observer.finished(p, attempt);
        return PartialResult.of(p, (int) (to - from), false, payload);
    }
}
