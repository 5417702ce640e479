package org.neuronscope.spark;

import org.neuronscope.experiments.ModelOptions;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * The options every spark-submit entry point of this module shares (a picocli mixin): the command
 * line's model options ({@link ModelOptions}, the same mixin) and where the job's input and output lie.
 */
public final class ModelJobOptions {
    @CommandLine.Mixin
    ModelOptions model = new ModelOptions();
    @Option(names = "--format", description = "jsonl, json or parquet (default: parquet for *.parquet, else jsonl)")
    String format;
    @Option(names = "--media-root", description = "what relative media paths resolve against (default: the dataset's directory)")
    Path mediaRoot;
    @Option(names = "--out", required = true, description = "output directory, shared by driver and executors")
    Path out;
    @Option(names = "--partitions", defaultValue = "0", description = "ranges of samples, one task each (0: spark.default.parallelism)")
    int partitions;

    /** The executors' model setup with {@code parallel} sequences per session. */
    public JobSetup setup(int parallel) {
        return JobSetup.of(model, parallel, false);
    }

    /** The same, with flash attention off when attention probabilities are read. */
    public JobSetup setup(int parallel, boolean attentionProbabilities) {
        return JobSetup.of(model, parallel, attentionProbabilities);
    }

    /** {@code --partitions}, or Spark's default parallelism when 0. */
    public int partitions(org.apache.spark.sql.SparkSession spark) {
        return partitions > 0 ? partitions : spark.sparkContext().defaultParallelism();
    }
}
