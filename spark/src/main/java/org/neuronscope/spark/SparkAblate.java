package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Metrics;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.AblationExperiment.Answer;
import org.neuronscope.experiments.AblationExperiment.Condition;
import org.neuronscope.experiments.AblationExperiment.Outcome;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * {@code ablate}'s per-sample metrics over Spark: the dataset is cut into contiguous ranges of
 * samples (at multiples of the samples decoded together, so that every sample is decoded with the
 * neighbours it has in one process); each task runs the single-machine measurement
 * ({@link AblationExperiment#measure}: the baseline and every condition) on its range and commits its
 * samples' outcomes atomically to {@code <out>/partitions/part-NNNNN}; the driver feeds them, in
 * partition order and so in dataset order, to the single-machine {@link AblationExperiment.Tally}:
 * the same sums in the same order, so the table equals {@code ablate}'s on one machine exactly, for
 * any partitioning. The conditions' sets travel as files ({@code <out>/conditions/}).
 */
public final class SparkAblate {
    private static final Logger LOG = LoggerFactory.getLogger(SparkAblate.class);
    static final String FORMAT = "neuronscope-ablate-partition/1";

    private SparkAblate() {
    }

    /**
     * What to measure.
     *
     * @param setup      how every executor opens the model; its {@code parallel} is the samples decoded together
     * @param groupBy    {@code media} or {@code label:<name>}, as {@code ablate --group-by}
     * @param maxTokens  greedy answer length for samples with references (0: none)
     * @param partitions ranges the dataset is cut into
     */
    public record Job(JobSetup setup, String groupBy, int maxTokens, int partitions) implements Serializable {
        public Job {
            if (partitions <= 0 || maxTokens < 0) {
                throw new IllegalArgumentException("partitions must be positive and max tokens >= 0, got " + partitions + ", " + maxTokens);
            }
            if (!groupBy.equals("media") && !groupBy.startsWith("label:")) {
                throw new IllegalArgumentException("--group-by must be 'media' or 'label:<name>', got " + groupBy);
            }
        }

        Function<Sample, String> groupOf() {
            if (groupBy.equals("media")) {
                return AblationExperiment.BY_MEDIA;
            }
            String label = groupBy.substring("label:".length());
            return s -> s.label(label);
        }
    }

    /** A condition as it travels to the executors: its set is read from {@code conditions/condition-i.json}. */
    record Spec(String name, List<String> groups, Intervention intervention) implements Serializable {
    }

    /** The table ({@code ablate}'s) and each partition's provenance, in partition order. */
    public record Result(MetricTable table, List<PartialResult> partitions) {
    }

    static Path conditionFile(Path out, int i) {
        return out.resolve("conditions").resolve("condition-" + i + ".json");
    }

    /** Runs the job; {@code data} is the dataset of {@code samples} read on the driver. */
    public static Result run(SparkSession spark, Job job, List<Condition> conditions, Samples samples, Dataset data, Path out,
                             SparkStats.TaskObserver observer) {
        SparkSupport.checkJdk();
        if (data.isEmpty()) {
            throw new IllegalArgumentException(data.name() + " has no samples");
        }
        if (job.groupBy().startsWith("label:")) {
            data.requireLabelValues(job.groupBy().substring("label:".length())); // as ablate checks it, before any decode
        }
        int unit = job.setup().parallel();
        int n = data.size();
        int parts = (int) Math.min(job.partitions(), (n + unit - 1) / unit);
        Path absOut = out.toAbsolutePath().normalize();
        List<Spec> specs = new ArrayList<>();
        Map<String, String> m = new LinkedHashMap<>();
        m.put("job", "ablate");
        m.putAll(MinerExperiment.fingerprint(List.of(data), job.setup().toSetup(), List.of(), false));
        m.remove("fingerprint.params");
        m.put("group_by", job.groupBy());
        m.put("max_tokens", Integer.toString(job.maxTokens()));
        m.put("parallel", Integer.toString(unit));
        m.put("partitions", Integer.toString(parts));
        m.put("samples", Integer.toString(n));
        List<Path> written = new ArrayList<>();
        try {
            Files.createDirectories(absOut.resolve("conditions"));
            for (int i = 0; i < conditions.size(); i++) {
                Condition c = conditions.get(i);
                if (c.set() == null) {
                    throw new IllegalArgumentException("condition '" + c.name() + "' has no neuron set (the baseline is always measured)");
                }
                Path f = conditionFile(absOut, i);
                Path tmp = f.resolveSibling(f.getFileName() + ".new");
                c.set().save(tmp);
                written.add(tmp);
                byte[] bytes = Files.readAllBytes(tmp);
                m.put("condition." + i, c.name() + " " + c.groups() + " " + c.intervention() + " set sha256 " + HexFormat.of().formatHex(
                        java.security.MessageDigest.getInstance("SHA-256").digest(bytes)));
                specs.add(new Spec(c.name(), List.copyOf(c.groups()), c.intervention()));
            }
            Partitions.writeOrCheckManifest(absOut, m); // another job's conditions are refused before their files are replaced
            for (int i = 0; i < written.size(); i++) {
                Files.move(written.get(i), conditionFile(absOut, i), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("cannot write the conditions under " + absOut + ": " + e.getMessage(), e);
        } finally {
            for (Path t : written) {
                try {
                    Files.deleteIfExists(t);
                } catch (IOException ignored) {
                    // a left-over .new file is harmless: the next run replaces it
                }
            }
        }
        Partitions.removeAllAttempts(absOut);

        String file = samples.file().toString();
        String baseDir = samples.baseDir().toString();
        String outDir = absOut.toString();
        Job j = job;
        TreeMap<Integer, PartialResult> byPartition = Partitions.run(Partitions.indexed(samples.json().javaRDD()), new Partitions.Ranges(parts, n, unit),
                (p, attempt, attemptId, from, to, rows) -> task(j, specs, p, attempt, attemptId, from, to, rows, file, baseDir, outDir, observer));
        AblationExperiment.Tally tally = new AblationExperiment.Tally(conditions);
        long counted = 0;
        for (PartialResult r : byPartition.values()) { // in partition order: the samples in dataset order
            List<Outcome[]> rows = decode(r.bytes(), conditions.size() + 1);
            rows.forEach(tally::add);
            counted += rows.size();
        }
        if (counted != n) {
            throw new IllegalStateException("the partitions hold " + counted + " samples, the dataset " + n + " (" + data.path() + ")");
        }
        LOG.info("ablation of {} samples under {} conditions in {} partitions ({} read from an earlier run)", n, conditions.size() + 1, parts,
                byPartition.values().stream().filter(PartialResult::reused).count());
        return new Result(tally.table(), List.copyOf(byPartition.values()));
    }

    private static PartialResult task(Job job, List<Spec> specs, int p, int attempt, long attemptId, long from, long to,
                                      List<Tuple2<Long, String>> rows, String file, String baseDir, String outDir,
                                      SparkStats.TaskObserver observer) throws IOException {
        observer.started(p, attempt);
        Path out = Path.of(outDir);
        Path target = Partitions.of(out, p);
        if (Files.isRegularFile(target)) {
            byte[] payload = Partitions.unframe(target, FORMAT, p, from, to);
            observer.finished(p, attempt);
            return PartialResult.of(p, (int) (to - from), true, payload);
        }
        List<Condition> conditions = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            Spec s = specs.get(i);
            NeuronSet set = NeuronSet.load(conditionFile(out, i));
            conditions.add(new Condition(s.name(), set, s.groups(), s.intervention()));
        }
        Dataset data = Samples.slice(file, baseDir, from, to, rows);
        long t0 = System.nanoTime();
        List<Outcome[]> outcomes = new ArrayList<>();
        Workbenches.with(job.setup(), wb -> {
            AblationExperiment.measure(wb, data, conditions, job.groupOf(), job.maxTokens(), job.setup().parallel(), Progress.Listener.NONE,
                    outcomes::add);
            return null;
        });
        byte[] payload = encode(outcomes);
        byte[] framed = Partitions.frame(FORMAT, p, from, to, payload);
        Partitions.commit(target, attemptId, tmp -> Files.write(tmp, framed));
        LOG.info("ablation partition {} ({} samples) done in {} ms on pid {}", p, to - from, (System.nanoTime() - t0) / 1_000_000,
                ProcessHandle.current().pid());
        observer.finished(p, attempt);
        return PartialResult.of(p, (int) (to - from), false, payload);
    }

    /** The outcomes' exact binary form (doubles as IEEE bits). */
    static byte[] encode(List<Outcome[]> rows) {
        var bytes = new ByteArrayOutputStream();
        try (var out = new DataOutputStream(bytes)) {
            out.writeInt(rows.size());
            for (Outcome[] row : rows) {
                out.writeInt(row.length);
                for (Outcome o : row) {
                    out.writeUTF(o.group());
                    out.writeLong(Double.doubleToRawLongBits(o.logitChange()));
                    out.writeBoolean(o.top1());
                    Answer a = o.answer();
                    out.writeBoolean(a != null);
                    if (a != null) {
                        out.writeBoolean(a.multipleChoice());
                        doubles(out, a.logProbs());
                        out.writeBoolean(a.choiceLlCorrect());
                        out.writeBoolean(a.generated());
                        out.writeBoolean(a.correct());
                        out.writeBoolean(a.substring());
                        out.writeLong(Double.doubleToRawLongBits(a.anls()));
                        out.writeLong(Double.doubleToRawLongBits(a.rougeL()));
                        out.writeLong(a.wordErrors().edits());
                        out.writeLong(a.wordErrors().referenceWords());
                    }
                    out.writeBoolean(o.text() != null);
                    if (o.text() != null) {
                        doubles(out, o.text());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    private static void doubles(DataOutputStream out, double[] v) throws IOException {
        out.writeInt(v.length);
        for (double d : v) {
            out.writeLong(Double.doubleToRawLongBits(d));
        }
    }

    private static double[] doubles(DataInputStream in) throws IOException {
        double[] v = new double[in.readInt()];
        for (int i = 0; i < v.length; i++) {
            v[i] = Double.longBitsToDouble(in.readLong());
        }
        return v;
    }

    static List<Outcome[]> decode(byte[] b, int conditions) {
        try (var in = new DataInputStream(new ByteArrayInputStream(b))) {
            int n = in.readInt();
            List<Outcome[]> rows = new ArrayList<>(n);
            for (int r = 0; r < n; r++) {
                int nc = in.readInt();
                if (nc != conditions) {
                    throw new IllegalStateException("a partition's sample has " + nc + " outcomes, the job " + conditions + " conditions");
                }
                Outcome[] row = new Outcome[nc];
                for (int c = 0; c < nc; c++) {
                    String group = in.readUTF();
                    double change = Double.longBitsToDouble(in.readLong());
                    boolean top1 = in.readBoolean();
                    Answer a = null;
                    if (in.readBoolean()) {
                        boolean mc = in.readBoolean();
                        double[] lp = doubles(in);
                        a = new Answer(mc, lp, in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readBoolean(),
                                Double.longBitsToDouble(in.readLong()), Double.longBitsToDouble(in.readLong()),
                                new Metrics.WordErrors(in.readLong(), in.readLong()));
                    }
                    double[] text = in.readBoolean() ? doubles(in) : null;
                    row[c] = new Outcome(group, change, top1, a, text);
                }
                rows.add(row);
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException("a partition's ablation outcomes: " + e.getMessage(), e);
        }
    }
}
