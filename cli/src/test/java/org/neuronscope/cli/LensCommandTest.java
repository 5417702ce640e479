package org.neuronscope.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.collect.LensCollector.Positions;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.LensExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.hooks.LensSpec;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neuronscope lens}: its outputs (rows, group means, report) and their consistency (the
 * in-graph group means equal the means of the per-token rows of each group); a run interrupted after
 * its checkpoint and resumed equals an uninterrupted one; bad input is a clear error.
 */
class LensCommandTest {
    static Path dir;
    static Path model;
    static Path dataset;

    @BeforeAll
    static void fixtures() throws Exception {
        dir = Path.of("target", "lens-cli-test").toAbsolutePath();
        Files.createDirectories(dir);
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        model = SyntheticModels.write(ModelSpec.tiny("qwen2", vocab), dir.resolve("tiny-qwen2.gguf"));
        StringBuilder lines = new StringBuilder();
        String[] langs = {"en", "fr"};
        for (int i = 0; i < 10; i++) {
            lines.append(String.format("{\"id\": \"s%d\", \"prompt\": \"Sample %d: the number %d.\", \"language\": \"%s\"}%n", i, i, i * 7, langs[i % 2]));
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

    private String[] common(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("lens", "--model", model.toString(), "--dataset", dataset.toString(), "--out",
                out.toString(), "--threads", "1", "--ctx", "256", "--batch", "64", "--group-by", "label:language"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void writesRowsGroupMeansAndAReport() throws Exception {
        Path out = dir.resolve("all");
        deleteTree(out);
        Run r = cli(common(out, "--top-k", "5", "--target", "42"));
        assertEquals(0, r.code(), r.err());
        Path lens = out.resolve("lens");
        JsonNode meta = new ObjectMapper().readTree(lens.resolve("lens.json").toFile());
        assertEquals(10, meta.path("samples_done").asInt());
        assertEquals(5, meta.path("top_k").asInt());
        LensExperiment.Result res = LensExperiment.read(lens);
        assertEquals(3, res.layers().length);
        // every (sample, layer, entry): the rows of a sample cover its entries at every layer
        long[] perSample = new long[10];
        for (long s : res.rowSample()) {
            perSample[(int) s]++;
        }
        for (long n : perSample) {
            assertTrue(n > 0 && n % 3 == 0, "rows per sample " + n);
        }
        // the in-graph group means against the per-token rows: one group per sample (its language)
        for (int layer = 0; layer < 3; layer++) {
            for (int g = 0; g < 2; g++) {
                double sum = 0, tsum = 0;
                int n = 0;
                for (int i = 0; i < res.rows(); i++) {
                    if (res.rowLayer()[i] == layer && res.rowSample()[i] % 2 == g) {
                        sum += res.rowEntropy()[i];
                        tsum += res.rowTarget()[i];
                        n++;
                    }
                }
                int gi = res.groups().indexOf(g == 0 ? "en" : "fr");
                assertEquals(n, res.groupWeight()[layer][gi], 1e-9);
                assertEquals(sum / n, res.groupMeanEntropy(layer, gi), 1e-4, "layer " + layer + " group " + g);
                assertEquals(tsum / n, res.groupMeanTarget(layer, gi), 1e-5, "layer " + layer + " group " + g);
            }
        }
        assertTrue(Files.size(lens.resolve("report.html")) > 0);
        assertTrue(Files.isRegularFile(lens.resolve("lens-entropy-heatmap.png")));
        assertTrue(Files.isRegularFile(lens.resolve("lens-group-entropy.png")));
        for (String f : List.of("rows_sample.npy", "rows_top_ids.npy", "rows_top_probs.npy", "group_mean_entropy.npy")) {
            assertTrue(Files.isRegularFile(lens.resolve(f)), f);
        }

        // the last entry only, one layer
        Path last = dir.resolve("last");
        deleteTree(last);
        Run l = cli(common(last, "--positions", "last", "--layers", "1"));
        assertEquals(0, l.code(), l.err());
        LensExperiment.Result lr = LensExperiment.read(last.resolve("lens"));
        assertEquals(10, lr.rows(), "one row per sample");
        for (int i = 0; i < lr.rows(); i++) {
            assertEquals(1, lr.rowLayer()[i]);
            // the same (sample, layer, entry) in the all-positions run has the same entropy
            for (int j = 0; j < res.rows(); j++) {
                if (res.rowSample()[j] == lr.rowSample()[i] && res.rowLayer()[j] == 1 && res.rowEntry()[j] == lr.rowEntry()[i]) {
                    assertEquals(res.rowEntropy()[j], lr.rowEntropy()[i], 1e-5);
                }
            }
        }
    }

    @Test
    void interruptedAndResumedEqualsUninterrupted() throws Exception {
        Dataset data = Dataset.load(dataset);
        LabelGrouping g = new LabelGrouping("language", data.labelValues("language"), false);
        LensExperiment.Params p = new LensExperiment.Params(LensSpec.DEFAULT.withTopK(3), Positions.ALL, null, 3);
        Path whole = dir.resolve("resume-whole");
        Path cut = dir.resolve("resume-cut");
        deleteTree(whole);
        deleteTree(cut);
        org.neuronscope.experiments.ModelOptions mo = new org.neuronscope.experiments.ModelOptions();
        new picocli.CommandLine(mo).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--model", model.toString(), "--threads", "1", "--ctx", "256", "--batch", "64");
        try (Workbench wb = Workbench.open(mo.setup())) {
            LensExperiment.Result a = LensExperiment.run(wb, data, g, p, whole, Progress.Listener.NONE);
            // "crash" after the 5th sample: the checkpoint after the 3rd remains
            Progress.Listener crash = (task, done, total, rate, eta) -> {
                if (done == 5) {
                    throw new IllegalStateException("simulated crash");
                }
            };
            assertThrows(IllegalStateException.class, () -> LensExperiment.run(wb, data, g, p, cut, crash));
            assertEquals(3, new ObjectMapper().readTree(cut.resolve("lens").resolve("lens.json").toFile()).path("samples_done").asInt());
            LensExperiment.Result b = LensExperiment.run(wb, data, g, p, cut, Progress.Listener.NONE);
            assertArrayEquals(a.rowSample(), b.rowSample());
            assertArrayEquals(a.rowEntry(), b.rowEntry());
            assertArrayEquals(a.rowIds(), b.rowIds());
            assertArrayEquals(a.rowEntropy(), b.rowEntropy());
            for (String f : List.of("rows_entropy.npy", "rows_top_probs.npy", "group_entropy_sum.npy", "group_weight.npy")) {
                assertArrayEquals(Files.readAllBytes(whole.resolve("lens").resolve(f)), Files.readAllBytes(cut.resolve("lens").resolve(f)), f);
            }
            // another configuration in the same directory is refused
            LensExperiment.Params other = new LensExperiment.Params(LensSpec.DEFAULT.withTopK(4), Positions.ALL, null, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LensExperiment.run(wb, data, g, other, cut, Progress.Listener.NONE));
            assertTrue(e.getMessage().contains("another output directory"), e.getMessage());
        }
    }

    @Test
    void badInputIsAClearError() {
        Path out = dir.resolve("bad");
        Run layer = cli(common(out, "--layers", "3"));
        assertEquals(2, layer.code());
        assertTrue(layer.err().contains("layer 3 is out of range"), layer.err());
        Run layers = cli(common(out, "--layers", "two"));
        assertTrue(layers.err().contains("--layers must be"), layers.err());
        Run pos = cli(common(out, "--positions", "middle"));
        assertTrue(pos.err().contains("--positions must be"), pos.err());
        Run group = cli(common(out, "--positions", "group:de"));
        assertTrue(group.err().contains("no token group 'de'"), group.err());
        Run empty = cli("lens", "--model", model.toString(), "--dataset", dataset.toString(), "--out", out.toString(), "--threads", "1",
                "--ctx", "256", "--batch", "64", "--positions", "group:image");
        assertEquals(2, empty.code());
        assertTrue(empty.err().contains("sample s0") && empty.err().contains("no entry in group"), empty.err());
        Run target = cli(common(out, "--target", "99999999"));
        assertTrue(target.err().contains("target token 99999999"), target.err());
    }

    private static void deleteTree(Path p) throws Exception {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
