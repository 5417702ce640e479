package org.neuronscope.cli;


import org.neuronscope.HookPoint;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line: help for every command, clear errors for bad arguments, and a {@code stats} run
 * killed midway (a real child process, killed with SIGKILL after its tenth checkpoint) and resumed,
 * whose statistics are byte for byte those of an uninterrupted run.
 */
class NeuronScopeCliTest {
    static Path dir;
    static Path model;
    static Path dataset;

    @BeforeAll
    static void fixtures() throws Exception {
        dir = Path.of("target", "cli-test").toAbsolutePath();
        Files.createDirectories(dir);
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        model = SyntheticModels.write(ModelSpec.tiny("qwen2", vocab), dir.resolve("tiny-qwen2.gguf"));
        StringBuilder lines = new StringBuilder();
        String[] langs = {"en", "fr"};
        for (int i = 0; i < 400; i++) {
            lines.append(String.format("{\"id\": \"s%d\", \"prompt\": \"Sample %d: tell me about the number %d and its neighbours.\", \"language\": \"%s\"}%n",
                    i, i, i * 7, langs[i % 2]));
        }
        dataset = Files.writeString(dir.resolve("data.jsonl"), lines, StandardCharsets.UTF_8);
    }

    record Run(int code, String out, String err) {
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = NeuronScopeCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void helpForEveryCommand() {
        Run top = cli("--help");
        assertEquals(0, top.code());
        for (String c : List.of("stats", "select", "ablate", "export", "unlearn", "probe", "demo")) {
            assertTrue(top.out().contains(c), c);
            Run r = cli(c, "--help");
            assertEquals(0, r.code(), c);
            assertTrue(r.out().contains("Usage: neuronscope " + c), r.out());
        }
    }

    @Test
    void badArgumentsAreClearErrors() throws Exception {
        Run missing = cli("stats", "--model", model.toString(), "--dataset", dataset.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("Missing required option: '--out=<out>'"), missing.err());
        Run method = cli("select", "--method", "nonsense", "--out", dir.resolve("x.json").toString());
        assertEquals(2, method.code());
        assertTrue(method.err().contains("--method must be entropy, miner or manu"), method.err());
        Run noStats = cli("select", "--method", "entropy", "--out", dir.resolve("x.json").toString());
        assertTrue(noStats.err().contains("needs --stats"), noStats.err());
        Run noFile = cli("stats", "--model", model.toString(), "--dataset", dir.resolve("absent.jsonl").toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, noFile.code());
        assertTrue(noFile.err().contains("absent.jsonl"), noFile.err());
        Run noModel = cli("stats", "--dataset", dataset.toString(), "--out", dir.resolve("o").toString());
        assertTrue(noModel.err().contains("--model"), noModel.err());
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}\nnot json\n");
        Run badData = cli("stats", "--model", model.toString(), "--dataset", bad.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, badData.code());
        assertTrue(badData.err().contains("bad.jsonl:2:") && badData.err().contains("bad.jsonl:3:"), badData.err());
        Run badGroup = cli("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--out", dir.resolve("o").toString(),
                "--group-by", "colour");
        assertTrue(badGroup.err().contains("--group-by"), badGroup.err());
        Run badStat = cli("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--out", dir.resolve("o").toString(),
                "--statistics", "count,median");
        assertEquals(2, badStat.code());
        assertTrue(badStat.err().contains("unknown statistic 'median'"), badStat.err());
        Run badWeights = cli("select", "--method", "miner", "--model", model.toString(), "--dataset", dataset.toString(),
                "--weights", "mean=0.5,median=0.5", "--out", dir.resolve("x.json").toString());
        assertEquals(2, badWeights.code());
        assertTrue(badWeights.err().contains("--weights must be"), badWeights.err());
        Run badDemo = cli("demo", "--work", dir.resolve("d").toString(), "--audio", "-1");
        assertEquals(2, badDemo.code());
        assertTrue(badDemo.err().contains("--audio"), badDemo.err());
    }

