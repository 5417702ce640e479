package org.neuronscope.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Sample;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.model.Model;
import org.neuronscope.probe.RandomInitModel;
import org.neuronscope.probe.Representations;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.PlantedProbeModels;
import org.neuronscope.testkit.SyntheticModels;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neuronscope probe} on the planted probe model (the class readable from the last token from
 * layer 3 on): the table and files, a rerun on the saved representations giving the same numbers,
 * and bad input named before anything is decoded.
 */
class ProbeCommandTest {
    static final String[] WORDS = {"cat", "dog"};
    static Path dir;
    static Path model;
    static Path dataset;

    @BeforeAll
    static void fixtures() throws Exception {
        dir = Path.of("target", "probe-cli-test").toAbsolutePath();
        if (Files.exists(dir)) { // a fresh directory: a finished earlier run would be read back instead of collected
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(dir);
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-llama-spm.gguf").toAbsolutePath().normalize();
        Path tiny = SyntheticModels.write(ModelSpec.tiny("llama", vocab), dir.resolve("tiny-llama.gguf"));
        int[] tokens = new int[2];
        try (Model m = Model.load(tiny)) {
            for (int i = 0; i < 2; i++) {
                int[] t = m.tokenizer().tokenize("a " + WORDS[i], false, false);
                tokens[i] = t[t.length - 1];
            }
        }
        model = PlantedProbeModels.write(PlantedProbeModels.Spec.tiny(vocab, 3, tokens), dir);
        dataset = jsonl(dir.resolve("planted.jsonl"), PlantedProbeModels.samples(100, 3, WORDS, false));
    }

    static Path jsonl(Path file, List<Sample> samples) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (Sample s : samples) {
            sb.append(String.format("{\"id\": \"%s\", \"prompt\": \"%s\", \"labels\": {\"class\": \"%s\"}}%n", s.id(), s.prompt(), s.label("class")));
        }
        return Files.writeString(file, sb, StandardCharsets.UTF_8);
    }

