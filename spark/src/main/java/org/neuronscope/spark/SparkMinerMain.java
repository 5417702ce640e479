package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The spark-submit entry point of {@code select --method miner}:
 * <pre>
 * spark-submit --class org.neuronscope.spark.SparkMinerMain --jars ... neuronscope-spark.jar \
 *     --model M.gguf --dataset A.jsonl [--dataset B.jsonl ...] --out DIR [--modalities ...] [--weights ...] [--partitions P] ...
 * </pre>
 * The model options are those of the command line; the MINER options those of {@code select}.
 * Stages 1–3 run on the executors, stage 4 on the driver; the neuron set is written to
 * {@code DIR/miner.json}, beside {@code partitions/} and {@code spark-job.json}. Another stage 4
 * (strategy, ratio, weights without new metrics) reruns from the partitions without decoding.
 */
@Command(name = "neuronscope-spark-miner", mixinStandardHelpOptions = true,
        description = "MINER's modality-specific neurons over Spark: stages 1-3 per partition, merged in order; rerun after a failure to resume.")
public final class SparkMinerMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @CommandLine.Mixin
    ModelJobOptions job;
    @Option(names = "--dataset", required = true, description = "dataset (JSONL, Parquet or JSON); repeat it for several (scores are averaged per dataset, then over the datasets)")
    List<Path> dataset;
    @Option(names = "--modalities", split = ",", defaultValue = "text,special,image", description = "as select's (default: ${DEFAULT-VALUE})")
    List<String> modalities;
    @Option(names = "--weights", defaultValue = "defaults", description = "defaults, mean-max, or prob=..,mean=..,max=..,attn_k=..,attn_q=.. (default: ${DEFAULT-VALUE})")
    String weights;
    @Option(names = "--ratio", defaultValue = "0.02", description = "budget as a fraction of all neurons (default: ${DEFAULT-VALUE})")
    double ratio;
    @Option(names = "--strategy", defaultValue = "LA_MU", description = "LA_MU, ADAPTIVE, LU_MA, UNIFORM, RANDOM (default: ${DEFAULT-VALUE})")
    Miner.Strategy strategy;
    @Option(names = "--seed", description = "seed of the random strategy (default: 0; 2024 with --stage4 reference)")
    Long seed;
    @Option(names = "--stage4", defaultValue = "SPECIFICATION", description = "SPECIFICATION or REFERENCE (default: ${DEFAULT-VALUE})")
    Miner.Stage4 stage4;
    @Option(names = "--attention", defaultValue = "SPECIFICATION", description = "the attention of attn_k/attn_q, as select's: "
            + "SPECIFICATION (the model's causal probabilities) or REFERENCE (MINER's code: unmasked scores, softmaxed again; each sample "
            + "is decoded beside itself, so --ctx must hold 2x the longest sample) (default: ${DEFAULT-VALUE})")
    Miner.Attention attention;

    @Override
    public Integer call() throws Exception {
        SparkSupport.checkJdk();
        Miner.Weights w = Miner.Weights.parse(weights);
        long drawSeed = seed != null ? seed : stage4 == Miner.Stage4.REFERENCE ? 2024 : 0;
        Miner.Params params = new Miner.Params(w, ratio, strategy, drawSeed, stage4, attention); // checked before any work
        boolean reference = w.needsAttention() && attention == Miner.Attention.REFERENCE;
        SparkSession spark = SparkSession.builder().appName("neuronscope miner").getOrCreate();
        try {
            List<Samples> samples = dataset.stream().map(d -> Samples.read(spark, d, job.format, job.mediaRoot)).toList();
            List<Dataset> data = samples.stream().map(Samples::loadOnDriver).toList();
            SparkMiner.Job j = new SparkMiner.Job(job.setup(reference ? 2 : 1, w.needsAttention()), modalities, w.needsAttention(), attention,
                    job.partitions(spark));
            SparkMiner.Result r = SparkMiner.run(spark, j, samples, data, job.out, SparkStats.TaskObserver.NONE);
            NeuronSet set = Miner.select(r.aggregate(), HookPoint.FFN_ACT, params);
            Path file = job.out.resolve("miner.json");
            set.save(file);
            var o = spec.commandLine().getOut();
            o.println("MINER over " + data.stream().mapToInt(Dataset::size).sum() + " samples in " + r.partitions().size() + " partitions ("
                    + r.partitions().stream().filter(PartialResult::reused).count() + " from an earlier run)");
            for (String g : set.groupNames()) {
                o.println(g + " (" + set.size(g) + " neurons, layer:neuron): " + set.describe(g));
            }
            o.println("written to " + file);
        } finally {
            spark.stop();
        }
        return 0;
    }

    public static void main(String[] args) {
        int rc = SparkStatsMain.execute(new SparkMinerMain(), args);
        if (rc != 0) {
            System.exit(rc);
        }
    }
}
