package org.neuronscope.spark;

import org.apache.spark.SparkException;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ablate} over Spark against the single-machine experiment ({@code neuronscope ablate}'s code
 * on one JVM) on {@code local[2,2]}: the table, every value at full precision (its CSV), is the same
 * string, for any partitioning, with retried tasks and after a resume.
 */
class SparkAblateTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2,2]").appName("neuronscope-ablate-test").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Open questions, multiple choice and plain text, labelled en/fr. */
    static Path dataset(Path dir, int n) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String lang = i % 3 == 0 ? "fr" : "en";
            lines.add(switch (i % 3) {
                case 0 -> "{\"id\": \"q" + i + "\", \"prompt\": \"What is " + i + " plus one?\", \"answers\": [\"" + (i + 1) + "\"], \"language\": \"" + lang + "\"}";
                case 1 -> "{\"id\": \"c" + i + "\", \"prompt\": \"Which colour is the sky number " + i + "?\", \"choices\": [\"red\", \"blue\", \"green\"], "
                        + "\"answer\": \"B\", \"language\": \"" + lang + "\"}";
                default -> "{\"id\": \"t" + i + "\", \"prompt\": \"Sentence " + i + " talks about rivers and hills.\", \"language\": \"" + lang + "\"}";
            });
        }
        Path f = dir.resolve("questions.jsonl");
        Files.write(f, lines);
        return f;
    }

    /** A set of every 4th neuron of the fixture model's ffn.act, deactivated, and its matched random set (as the command line builds them). */
    static List<AblationExperiment.Condition> conditions(JobSetup setup) {
        try (Workbench wb = Workbench.open(setup.toSetup())) {
            int layers = wb.model().layerCount();
            int width = wb.hooks().width(HookPoint.FFN_ACT, 0);
            NeuronSet set = new NeuronSet("test", HookPoint.FFN_ACT, layers, width, Map.of());
            for (int l = 0; l < layers; l++) {
                for (int n = 0; n < width; n += 4) {
                    set.add("quarter", l, n, 1.0);
                }
            }
            NeuronSet random = RandomBaseline.matchingUnion(set, set.groupNames(), 42, true);
            return List.of(new AblationExperiment.Condition("quarter off", set, List.of("quarter"), Intervention.deactivate()),
                    new AblationExperiment.Condition("random scaled", random, random.groupNames(), new Intervention.Scale(0.5f)));
        }
    }

    static String single(JobSetup setup, Path file, List<AblationExperiment.Condition> conditions, SparkAblate.Job job) {
        Dataset data = Dataset.load(file);
        try (Workbench wb = Workbench.open(setup.toSetup())) {
            MetricTable t = AblationExperiment.run(wb, data, conditions, job.groupOf(), job.maxTokens(), setup.parallel(), Progress.Listener.NONE);
            return t.toCsv();
        }
    }

    static SparkAblate.Result onSpark(SparkAblate.Job job, List<AblationExperiment.Condition> conditions, Path file, Path out,
                                      SparkStats.TaskObserver observer) {
        Samples samples = Samples.read(spark, file, null, null);
        return SparkAblate.run(spark, job, conditions, samples, samples.loadOnDriver(), out, observer);
    }

    @Test
    void partitionsWithRetriesGiveTheSingleMachineTableExactly(@TempDir Path dir) throws Exception {
        Path file = dataset(dir, 9);
        JobSetup setup = SparkFixtures.setup().withChatTemplate(null);
        List<AblationExperiment.Condition> conditions = conditions(setup);
        SparkAblate.Job job = new SparkAblate.Job(setup, "label:language", 3, 3);
        String expected = single(setup, file, conditions, job);
        assertTrue(expected.contains("option_accuracy") && expected.contains("exact_match") && expected.contains("text_nll"), expected);
        SparkAblate.Result r = onSpark(job, conditions, file, dir.resolve("spark"), new SparkStatsTest.FailFirstAttempts());
        assertEquals(3, r.partitions().size());
        assertTrue(r.partitions().get(1).reused(), "the retry of partition 1 reads what its failed attempt wrote");
        assertEquals(expected, r.table().toCsv());
    }

    @Test
    void decodedTogetherPartitionsCutAtSlicesAndAResumeEndsTheSame(@TempDir Path dir) throws Exception {
        Path file = dataset(dir, 10);
        JobSetup setup = SparkFixtures.setup().withChatTemplate(null).withParallel(2);
        List<AblationExperiment.Condition> conditions = conditions(setup).subList(0, 1);
        SparkAblate.Job job = new SparkAblate.Job(setup, "media", 0, 4);
        String expected = single(setup, file, conditions, job);
        Path cut = dir.resolve("cut");
        assertThrows(SparkException.class, () -> onSpark(job, conditions, file, cut, new SparkMinerTest.FailsAlways(3, Partitions.of(cut, 0).toString())));
        assertFalse(Files.exists(Partitions.of(cut, 3)));
        SparkAblate.Result r = onSpark(job, conditions, file, cut, SparkStats.TaskObserver.NONE);
        assertEquals(List.of(2, 2, 2, 4), r.partitions().stream().map(PartialResult::samples).toList(), "ranges at multiples of 2 samples");
        assertTrue(r.partitions().stream().anyMatch(PartialResult::reused));
        assertFalse(r.partitions().get(3).reused());
        assertEquals(expected, r.table().toCsv());
        // other conditions in the same directory are refused, naming the difference
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> onSpark(job, conditions(setup).subList(1, 2), file, cut,
                SparkStats.TaskObserver.NONE));
        assertTrue(e.getMessage().contains("condition.0"), e.getMessage());
    }
}
