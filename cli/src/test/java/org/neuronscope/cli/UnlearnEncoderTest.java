package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.neuronscope.Module;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.UnlearnExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.testkit.PlantedModels;
import org.neuronscope.testkit.SyntheticMedia;
import picocli.CommandLine;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code unlearn --mmproj}: the vision encoder's units are scored and pruned with the language model's
 * on a synthetic Qwen2-VL pair. Oracles: the written mmproj has exactly the set's fc1 rows and biases
 * zeroed, and the pruned pair (pruned.gguf + pruned-mmproj.gguf, loaded as files, no hooks) scores the
 * answers as the "manu" row of the evaluation, which applies both cuts in the graph.
 */
class UnlearnEncoderTest {
    @Test
    void prunesTheVisionEncoderAndThePrunedPairScoresAsTheEvaluation() throws Exception {
        Path work = Path.of("target", "unlearn-encoder-test").toAbsolutePath();
        NeuronScopeCliTest.deleteTree(work);
        Files.createDirectories(work);
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        var planted = PlantedModels.write(PlantedModels.Spec.demo(vocab, false), work.resolve("model"));
        ObjectMapper json = new ObjectMapper();
        StringBuilder forget = new StringBuilder(), retain = new StringBuilder(), both = new StringBuilder();
        String[] answers = {"a red square", "two circles", "the night sky", "a small boat", "green hills", "a white cat"};
        for (int i = 0; i < 6; i++) {
            String image = "images/img-" + i + ".png";
            SyntheticMedia.writePng(work.resolve(image), 56 + 16 * (i % 3), 64, 1000 + 37 * i);
            ObjectNode s = json.createObjectNode().put("id", "q" + i).put("question", "What is in the picture?").put("image", image);
            s.putArray("answers").add(answers[i]);
            (i < 3 ? forget : retain).append(json.writeValueAsString(s)).append('\n');
            s.putObject("labels").put("split", i < 3 ? "forget" : "retain");
            both.append(json.writeValueAsString(s)).append('\n');
        }
        Path f = Files.writeString(work.resolve("forget.jsonl"), forget, StandardCharsets.UTF_8);
        Path r = Files.writeString(work.resolve("retain.jsonl"), retain, StandardCharsets.UTF_8);
        Path labelled = Files.writeString(work.resolve("both.jsonl"), both, StandardCharsets.UTF_8);

        ModelOptions mo = new ModelOptions();
        new CommandLine(mo).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--model", planted.model().toString(), "--mmproj",
                planted.projector().toString(), "--threads", "2", "--ctx", "1024", "--batch", "256", "--image-max-tokens", "16");
        Path out = work.resolve("unlearn");
        UnlearnExperiment.Result result;
        Workbench.Setup setup = mo.setup();
        try (Workbench wb = Workbench.open(setup)) {
            result = UnlearnExperiment.run(wb, Dataset.load(f), Dataset.load(r),
                    new UnlearnExperiment.Params(org.neuronscope.methods.Manu.Params.DEFAULTS, 1, true, true, true, 0, 2024).withEncoder(Module.VISION),
                    out, Progress.Listener.NONE);
        }
        NeuronSet enc = result.prunedEncoder();
        assertEquals(Module.VISION, enc.module());
        assertEquals(Math.round(0.02 * enc.layers() * enc.neurons()), enc.size("forget"), "the exact cut over the encoder's units");
        assertEquals(enc.describe("forget"), NeuronSet.load(out.resolve("pruned-vision-set.json")).describe("forget"));

        // the projector: the set's fc1 rows and biases zeroed, every other row copied
        int zeroed = 0;
        try (GgufFile src = GgufFile.open(planted.projector()); GgufFile g = GgufFile.open(result.prunedProjector())) {
            for (int l = 0; l < enc.layers(); l++) {
                String up = "v.blk." + l + ".ffn_up.weight";
                float[] bias = g.containsTensor("v.blk." + l + ".ffn_up.bias") ? g.row("v.blk." + l + ".ffn_up.bias", 0) : null;
                for (int n = 0; n < enc.neurons(); n++) {
                    boolean off = enc.contains("forget", l, n);
                    float[] got = g.row(up, n);
                    float[] was = src.row(up, n);
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(off ? 0f : was[i], got[i], 0f, up + " row " + n);
                    }
                    if (off && bias != null) {
                        assertEquals(0f, bias[n], 0f);
                    }
                    zeroed += off ? 1 : 0;
                }
            }
        }
        assertEquals(enc.size("forget"), zeroed);

        // the pruned pair as files, evaluated without any set: the "manu" row's figures
        MetricTable t = result.table();
        Workbench.Setup pair = new Workbench.Setup(result.prunedModel(), setup.loading(), result.prunedProjector(), setup.session(), setup.media(),
                setup.format());
        MetricTable files;
        try (Workbench wb = Workbench.open(pair)) {
            files = AblationExperiment.run(wb, Dataset.load(labelled), List.of(), s -> s.label("split"), 0, Progress.Listener.NONE);
        }
        for (String g : List.of("forget", "retain")) {
            double inGraph = t.value("manu", g, "answer_nll"), byFiles = files.value("none", g, "answer_nll");
            assertEquals(inGraph, byFiles, 1e-4, g + ": the pruned pair scores as the in-graph cut");
            org.slf4j.LoggerFactory.getLogger(UnlearnEncoderTest.class).info("{}: answer_nll before {}, manu {} (pruned pair {}), random {}", g,
                    t.value("none", g, "answer_nll"), inGraph, byFiles, t.value("random", g, "answer_nll"));
        }
        assertTrue(Math.abs(t.value("manu", "forget", "answer_nll") - t.value("none", "forget", "answer_nll")) > 1e-3,
                "the cut changed the forget answers' likelihood");
    }
}
