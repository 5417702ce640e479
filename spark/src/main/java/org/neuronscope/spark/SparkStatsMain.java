package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The spark-submit entry point of {@code stats}:
 * <pre>
 * spark-submit --class org.neuronscope.spark.SparkStatsMain --jars ... neuronscope-spark.jar \
 *     --model M.gguf --dataset D.jsonl --out DIR [--group-by modality|label:NAME] [--partitions P] ...
 * </pre>
 * The options are those of {@code neuronscope stats}, plus {@code --partitions}, {@code --format} and
 * {@code --media-root}; the output directory (on a filesystem the driver and every executor share)
 * gets {@code statistics/} as {@code stats} writes it, {@code partitions/} and {@code spark-job.json}.
 */
@Command(name = "neuronscope-spark-stats", mixinStandardHelpOptions = true,
        description = "Per-group neuron statistics of a dataset over Spark, merged exactly; rerun after a failure to resume.")
public final class SparkStatsMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @CommandLine.Mixin
    ModelJobOptions job;
    @Option(names = "--dataset", required = true, description = "dataset: JSONL (the project's format), or Parquet / JSON with the same fields")
    Path dataset;
    @Option(names = "--group-by", defaultValue = "modality", description = "modality, or label:<name> (default: ${DEFAULT-VALUE})")
    String groupBy;
    @Option(names = "--tokens", description = "label groupings: TEXT (a sample's text only, LAPE's rule; the default) or ALL entries")
    String tokens;
    @Option(names = "--hook", defaultValue = "ffn.act", description = "hook point of the language model: ffn.pre, ffn.act, ffn.post, ffn.up, ffn.down, resid.post (default: ${DEFAULT-VALUE})")
    String hook;
    @Option(names = "--statistics", split = ",", description = "of count, count_abs, sum, sum_sq, sum_abs, max, min (default: all)")
    List<Statistic> statistics;
    @Option(names = "--parallel", defaultValue = "1", description = "samples decoded together, one sequence each (default: ${DEFAULT-VALUE})")
    int parallel;

    @Override
    public Integer call() {
        SparkSupport.checkJdk();
        boolean byLabel = groupBy.startsWith("label:");
        if (tokens != null && !byLabel) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tokens applies to --group-by label:<name>");
        }
        boolean textOnly = tokens == null || tokens.equalsIgnoreCase("text");
        if (tokens != null && !textOnly && !tokens.equalsIgnoreCase("all")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tokens must be TEXT or ALL, got " + tokens);
        }
        JobSetup setup = job.setup(parallel);
        SparkSession spark = SparkSession.builder().appName("neuronscope stats").getOrCreate();
        try {
            Samples samples = Samples.read(spark, dataset, job.format, job.mediaRoot);
            Dataset data = samples.loadOnDriver();
            int p = job.partitions(spark);
            SparkStats.Job j = new SparkStats.Job(setup, Grouping.of(groupBy, data, textOnly), HookPoint.parse(hook),
                    statistics == null ? EnumSet.noneOf(Statistic.class) : EnumSet.copyOf(statistics), p);
            try (SparkStats.Result r = SparkStats.run(spark, j, samples, data, job.out, SparkStats.TaskObserver.NONE)) {
                var s = r.statistics();
                spec.commandLine().getOut().println("statistics of " + data.size() + " samples in " + r.partitions().size() + " partitions ("
                        + r.partitions().stream().filter(PartialStatistics::reused).count() + " from an earlier run), tokens per group: "
                        + IntStream.range(0, s.groupCount()).mapToObj(i -> s.groups().get(i) + "=" + s.tokens(i)).collect(Collectors.joining(", ")));
                spec.commandLine().getOut().println("written to " + StatsExperiment.statisticsDir(job.out));
            }
        } finally {
            spark.stop();
        }
        return 0;
    }

    public static void main(String[] args) {
        int rc = execute(new SparkStatsMain(), args);
        if (rc != 0) {
            System.exit(rc);
        }
    }

    /** Runs an entry point's command, printing an error's message (not its trace) and returning the exit code. */
    static int execute(Object command, String[] args) {
        CommandLine cl = new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, c, parsed) -> {
            c.getErr().println("error: " + e.getMessage());
            return 1;
        });
        return cl.execute(args);
    }
}