    @Test
    void statsKilledMidwayAndResumedEqualsAnUninterruptedRun() throws Exception {
        List<String> common = List.of("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--group-by", "label:language",
                "--threads", "1", "--ctx", "256", "--batch", "64", "--checkpoint-every", "1");
        Path whole = dir.resolve("whole");
        Path killed = dir.resolve("killed");
        deleteTree(whole);
        deleteTree(killed);
        Run r = cli(with(common, "--out", whole.toString()));
        assertEquals(0, r.code(), r.err());

        // a child JVM runs the same command and is killed (SIGKILL) once its checkpoint says 10 samples are done
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                NeuronScopeCli.class.getName()));
        cmd.addAll(List.of(with(common, "--out", killed.toString())));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        Path meta = killed.resolve("checkpoint").resolve("meta.json");
        long deadline = System.nanoTime() + 120_000_000_000L;
        int done = 0;
        while (System.nanoTime() < deadline && child.isAlive()) {
            done = samplesDone(meta);
            if (done >= 10) {
                break;
            }
            Thread.sleep(5);
        }
        child.destroyForcibly().waitFor();
        assertTrue(done >= 10, "the child reached a checkpoint (log: " + dir.resolve("child.log") + ")");
        assertFalse(Files.exists(killed.resolve("statistics")), "the child was killed before it finished");
        int atKill = samplesDone(meta);
        assertTrue(atKill < 400, "killed midway, at " + atKill);

        Run resumed = cli(with(common, "--out", killed.toString()));
        assertEquals(0, resumed.code(), resumed.err());
        try (Stream<Path> files = Files.list(whole.resolve("statistics"))) {
            List<Path> all = files.sorted().toList();
            assertTrue(all.stream().anyMatch(p -> p.toString().endsWith(".npy")));
            for (Path f : all) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(killed.resolve("statistics").resolve(f.getFileName())),
                        f.getFileName() + " differs after kill and resume at sample " + atKill);
            }
        }
    }

    private static int samplesDone(Path meta) {
        try {
            Matcher m = Pattern.compile("\"samples_done\"\\s*:\\s*\"?(\\d+)").matcher(Files.readString(meta));
            return m.find() ? Integer.parseInt(m.group(1)) : 0;
        } catch (Exception e) {
            return 0; // not written yet, or being replaced
        }
    }

    /** The demo's planted model (no audio) and a dataset of {@code samples} samples written into a fresh {@code work}, and the model options the commands take. */
    record PlantedRun(org.neuronscope.testkit.PlantedModels.Planted planted, Path data, List<String> modelOptions) {
    }

    private static PlantedRun plantedRun(Path work, int samples) throws Exception {
        deleteTree(work);
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        var planted = org.neuronscope.testkit.PlantedModels.write(org.neuronscope.testkit.PlantedModels.Spec.demo(vocab, false), work.resolve("model"));
        Path data = org.neuronscope.cli.Demo.writeDataset(work, samples);
        List<String> model = List.of("--model", planted.model().toString(), "--mmproj", planted.projector().toString(),
                "--threads", "2", "--ctx", "1024", "--batch", "256", "--image-max-tokens", "16");
        return new PlantedRun(planted, data, model);
    }

    private static String[] with(List<String> args, String... more) {
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    static void deleteTree(Path p) throws Exception {
        if (Files.exists(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(q);
                }
            }
        }
    }

    /**
     * MINER's reference protocol end to end on the planted model (images through mtmd, so the
     * reference attention decodes media chunks into a second sequence): select with the code's
     * attention and stage 4, recorded in the set; then an ablation with the code's per-call minimum.
     */
    @Test
    void minerReferenceProtocolOnThePlantedModel() throws Exception {
        Path work = dir.resolve("planted-miner-reference");
        PlantedRun run = plantedRun(work, 4);
        var planted = run.planted();
        Path data = run.data();
        List<String> model = run.modelOptions();
        Run select = cli(with(concat(List.of("select", "--method", "miner", "--ratio", "0.03", "--stage4", "reference", "--attention", "reference"),
                model), "--dataset", data.toString(), "--out", work.resolve("miner.json").toString()));
        assertEquals(0, select.code(), select.err());
        var set = org.neuronscope.methods.NeuronSet.load(work.resolve("miner.json"));
        assertEquals("reference", set.params().get("attention"));
        assertEquals("reference", set.params().get("stage4"));
        double[] pr = org.neuronscope.cli.Demo.precisionRecall(set, "image", planted.truth(HookPoint.FFN_ACT));
        assertTrue(pr[1] >= 0.9, "the planted image neurons under the code's attention: precision " + pr[0] + " recall " + pr[1]);
        Run ablate = cli(with(concat(List.of("ablate"), model), "--dataset", data.toString(), "--set", work.resolve("miner.json").toString(),
                "--groups", "image", "--mode", "minimum:call", "--max-tokens", "2", "--out", work.resolve("ablate").toString()));
        assertEquals(0, ablate.code(), ablate.err());
        String table = Files.readString(work.resolve("ablate").resolve("table.txt"));
        assertTrue(table.contains("minimum:call"), table);
    }

    /**
     * The commands chained on the planted model, as a user runs them on a real one: stats → select
     * (entropy, MINER mean+max, MANU) → ablate; the selections find the planted image neurons.
     */
    @Test
    void statsSelectAblateOnThePlantedModel() throws Exception {
        Path work = dir.resolve("planted-cli");
        PlantedRun run = plantedRun(work, 6);
        var planted = run.planted();
        Path data = run.data();
        List<String> model = run.modelOptions();
        var truth = planted.truth(HookPoint.FFN_ACT);

        Run stats = cli(with(concat(List.of("stats"), model), "--dataset", data.toString(), "--out", work.resolve("stats").toString()));
        assertEquals(0, stats.code(), stats.err());
        Run lape = cli("select", "--method", "entropy", "--stats", work.resolve("stats").toString(), "--out", work.resolve("lape.json").toString(),
                "--groups", "text,special,image");
        assertEquals(0, lape.code(), lape.err());
        // the default modalities are text, special, image (M = 3): 3 % of the neurons gives each modality the 1 % per layer
        // that covers the planted image set
        Run miner = cli(with(concat(List.of("select", "--method", "miner", "--weights", "mean-max", "--ratio", "0.03"), model),
                "--dataset", data.toString(), "--out", work.resolve("miner.json").toString()));
        assertEquals(0, miner.code(), miner.err());
        Run reference = cli(with(concat(List.of("select", "--method", "miner", "--weights", "mean-max", "--ratio", "0.03",
                "--stage4", "reference"), model), "--dataset", data.toString(), "--out", work.resolve("miner-reference.json").toString()));
        assertEquals(0, reference.code(), reference.err());
        var referenceSet = org.neuronscope.methods.NeuronSet.load(work.resolve("miner-reference.json"));
        int floored = (int) (0.03 * referenceSet.layers() * referenceSet.neurons());
        assertEquals("reference", referenceSet.params().get("stage4"));
        assertEquals(Integer.toString(floored), referenceSet.params().get("budget"));
        assertEquals(floored / 3, referenceSet.size("image"), "K // M with M = 3 (text, special, image)");
        assertTrue(org.neuronscope.cli.Demo.precisionRecall(referenceSet, "image", truth)[1] >= 0.95);
        Run manu = cli("select", "--method", "manu", "--stats", work.resolve("stats").toString(), "--forget", "image", "--retain", "text",
                "--alpha", "0.01", "--out", work.resolve("manu.json").toString());
        assertEquals(0, manu.code(), manu.err());
        Run manuReference = cli("select", "--method", "manu", "--stats", work.resolve("stats").toString(), "--forget", "image", "--retain", "text",
                "--alpha", "0.01", "--cut", "reference", "--out", work.resolve("manu-reference.json").toString());
        assertEquals(0, manuReference.code(), manuReference.err());
        var manuRef = org.neuronscope.methods.NeuronSet.load(work.resolve("manu-reference.json"));
        assertEquals("reference", manuRef.params().get("cut"));
        assertTrue(manuRef.size() >= (int) (0.01 * manuRef.layers() * manuRef.neurons()), "at least k, ties included");
        for (String f : List.of("lape.json", "miner.json")) {
            var set = org.neuronscope.methods.NeuronSet.load(work.resolve(f));
            double[] pr = org.neuronscope.cli.Demo.precisionRecall(set, "image", truth);
            assertTrue(pr[0] >= 0.95 && pr[1] >= 0.95, f + ": precision " + pr[0] + " recall " + pr[1]);
        }
        assertTrue(org.neuronscope.methods.NeuronSet.load(work.resolve("manu.json")).size() > 0);
        for (String png : List.of("lape-layers.png", "miner-layers.png", "manu-layers.png")) {
            assertTrue(javax.imageio.ImageIO.read(work.resolve(png).toFile()).getWidth() > 100, png);
        }

        Run ablate = cli(with(concat(List.of("ablate"), model), "--dataset", data.toString(), "--set", work.resolve("miner.json").toString(),
                "--groups", "image", "--out", work.resolve("ablate").toString()));
        assertEquals(0, ablate.code(), ablate.err());
        String table = Files.readString(work.resolve("ablate").resolve("table.txt"));
        assertTrue(table.contains("logit_change") && table.contains("random deactivate"), table);
        assertTrue(Files.size(work.resolve("ablate").resolve("report").resolve("index.html")) > 500);
        assertTrue(Files.size(work.resolve("ablate").resolve("report").resolve("logit_change.png")) > 500);

        // the same ablation written into the weights (the logits oracle is AblationExportOracleTest)
        Path exported = work.resolve("exported.gguf");
        Run export = cli("export", "--model", planted.model().toString(), "--set", work.resolve("miner.json").toString(),
                "--groups", "image", "--out", exported.toString());
        assertEquals(0, export.code(), export.err());
        assertTrue(export.out().contains("wrote " + exported), export.out());
        try (var f = org.neuronscope.gguf.GgufFile.open(exported)) {
            assertEquals("image", f.getString("neuronscope.export.groups"));
            assertEquals("deactivate", f.getString("neuronscope.export.mode"));
        }
        Run exportMin = cli("export", "--model", planted.model().toString(), "--set", work.resolve("miner.json").toString(),
                "--mode", "minimum", "--out", work.resolve("x.gguf").toString());
        assertEquals(2, exportMin.code());
        assertTrue(exportMin.err().contains("cannot be exported"), exportMin.err());
        Run exportBareScale = cli("export", "--model", planted.model().toString(), "--set", work.resolve("miner.json").toString(),
                "--mode", "scale", "--out", work.resolve("x.gguf").toString());
        assertTrue(exportBareScale.err().contains("scale:<s>"), exportBareScale.err());
        assertFalse(Files.exists(work.resolve("x.gguf")));

        // MINER's "set to the minimum" needs the statistics that observed the minima
        Run noStats = cli(with(concat(List.of("ablate"), model), "--dataset", data.toString(), "--set", work.resolve("miner.json").toString(),
                "--mode", "MINIMUM", "--out", work.resolve("ablate-min").toString()));
        assertEquals(2, noStats.code());
        assertTrue(noStats.err().contains("--mode MINIMUM needs --stats"), noStats.err());
        Run badMode = cli(with(concat(List.of("ablate"), model), "--dataset", data.toString(), "--set", work.resolve("miner.json").toString(),
                "--mode", "HALVE", "--out", work.resolve("ablate-min").toString()));
        assertTrue(badMode.err().contains("--mode must be"), badMode.err());
        Run min = cli(with(concat(List.of("ablate"), model), "--dataset", data.toString(), "--set", work.resolve("miner.json").toString(),
                "--groups", "image", "--mode", "minimum", "--stats", work.resolve("stats").toString(), "--max-tokens", "0",
                "--out", work.resolve("ablate-min").toString()));
        assertEquals(0, min.code(), min.err());
        String minTable = Files.readString(work.resolve("ablate-min").resolve("table.txt"));
        assertTrue(minTable.contains("miner minimum") && minTable.contains("random minimum"), minTable);
    }

    @Test
    void minerWeightListsAndChosenStatistics() throws Exception {
        assertEquals(new org.neuronscope.methods.Miner.Weights(0.2, 0.4, 0.4, 0, 0), SelectCommand.minerWeights("prob=0.2, mean=0.4,max=0.4"));
        assertEquals(org.neuronscope.methods.Miner.Weights.MEAN_MAX, SelectCommand.minerWeights("mean-max"));
        assertEquals(new org.neuronscope.methods.Miner.Weights(0, 0, 0, 0.7, 0.3), SelectCommand.minerWeights("attn_k=0.7,attn_q=0.3"));

        Path small = Files.write(dir.resolve("small.jsonl"), Files.readAllLines(dataset).subList(0, 4));
        Path out = dir.resolve("stats-chosen");
        deleteTree(out);
        Run r = cli("stats", "--model", model.toString(), "--dataset", small.toString(), "--out", out.toString(), "--threads", "2",
                "--ctx", "512", "--statistics", "count,sum");
        assertEquals(0, r.code(), r.err());
        try (var files = Files.list(out.resolve("statistics"))) {
            assertEquals(java.util.Set.of("count.npy", "sum.npy"), files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".npy"))
                    .filter(n -> !n.equals("tokens.npy")).collect(java.util.stream.Collectors.toSet()));
        }
        // the checkpoint was collected with count and sum: resuming it with another set is refused
        Run other = cli("stats", "--model", model.toString(), "--dataset", small.toString(), "--out", out.toString(), "--threads", "2",
                "--ctx", "512", "--statistics", "count,max");
        assertEquals(2, other.code());
        assertTrue(other.err().contains("remove the checkpoint"), other.err());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