    record Run(int code, String out, String err) {
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = NeuronScopeCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    static String[] common(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("probe", "--model", model.toString(), "--dataset", dataset.toString(), "--label", "class",
                "--out", out.toString(), "--chat-template", "raw", "--threads", "2", "--ctx", "256", "--batch", "64"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void probesByLayerAndRerunsOnSavedRepresentations() throws Exception {
        Path out = dir.resolve("run");
        Run r = cli(common(out, "--pooling", "last,mean", "--parallel", "2", "--checkpoint-every", "20", "--control", "random-init"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("random-init copy of the model") && r.out().contains("trained against random-init (last, accuracy)"), r.out());
        assertTrue(r.out().contains("probe logistic on class (last)"), r.out());
        assertTrue(r.err().contains("probe: representations"), "a progress bar: " + r.err());
        List<String> csv = Files.readAllLines(out.resolve("probe-last").resolve("probe.csv"));
        assertEquals(7, csv.size());
        for (int l = 0; l < 6; l++) {
            double score = Double.parseDouble(csv.get(l + 1).split(",")[2]);
            assertTrue(l < 3 ? score < 0.7 : score > 0.97, "layer " + l + ": " + score);
        }
        assertTrue(Files.exists(out.resolve("probe-mean").resolve("report").resolve("index.html")));
        assertTrue(Files.exists(out.resolve("representations").resolve("last.npy")));
        // the same probe on the saved representations, without a model: the same numbers
        Path again = dir.resolve("again");
        Run r2 = cli("probe", "--representations", out.resolve("representations").toString(), "--label", "class", "--out", again.toString(),
                "--layers", "2-4");
        assertEquals(0, r2.code(), r2.err());
        List<String> csv2 = Files.readAllLines(again.resolve("probe-last").resolve("probe.csv"));
        assertEquals(List.of(csv.get(0), csv.get(3), csv.get(4), csv.get(5)), csv2);
        // the random-init control: the same probe on a copy of the model with N(0, 0.02²) weights, compared per layer
        for (String p : List.of("last", "mean")) {
            List<String> trained = Files.readAllLines(out.resolve("probe-" + p).resolve("probe.csv"));
            List<String> random = Files.readAllLines(out.resolve("random-init").resolve("probe-" + p).resolve("probe.csv"));
            List<String> both = Files.readAllLines(out.resolve("probe-" + p).resolve("random-init.csv"));
            assertEquals(7, both.size());
            for (int l = 0; l < 6; l++) {
                String[] f = both.get(l + 1).split(",");
                assertEquals(Double.parseDouble(trained.get(l + 1).split(",")[2]), Double.parseDouble(f[1]), p + " layer " + l + ": trained");
                assertEquals(Double.parseDouble(random.get(l + 1).split(",")[2]), Double.parseDouble(f[2]), p + " layer " + l + ": random-init");
            }
        }
        // random embeddings of the two class words stay apart: mean pooling reads them at layer 0 of the
        // untrained model too (what the control is for), while the trained model's last-token reading from layer 3 on is its own
        Representations rnd = Representations.read(out.resolve("random-init").resolve("representations"));
        Representations trn = Representations.read(out.resolve("representations"));
        assertFalse(Arrays.equals(rnd.layer("last", 4)[0], trn.layer("last", 4)[0]), "the random-init model's representations are its own");
        double rndMean0 = Double.parseDouble(Files.readAllLines(out.resolve("random-init").resolve("probe-mean").resolve("probe.csv")).get(1).split(",")[2]);
        assertTrue(rndMean0 > 0.9, "random-init, mean pooling, layer 0: " + rndMean0);
        try (GgufFile g = GgufFile.open(out.resolve("random-init").resolve("model.gguf"))) {
            assertEquals("0", g.getString(RandomInitModel.SEED_KEY));
        }
        // a rerun reuses the copy and the collected representations
        List<String> before = Files.readAllLines(out.resolve("probe-last").resolve("random-init.csv"));
        Run again2 = cli(common(out, "--pooling", "last,mean", "--control", "random-init"));
        assertEquals(0, again2.code(), again2.err());
        assertFalse(again2.out().contains("random-init copy of the model"), again2.out());
        assertEquals(before, Files.readAllLines(out.resolve("probe-last").resolve("random-init.csv")));
        Run otherSeed = cli(common(out, "--pooling", "last,mean", "--control", "random-init", "--control-seed", "3"));
        assertEquals(2, otherSeed.code());
        assertTrue(otherSeed.err().contains("another seed or std"), otherSeed.err());
        Run noModel = cli("probe", "--representations", out.resolve("representations").toString(), "--label", "class", "--out",
                dir.resolve("nm").toString(), "--control", "random-init");
        assertEquals(2, noModel.code());
        assertTrue(noModel.err().contains("--control random-init needs --model and --dataset"), noModel.err());
        // the multinomial probe on the saved representations: named in the table and probe.json, chance below k, ~1 from k
        Path multi = dir.resolve("multi");
        Run r3 = cli("probe", "--representations", out.resolve("representations").toString(), "--label", "class", "--out", multi.toString(),
                "--probe", "multinomial");
        assertEquals(0, r3.code(), r3.err());
        assertTrue(r3.out().contains("probe multinomial on class (last)") && r3.out().contains("opennlp maxent QN (multinomial)"), r3.out());
        assertTrue(Files.readString(multi.resolve("probe-last").resolve("probe.json")).contains("\"solver\" : \"opennlp maxent QN (multinomial)\""));
        List<String> csv3 = Files.readAllLines(multi.resolve("probe-last").resolve("probe.csv"));
        for (int l = 0; l < 6; l++) {
            double score = Double.parseDouble(csv3.get(l + 1).split(",")[2]);
            assertTrue(l < 3 ? score < 0.7 : score > 0.97, "multinomial, layer " + l + ": " + score);
        }
        assertTrue(!r3.err().contains("opennlp"), "OpenNLP's per-fit messages stay below the command's log level: " + r3.err());
        // mean pooling sees the class token itself from layer 0 on
        double mean0 = Double.parseDouble(Files.readAllLines(out.resolve("probe-mean").resolve("probe.csv")).get(1).split(",")[2]);
        assertTrue(mean0 > 0.97, "mean pooling, layer 0: " + mean0);
    }

    @Test
    void badInputIsNamedBeforeDecoding() throws Exception {
        Run layer = cli(common(dir.resolve("bad1"), "--layers", "9"));
        assertEquals(2, layer.code());
        assertTrue(layer.err().contains("layer 9 is out of range [0, 6)"), layer.err());
        Path oneClass = jsonl(dir.resolve("one.jsonl"), PlantedProbeModels.samples(10, 3, new String[] {"cat", "cat"}, false));
        Run one = cli("probe", "--model", model.toString(), "--dataset", oneClass.toString(), "--label", "class", "--out", dir.resolve("bad2").toString());
        assertEquals(2, one.code());
        assertTrue(one.err().contains("label 'class' has a single class ('cat')"), one.err());
        Run image = cli(common(dir.resolve("bad3"), "--pooling", "mean:image"));
        assertEquals(2, image.code());
        assertTrue(image.err().contains("sample p0 has no image tokens for pooling mean:image"), image.err());
        Run label = cli(replaceLabel(common(dir.resolve("bad4")), "colour"));
        assertEquals(2, label.code());
        assertTrue(label.err().contains("sample p0 has no label 'colour' (it has [class])"), label.err());
        Run pooling = cli(common(dir.resolve("bad5"), "--pooling", "first"));
        assertEquals(2, pooling.code());
        assertTrue(pooling.err().contains("unknown pooling 'first'"), pooling.err());
        Run folds = cli(common(dir.resolve("bad6"), "--folds", "60"));
        assertEquals(2, folds.code());
        assertTrue(folds.err().contains("fewer than the 60 folds"), folds.err());
        for (String d : List.of("bad1", "bad2", "bad3", "bad4", "bad5", "bad6")) {
            assertTrue(!Files.exists(dir.resolve(d).resolve("representations")), d + ": nothing was collected");
        }
        assertTrue(cli("probe", "--help").out().contains("--pooling"));
    }

    static String[] replaceLabel(String[] args, String label) {
        String[] a = args.clone();
        for (int i = 0; i < a.length - 1; i++) {
            if (a[i].equals("--label")) {
                a[i + 1] = label;
            }
        }
        return a;
    }
}
