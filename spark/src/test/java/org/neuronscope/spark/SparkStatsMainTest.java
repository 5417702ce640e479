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
import static org.junit.jupiter.api.Assertions.assertFalse;
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
    void theAblateEntryPointWritesAblatesTableAndReport(@TempDir Path dir) throws Exception {
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
        java.util.List<String> options = java.util.List.of("--model", setup.model(), "--flash-attn", "off", "--threads", "1", "--ctx", "1024",
                "--batch", "128", "--dataset", file.toString(), "--set", setFile.toString(), "--random-seed", "7", "--max-tokens", "2");
        StringWriter out = new StringWriter();
        int rc = sparkMain(new SparkAblateMain(), out, concat(options, "--partitions", "2", "--out", dir.resolve("spark").toString()));
        assertEquals(0, rc, out.toString());
        assertTrue(out.toString().contains("ablation of 6 samples in 2 partitions"), out.toString());
        assertTrue(out.toString().contains("report: " + dir.resolve("spark/report/index.html")), out.toString());
        assertEquals(expected, java.nio.file.Files.readString(dir.resolve("spark/table.csv")));

        // the command line's ablate, same options: the same files, the report's date line aside
        StringWriter cliOut = new StringWriter();
        StringWriter cliErr = new StringWriter();
        int cliRc = org.neuronscope.cli.NeuronScopeCli.run(new PrintWriter(cliOut, true), new PrintWriter(cliErr, true),
                concat(java.util.List.of("ablate"), concat(options, "--out", dir.resolve("cli").toString())));
        assertEquals(0, cliRc, cliErr.toString());
        Path cli = dir.resolve("cli");
        Path spark = dir.resolve("spark");
        java.util.List<String> files = relativeFiles(cli);
        assertTrue(files.containsAll(java.util.List.of("random.json", "table.csv", "table.txt", "report/index.html", "report/layers.png",
                "report/logit_change.png")), files.toString());
        java.util.List<String> sparkFiles = relativeFiles(spark);
        assertTrue(sparkFiles.containsAll(files), "the Spark job writes every file ablate writes: " + sparkFiles + " against " + files);
        for (String f : files) {
            if (f.equals("report/index.html")) {
                String a = withoutDate(java.nio.file.Files.readString(cli.resolve(f)));
                String b = withoutDate(java.nio.file.Files.readString(spark.resolve(f)));
                assertTrue(a.contains("<table>") && a.contains("<a href=\"../random.json\">") && a.contains("<a href=\"../../set.json\">"), a);
                assertEquals(a, b, f);
            } else {
                org.junit.jupiter.api.Assertions.assertArrayEquals(java.nio.file.Files.readAllBytes(cli.resolve(f)),
                        java.nio.file.Files.readAllBytes(spark.resolve(f)), f);
            }
        }
    }

    @Test
    void theAblateEntryPointReadsModeAndValueAsAblateDoes(@TempDir Path dir) throws Exception {
        Path file = SparkAblateTest.dataset(dir, 2);
        JobSetup setup = SparkFixtures.setup().withChatTemplate(null);
        Path setFile = dir.resolve("set.json");
        SparkAblateTest.conditions(setup).getFirst().set().save(setFile);
        java.util.List<String> options = java.util.List.of("--model", setup.model(), "--dataset", file.toString(), "--set", setFile.toString());
        // each refusal: the Spark entry point's message is the command line's, before any work
        java.util.List<java.util.List<String>> bad = java.util.List.of(
                java.util.List.of("--mode", "scale"),
                java.util.List.of("--mode", "deactivate", "--value", "2"),
                java.util.List.of("--mode", "set:2", "--value", "3"),
                java.util.List.of("--mode", "minimum"),
                java.util.List.of("--mode", "halve"));
        java.util.List<String> messages = java.util.List.of("--mode scale needs --value <factor> (or write scale:<factor>)",
                "--value applies to --mode set and scale, not deactivate", "--value applies to a bare --mode set or scale; --mode set:2 gives its own value",
                "--mode minimum needs --stats <directory written by 'neuronscope stats'>", "--mode must be deactivate, set[:c], scale[:s]");
        for (int i = 0; i < bad.size(); i++) {
            StringWriter err = new StringWriter();
            CommandLine cl = new CommandLine(new SparkAblateMain()).setCaseInsensitiveEnumValuesAllowed(true);
            cl.setErr(new PrintWriter(err, true));
            java.util.List<String> args = java.util.List.of(concat(options, bad.get(i).toArray(String[]::new)));
            int rc = cl.execute(concat(args, "--out", dir.resolve("s" + i).toString()));
            StringWriter cliErr = new StringWriter();
            int cliRc = org.neuronscope.cli.NeuronScopeCli.run(new PrintWriter(new StringWriter(), true), new PrintWriter(cliErr, true),
                    concat(java.util.List.of("ablate"), concat(args, "--out", dir.resolve("c" + i).toString())));
            assertEquals(2, rc, bad.get(i) + ": " + err);
            assertEquals(2, cliRc, bad.get(i) + ": " + cliErr);
            assertTrue(err.toString().contains(messages.get(i)), bad.get(i) + ": " + err);
            assertTrue(cliErr.toString().contains(messages.get(i)), bad.get(i) + ": " + cliErr);
            assertFalse(java.nio.file.Files.exists(dir.resolve("s" + i).resolve("spark-job.json")), "no job started");
        }
    }

    /** Runs a spark-submit entry point's command as spark-submit would (the master from spark.master). */
    static int sparkMain(Object command, StringWriter out, String... args) {
        System.setProperty("spark.master", "local[1]");
        System.setProperty("spark.ui.enabled", "false");
        try {
            CommandLine cl = new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true);
            cl.setOut(new PrintWriter(out, true));
            return cl.execute(args);
        } finally {
            System.clearProperty("spark.master");
            System.clearProperty("spark.ui.enabled");
        }
    }

    static String[] concat(java.util.List<String> head, String... tail) {
        java.util.List<String> all = new java.util.ArrayList<>(head);
        all.addAll(java.util.List.of(tail));
        return all.toArray(String[]::new);
    }

    /** The files under a directory, relative, sorted. */
    static java.util.List<String> relativeFiles(Path root) throws java.io.IOException {
        try (var s = java.nio.file.Files.walk(root)) {
            return s.filter(java.nio.file.Files::isRegularFile).map(p -> root.relativize(p).toString().replace('\\', '/')).sorted().toList();
        }
    }

    /** A report without the date line under its title (the time it was written). */
    static String withoutDate(String html) {
        String out = html.replaceFirst("(</h1>\n)<p>[^<]*</p>\n", "$1");
        assertTrue(out.length() < html.length(), "the report has a date line");
        return out;
    }
}
