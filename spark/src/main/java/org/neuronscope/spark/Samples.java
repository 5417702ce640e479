package org.neuronscope.spark;

import org.apache.spark.api.java.function.FilterFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A dataset's samples as a Spark Dataset of JSON objects, one per sample in dataset order, in the
 * fields of the project's JSONL format ({@link Dataset}): read from a JSONL file line by line (the
 * project's own format), or from Parquet or JSON (Spark's readers) whose columns carry the same
 * field names ({@code id}, {@code prompt}, {@code image}, {@code labels}, {@code language}, ...).
 * Media paths resolve against {@code baseDir} (the dataset file's directory unless given), which
 * every executor must be able to read.
 *
 * @param json    one JSON object per sample, in order
 * @param file    the dataset file (or directory, for Parquet)
 * @param format  {@code jsonl}, {@code json} or {@code parquet}
 * @param baseDir what relative media paths resolve against
 */
public record Samples(org.apache.spark.sql.Dataset<String> json, Path file, String format, Path baseDir) {
    /** Reads {@code file} as {@code format} (null: from the extension; {@code .parquet} is Parquet, anything else JSONL). */
    public static Samples read(SparkSession spark, Path file, String format, Path baseDir) {
        String f = format != null ? format.toLowerCase(Locale.ROOT) : file.getFileName().toString().endsWith(".parquet") ? "parquet" : "jsonl";
        Path abs = file.toAbsolutePath().normalize();
        Path base = baseDir != null ? baseDir.toAbsolutePath().normalize() : abs.getParent();
        org.apache.spark.sql.Dataset<String> json = switch (f) {
            case "jsonl", "ndjson" -> spark.read().textFile(abs.toString()).filter((FilterFunction<String>) s -> !s.isBlank());
            case "json", "parquet" -> spark.read().format(f).load(abs.toString()).toJSON();
            default -> throw new IllegalArgumentException("dataset format must be jsonl, json or parquet, got " + format);
        };
        return new Samples(json.as(Encoders.STRING()), abs, f.equals("ndjson") ? "jsonl" : f, base);
    }

    /**
     * The whole dataset on the driver, read by the project's own reader: validated before anything is
     * decoded, and what the result's metadata and fingerprint are computed from (as {@code stats}
     * does). A JSONL file is read directly; Parquet or JSON rows are collected once.
     */
    public Dataset loadOnDriver() {
        if (format.equals("jsonl") && baseDir.equals(file.getParent())) {
            return Dataset.load(file);
        }
        List<Sample> all = new ArrayList<>();
        int i = 0;
        for (java.util.Iterator<String> it = json.toLocalIterator(); it.hasNext(); ) {
            all.add(Dataset.parseLine(file, baseDir, ++i, it.next()));
        }
        String name = file.getFileName().toString().replaceFirst("\\.(jsonl|json|ndjson|parquet)$", "");
        return Dataset.of(name, all);
    }

    /** A task's rows (index → JSON line, sorted, exactly [from, to)) as a dataset named after its file and range. */
    static Dataset slice(String file, String baseDir, long from, long to, List<scala.Tuple2<Long, String>> rows) {
        Path f = Path.of(file);
        Path base = Path.of(baseDir);
        List<Sample> slice = new ArrayList<>(rows.size());
        for (scala.Tuple2<Long, String> t : rows) {
            slice.add(Dataset.parseLine(f, base, (int) (t._1() + 1), t._2()));
        }
        return Dataset.of(f.getFileName() + "[" + from + ".." + to + ")", slice);
    }
}
