package org.neuronscope.cli;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.PlantedModels;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neuronscope unlearn} on the planted model: what only the planted image neurons produce (their
 * effect on image prompts) is the knowledge to forget; text prompts are what to retain.
 */
class UnlearnCommandTest {
    @Test
    void forgetsWhatThePlantedNeuronsCarryAndKeepsTheRest() throws Exception {
        Path work = Path.of("target", "unlearn-test").toAbsolutePath();
        NeuronScopeCliTest.deleteTree(work);
        Files.createDirectories(work);
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        var planted = PlantedModels.write(PlantedModels.Spec.demo(vocab, false), work.resolve("model"));
        NeuronSet truth = planted.truth(HookPoint.FFN_ACT);
        Path data = Demo.writeDataset(work, 6);
        List<String> lines = Files.readAllLines(data, StandardCharsets.UTF_8);
        Path forget = Files.write(work.resolve("forget.jsonl"), lines.stream().filter(l -> l.contains("\"image\"")).toList());
        Path retain = Files.write(work.resolve("retain.jsonl"), lines.stream().filter(l -> !l.contains("\"image\"")).toList());

        Path out = work.resolve("unlearn");
        // two iterations of half the planted count each: 2 × round(0.005 · 5 · 500) = 2 × 13 ≥ the 25 planted neurons
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int code = NeuronScopeCli.run(new PrintWriter(o, true), new PrintWriter(e, true), "unlearn",
                "--model", planted.model().toString(), "--mmproj", planted.projector().toString(), "--threads", "2", "--ctx", "1024",
                "--batch", "256", "--image-max-tokens", "16", "--forget", forget.toString(), "--retain", retain.toString(),
                "--iterations", "2", "--alpha", "0.005", "--max-tokens", "0", "--out", out.toString());
        assertEquals(0, code, e.toString());

        NeuronSet pruned = NeuronSet.load(out.resolve("pruned-set.json"));
        assertEquals("2", pruned.params().get("iterations"));
        assertEquals("multimodal,unimodal", pruned.params().get("passes"));
        // each iteration cuts α = 13 neurons per pass (with images, and as text alone) and prunes the union, none twice
        int[] per = java.util.Arrays.stream(pruned.params().get("per_iteration").replaceAll("[\\[\\] ]", "").split(","))
                .mapToInt(Integer::parseInt).toArray();
        assertEquals(2, per.length);
        for (int n : per) {
            assertTrue(n >= 13 && n <= 26, pruned.params().get("per_iteration"));
        }
        assertEquals(per[0] + per[1], pruned.size("forget"));
        double[] pr = Demo.precisionRecall(pruned, "forget", renamed(truth));
        assertTrue(pr[1] >= 0.95, "recall of the planted image neurons " + pr[1]);

        // iteration 2 collected with iteration 1's neurons switched off: their activations are exactly 0
        try (NeuronStatistics second = NeuronStatistics.load(out.resolve("iteration-2").resolve("multimodal").resolve("statistics"));
             NeuronStatistics one = NeuronStatistics.load(out.resolve("iteration-1").resolve("multimodal").resolve("statistics"))) {
            int f = second.groupIndex("forget");
            int zeroed = 0;
            for (NeuronSet.Neuron n : pruned.neurons("forget")) {
                if (second.get(Statistic.SUM_ABS, n.layer(), f, n.neuron()) == 0.0) {
                    zeroed++;
                }
            }
            assertTrue(zeroed >= per[0], "the first iteration's neurons were active in iteration 2's statistics: " + zeroed);
            assertTrue(one.tokens(f) > 0 && one.tokens(f) == second.tokens(f), "same prompts in both iterations");
        }

        // the pruned model is a GGUF with the neurons' rows zeroed and the provenance recorded
        try (GgufFile g = GgufFile.open(out.resolve("pruned.gguf"))) {
            assertEquals("manu", g.getString("neuronscope.export.method"));
            NeuronSet.Neuron n = pruned.neurons("forget").getFirst();
            float[] up = g.row("blk." + n.layer() + ".ffn_up.weight", n.neuron());
            for (float v : up) {
                assertEquals(0f, v);
            }
        }

        // the evaluation: image prompts move far more than under a matched random pruning; text prompts stay
        String table = Files.readString(out.resolve("table.txt"));
        List<String> csv = Files.readAllLines(out.resolve("table.csv"));
        double manuForget = value(csv, "manu", "forget", "logit_change");
        double randomForget = value(csv, "random", "forget", "logit_change");
        double manuRetain = value(csv, "manu", "retain", "logit_change");
        assertTrue(manuForget > 5 * randomForget, table);
        assertTrue(manuRetain < 0.1 * manuForget, table);
        assertTrue(Files.size(out.resolve("report").resolve("index.html")) > 500);
    }

    private static NeuronSet renamed(NeuronSet truth) {
        NeuronSet s = new NeuronSet("planted", truth.hookPoint(), truth.layers(), truth.neurons(), truth.params());
        for (NeuronSet.Neuron n : truth.neurons("image")) {
            s.add("forget", n.layer(), n.neuron(), 1);
        }
        return s;
    }

    /** A value of the table's CSV (columns group, metric, run, value, ...). */
    private static double value(List<String> csv, String run, String group, String metric) {
        for (String line : csv.subList(1, csv.size())) {
            String[] f = line.split(",");
            if (f[0].equals(group) && f[1].equals(metric) && f[2].equals(run)) {
                return Double.parseDouble(f[3]);
            }
        }
        throw new AssertionError("no " + run + "/" + group + "/" + metric + " in " + csv);
    }
}
