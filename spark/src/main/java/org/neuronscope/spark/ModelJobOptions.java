package org.neuronscope.spark;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * The options every spark-submit entry point of this module shares (a picocli mixin): the model
 * options of the command line's commands, with the same names and defaults, and where the job's
 * input and output lie.
 */
public final class ModelJobOptions {
    @Option(names = "--model", required = true, description = "language model GGUF (a path every executor can read)")
    Path model;
    @Option(names = "--mmproj", description = "multimodal projector GGUF")
    Path mmproj;
    @Option(names = "--threads", defaultValue = "0", description = "CPU threads per decode (0: all cores of the executor's machine)")
    int threads;
    @Option(names = "--ctx", defaultValue = "4096", description = "context size in tokens (default: ${DEFAULT-VALUE})")
    int ctx;
    @Option(names = "--batch", defaultValue = "512", description = "batch size in tokens (default: ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--gpu-layers", defaultValue = "0", description = "layers offloaded to the executor's GPU (default: ${DEFAULT-VALUE})")
    int gpuLayers;
    @Option(names = "--image-max-tokens", defaultValue = "0", description = "upper bound on tokens per image (0: the model's)")
    int imageMaxTokens;
    @Option(names = "--chat-template", description = "a template name or text; 'raw' for none (default: the model's)")
    String chatTemplate;
    @Option(names = "--default-system", description = "system message of samples without one ('template': the chat template's)")
    String defaultSystem;
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
        return new JobSetup(model.toAbsolutePath().toString(), mmproj == null ? null : mmproj.toAbsolutePath().toString(), threads, ctx,
                batch, gpuLayers, imageMaxTokens, chatTemplate, defaultSystem, parallel);
    }

    /** {@code --partitions}, or Spark's default parallelism when 0. */
    public int partitions(org.apache.spark.sql.SparkSession spark) {
        return partitions > 0 ? partitions : spark.sparkContext().defaultParallelism();
    }
}
