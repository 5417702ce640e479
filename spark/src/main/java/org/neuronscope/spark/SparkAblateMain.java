package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The spark-submit entry point of {@code ablate}:
 * <pre>
 * spark-submit --class org.neuronscope.spark.SparkAblateMain --jars ... neuronscope-spark.jar \
 *     --model M.gguf --dataset D.jsonl --set S.json --out DIR [--groups ...] [--mode ...] [--partitions P] ...
 * </pre>
 * The conditions are {@code ablate}'s: the set's groups under {@code --mode}, and the matched random
 * set drawn with {@code --random-seed}. Writes {@code ablate}'s {@code table.txt}, {@code table.csv}
 * and {@code random.json} (not its HTML report), beside {@code partitions/}, {@code conditions/} and
 * {@code spark-job.json}.
 */
@Command(name = "neuronscope-spark-ablate", mixinStandardHelpOptions = true,
        description = "A dataset evaluated with a neuron set intervened on and a matched random set, over Spark; the table of ablate, exactly.")
public final class SparkAblateMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @CommandLine.Mixin
    ModelJobOptions job;
    @Option(names = "--dataset", required = true, description = "dataset (JSONL, Parquet or JSON)")
    Path dataset;
    @Option(names = "--set", required = true, description = "neuron set JSON (from 'neuronscope select')")
    Path set;
    @Option(names = "--groups", split = ",", description = "groups of the set to intervene on (default: all)")
    List<String> groups;
    @Option(names = "--mode", defaultValue = "deactivate", description = "deactivate, set[:c], scale[:s], complementary[:<mode>] or minimum (default: ${DEFAULT-VALUE})")
    String mode;
    @Option(names = "--value", description = "the value of a bare --mode set or scale")
    Float value;
    @Option(names = "--stats", description = "minimum: statistics directory with MIN (written by 'neuronscope stats')")
    Path stats;
    @Option(names = "--random-seed", defaultValue = "42", description = "seed of the matched random set (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--max-tokens", defaultValue = "16", description = "greedy answer length for samples with references (default: ${DEFAULT-VALUE})")
    int maxTokens;
    @Option(names = "--group-by", defaultValue = "media", description = "media, or label:<name> (default: ${DEFAULT-VALUE})")
    String groupBy;
    @Option(names = "--parallel", defaultValue = "1", description = "prompts decoded together for the next-token metrics (default: ${DEFAULT-VALUE})")
    int parallel;

    @Override
    public Integer call() throws Exception {
        SparkSupport.checkJdk();
        NeuronSet s = NeuronSet.load(set);
        List<String> g = groups == null ? s.groupNames() : groups;
        NeuronSet random = RandomBaseline.matchingUnion(s, g, seed, true);
        Intervention intervention = intervention();
        if (intervention.needsMinima()) {
            if (stats == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--mode " + mode + " needs --stats <directory written by 'neuronscope stats'>");
            }
            Path inner = org.neuronscope.experiments.StatsExperiment.statisticsDir(stats);
            Path dir = Files.isDirectory(inner) ? inner : stats;
            try (NeuronStatistics observed = NeuronStatistics.load(dir)) {
                if (!observed.has(Statistic.MIN)) {
                    throw new IllegalArgumentException(dir + " holds no MIN statistic");
                }
                intervention = intervention.withMinima(InterventionMask.layerMinima(observed));
            }
        }
        List<AblationExperiment.Condition> conditions = List.of(
                new AblationExperiment.Condition(s.method() + " " + intervention, s, g, intervention),
                new AblationExperiment.Condition("random " + intervention, random, random.groupNames(), intervention));
        conditions.forEach(AblationExperiment.Condition::mask); // names groups the set lacks, before Spark starts
        SparkSession spark = SparkSession.builder().appName("neuronscope ablate").getOrCreate();
        try {
            Samples samples = Samples.read(spark, dataset, job.format, job.mediaRoot);
            Dataset data = samples.loadOnDriver();
            SparkAblate.Job j = new SparkAblate.Job(job.setup(parallel), groupBy, maxTokens, job.partitions(spark));
            SparkAblate.Result r = SparkAblate.run(spark, j, conditions, samples, data, job.out, SparkStats.TaskObserver.NONE);
            MetricTable table = r.table();
            random.save(job.out.resolve("random.json"));
            Files.writeString(job.out.resolve("table.txt"), table.toText(4));
            Files.writeString(job.out.resolve("table.csv"), table.toCsv());
            spec.commandLine().getOut().println(table.toText(4));
            spec.commandLine().getOut().println("ablation of " + data.size() + " samples in " + r.partitions().size() + " partitions ("
                    + r.partitions().stream().filter(PartialResult::reused).count() + " from an earlier run) written to " + job.out);
        } finally {
            spark.stop();
        }
        return 0;
    }

    /** --mode as ablate reads it: a bare set or scale takes --value. */
    private Intervention intervention() {
        String t = mode.strip().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("scale") && value == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--mode scale needs --value <factor> (or write scale:<factor>)");
        }
        if (t.equals("set") || t.equals("scale")) {
            return t.equals("set") ? new Intervention.SetTo(value == null ? 0f : value) : new Intervention.Scale(value);
        }
        if (value != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--value applies to a bare --mode set or scale, not " + mode);
        }
        return Intervention.parse(t);
    }

    public static void main(String[] args) {
        int rc = SparkStatsMain.execute(new SparkAblateMain(), args);
        if (rc != 0) {
            System.exit(rc);
        }
    }
}
