package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.AblationReport;
import org.neuronscope.experiments.InterventionOptions;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
 * set drawn with {@code --random-seed}; {@code --mode}, {@code --value} and {@code --stats} are read by
 * {@code ablate}'s rules ({@link InterventionOptions}). Writes what {@code ablate} writes
 * ({@link AblationReport}: {@code table.txt}, {@code table.csv}, {@code random.json} and the HTML report
 * {@code report/}), beside {@code partitions/}, {@code conditions/} and {@code spark-job.json}.
 */
@Command(name = "neuronscope-spark-ablate", mixinStandardHelpOptions = true,
        description = "A dataset evaluated with a neuron set intervened on and a matched random set, over Spark; ablate's table (exactly) and report.")
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
    @CommandLine.Mixin
    InterventionOptions how; // --mode, --value, --stats: ablate's, read by the same rules
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
        Intervention intervention = how.intervention(List.of(s), List.of(set));
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
            // ablate's files, written from the merged table as the command line writes them from its own
            AblationReport.Written written = new AblationReport(dataset, job.model.model(), job.model.mmproj(), List.of(set), List.of(s),
                    List.of(random), groups, intervention, seed, null).write(job.out, table, data, j.groupOf());
            var o = spec.commandLine().getOut();
            o.println(table.toText(4));
            o.print(written.layers());
            o.println("ablation of " + data.size() + " samples in " + r.partitions().size() + " partitions ("
                    + r.partitions().stream().filter(PartialResult::reused).count() + " from an earlier run) written to " + job.out);
            o.println("report: " + written.report());
        } finally {
            spark.stop();
        }
        return 0;
    }

    public static void main(String[] args) {
        int rc = SparkStatsMain.execute(new SparkAblateMain(), args);
        if (rc != 0) {
            System.exit(rc);
        }
    }
}
