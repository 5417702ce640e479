package org.neuronscope.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.StatsExperiment;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spark-submit entry point, as spark-submit runs it (the master from {@code spark.master}). */
class SparkStatsMainTest {
    @Test
    void theEntryPointWritesWhatStatsWrites(@TempDir Path dir) throws Exception {
        Path file = SparkFixtures.dataset(dir, 6);
        JobSetup setup = SparkFixtures.setup();
        Dataset data = Dataset.load(file);
        Grouping g = Grouping.of("label:language", data, true);
        SparkStats.Job job = new SparkStats.Job(setup, g, HookPoint.FFN_ACT, StatsExperiment.Params.DEFAULTS.statistics(), 1);
        SparkFixtures.singleProcess(setup, file, g, job, dir.resolve("single")).close();
        System.setProperty("spark.master", "local[1]");
        System.setProperty("spark.ui.enabled", "false");
        StringWriter out = new StringWriter();
        int rc;
        try {
            CommandLine cl = new CommandLine(new SparkStatsMain()).setCaseInsensitiveEnumValuesAllowed(true);
            cl.setOut(new PrintWriter(out, true));
            rc = cl.execute("--model", setup.model(), "--flash-attn", "off", "--threads", "1", "--ctx", "1024", "--batch", "128", "--chat-template", "raw",
                    "--dataset", file.toString(), "--group-by", "label:language", "--partitions", "1", "--out", dir.resolve("spark").toString());
        } finally {
            System.clearProperty("spark.master");
            System.clearProperty("spark.ui.enabled");
        }
        assertEquals(0, rc, out.toString());
        assertTrue(out.toString().contains("statistics of 6 samples in 1 partitions"), out.toString());
        SparkFixtures.assertSameFiles(StatsExperiment.statisticsDir(dir.resolve("single")), StatsExperiment.statisticsDir(dir.resolve("spark")));
    }

    @Test
    void theMinerEntryPointSelectsWhatSelectSelects(@TempDir Path dir) throws Exception {
        java.util.List<Path> files = java.util.List.of(SparkFixtures.dataset(dir, 5, "a"), SparkFixtures.dataset(dir, 4, "b"));
        JobSetup setup = SparkMinerTest.setup();
        org.neuronscope.methods.Miner.Params p = new org.neuronscope.methods.Miner.Params(org.neuronscope.methods.Miner.Weights.MEAN_MAX, 0.05,
                org.neuronscope.methods.Miner.Strategy.LA_MU, 0);
        org.neuronscope.methods.NeuronSet expected = org.neuronscope.methods.Miner.select(
                SparkMinerTest.single(setup, files, false), HookPoint.FFN_ACT, p);
        System.setProperty("spark.master", "local[1]");
        System.setProperty("spark.ui.enabled", "false");
        StringWriter out = new StringWriter();
        int rc;
        try {
            CommandLine cl = new CommandLine(new SparkMinerMain()).setCaseInsensitiveEnumValuesAllowed(true);
            cl.setOut(new PrintWriter(out, true));
            rc = cl.execute("--model", setup.model(), "--flash-attn", "off", "--threads", "1", "--ctx", "1024", "--batch", "128", "--dataset", files.get(0).toString(),
                    "--dataset", files.get(1).toString(), "--modalities", "text,special", "--weights", "mean-max", "--ratio", "0.05",
                    "--partitions", "3", "--out", dir.resolve("spark").toString());
        } finally {
            System.clearProperty("spark.master");
            System.clearProperty("spark.ui.enabled");
        }
        assertEquals(0, rc, out.toString());
        assertTrue(out.toString().contains("MINER over 9 samples in 3 partitions"), out.toString());
        org.neuronscope.methods.NeuronSet got = org.neuronscope.methods.NeuronSet.load(dir.resolve("spark/miner.json"));
        assertTrue(expected.size() > 0);
        assertEquals(expected.groupNames(), got.groupNames());
        for (String g : expected.groupNames()) {
            assertEquals(expected.describe(g), got.describe(g), g);
        }
    }

    @Test
    void theAblateEntryPointWritesAblatesTable(@TempDir Path dir) throws Exception {
        Path file = SparkAblateTest.dataset(dir, 6);
        JobSetup setup = SparkFixtures.setup().withChatTemplate(null);
        org.neuronscope.methods.NeuronSet set = SparkAblateTest.conditions(setup).getFirst().set();
        Path setFile = dir.resolve("set.json");
        set.save(setFile);
        org.neuronscope.methods.NeuronSet random = org.neuronscope.methods.RandomBaseline.matchingUnion(set, set.groupNames(), 7, true);
        org.neuronscope.methods.Intervention off = org.neuronscope.methods.Intervention.deactivate();
        var conditions = java.util.List.of(new org.neuronscope.experiments.AblationExperiment.Condition("test deactivate", set, set.groupNames(), off),
                new org.neuronscope.experiments.AblationExperiment.Condition("random deactivate", random, random.groupNames(), off));
        String expected = SparkAblateTest.single(setup, file, conditions, new SparkAblate.Job(setup, "media", 2, 1));
        System.setProperty("spark.master", "local[1]");
        System.setProperty("spark.ui.enabled", "false");
        StringWriter out = new StringWriter();
        int rc;
        try {
            CommandLine cl = new CommandLine(new SparkAblateMain()).setCaseInsensitiveEnumValuesAllowed(true);
            cl.setOut(new PrintWriter(out, true));
            rc = cl.execute("--model", setup.model(), "--flash-attn", "off", "--threads", "1", "--ctx", "1024", "--batch", "128", "--dataset", file.toString(),
                    "--set", setFile.toString(), "--random-seed", "7", "--max-tokens", "2", "--partitions", "2", "--out", dir.resolve("spark").toString());
        } finally {
            System.clearProperty("spark.master");
            System.clearProperty("spark.ui.enabled");
        }
        assertEquals(0, rc, out.toString());
        assertTrue(out.toString().contains("ablation of 6 samples in 2 partitions"), out.toString());
        assertEquals(expected, java.nio.file.Files.readString(dir.resolve("spark/table.csv")));
    }
}
