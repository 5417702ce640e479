package org.neuronscope.cli;

import org.neuronscope.Module;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticMedia;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.SyntheticProjectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code stats --module vision}: encoder statistics by label, selected by {@code select} into a set that names its module. */
class EncoderModuleCommandTest {
    @Test
    void statsOfTheVisionEncoderByLabelAndTheirSelection(@TempDir Path dir) throws Exception {
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        Path model = SyntheticModels.write(ModelSpec.tiny("qwen2vl", vocab), dir.resolve("qwen2vl.gguf"));
        Path mmproj = SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), dir.resolve("mmproj.gguf"));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String img = "img-" + i + ".png";
            SyntheticMedia.writePng(dir.resolve(img), 56, 56, 50 + i);
            lines.add("{\"id\": \"s" + i + "\", \"question\": \"What is shown?\", \"image\": \"" + img + "\", \"labels\": {\"domain\": \""
                    + (i % 2 == 0 ? "charts" : "photos") + "\"}}");
        }
        Path data = Files.write(dir.resolve("data.jsonl"), lines);
        List<String> common = List.of("--model", model.toString(), "--mmproj", mmproj.toString(), "--threads", "2", "--image-max-tokens", "16");

        List<String> args = new ArrayList<>(List.of("stats"));
        args.addAll(common);
        args.addAll(List.of("--dataset", data.toString(), "--out", dir.resolve("st").toString(), "--module", "vision", "--group-by", "label:domain"));
        NeuronScopeCliTest.Run stats = NeuronScopeCliTest.cli(args.toArray(String[]::new));
        assertEquals(0, stats.code(), stats.err());
        assertTrue(stats.out().contains("vision.ffn.act"), stats.out());
        try (NeuronStatistics s = NeuronStatistics.load(dir.resolve("st").resolve("statistics"))) {
            assertEquals(Module.VISION, s.module());
            assertEquals(List.of("charts", "photos"), s.groups());
            assertTrue(s.tokens(0) > 0 && s.tokens(1) > 0);
        }
        NeuronScopeCliTest.Run select = NeuronScopeCliTest.cli("select", "--method", "entropy", "--stats", dir.resolve("st").toString(),
                "--out", dir.resolve("set.json").toString());
        assertEquals(0, select.code(), select.err());
        NeuronSet chosen = NeuronSet.load(dir.resolve("set.json"));
        assertEquals(Module.VISION, chosen.module());
        // the report's per-module table: the module's neurons per layer and group, counted again from the set
        assertTrue(select.out().contains("vision.ffn.act (vision module, lape): neurons per layer"), select.out());
        List<String> csv = Files.readAllLines(dir.resolve("set-layers.csv"));
        assertEquals("module,hook_point,layer,group,neurons", csv.getFirst());
        for (String g : chosen.groupNames()) {
            for (int l = 0; l < chosen.layers(); l++) {
                assertTrue(csv.contains("vision,ffn.act," + l + "," + g + "," + chosen.neurons(g, l).length), g + " " + l + " " + csv);
            }
        }
        assertTrue(csv.contains("vision,ffn.act,0,union," + chosen.union(chosen.groupNames()).cardinality()), csv.toString());

        // ablate applies a vision set at encode time (and its matched random set)
        List<String> ablate = new ArrayList<>(List.of("ablate"));
        ablate.addAll(common);
        ablate.addAll(List.of("--dataset", data.toString(), "--set", dir.resolve("set.json").toString(), "--group-by", "label:domain",
                "--max-tokens", "0", "--out", dir.resolve("ablate").toString()));
        NeuronScopeCliTest.Run ab = NeuronScopeCliTest.cli(ablate.toArray(String[]::new));
        assertEquals(0, ab.code(), ab.err());
        assertTrue(Files.exists(dir.resolve("ablate").resolve("table.csv")), ab.out());

        // the vision layers' outputs (resid.post, n_embd wide) are collected the same way; the projector's MLP has none
        List<String> resid = new ArrayList<>(args);
        resid.set(resid.indexOf(dir.resolve("st").toString()), dir.resolve("st-resid").toString());
        resid.addAll(List.of("--hook", "resid.post"));
        NeuronScopeCliTest.Run residStats = NeuronScopeCliTest.cli(resid.toArray(String[]::new));
        assertEquals(0, residStats.code(), residStats.err());
        assertTrue(residStats.out().contains("vision.resid.post"), residStats.out());
        try (NeuronStatistics s = NeuronStatistics.load(dir.resolve("st-resid").resolve("statistics"));
             NeuronStatistics ffn = NeuronStatistics.load(dir.resolve("st").resolve("statistics"))) {
            assertEquals(org.neuronscope.HookPoint.RESID_POST, s.hookPoint());
            assertEquals(Module.VISION, s.module());
            assertEquals(32, s.neurons(), "the vision tower's n_embd");
            assertEquals(ffn.tokens(0), s.tokens(0), "the same patches");
        }
        resid.set(resid.indexOf("vision"), "projector");
        NeuronScopeCliTest.Run projectorResid = NeuronScopeCliTest.cli(resid.toArray(String[]::new));
        assertNotEquals(0, projectorResid.code());
        assertTrue(projectorResid.err().contains("the projector module has ffn.pre, ffn.act, ffn.post"), projectorResid.err());

        // refused before any work: no label grouping, no projector, an unknown module
        List<String> bad = new ArrayList<>(List.of("stats", "--model", model.toString(), "--dataset", data.toString(), "--out",
                dir.resolve("bad").toString(), "--module", "vision", "--group-by", "label:domain"));
        NeuronScopeCliTest.Run noProjector = NeuronScopeCliTest.cli(bad.toArray(String[]::new));
        assertNotEquals(0, noProjector.code());
        assertTrue(noProjector.err().contains("--mmproj"), noProjector.err());
        args.set(args.indexOf("label:domain"), "modality");
        NeuronScopeCliTest.Run noLabel = NeuronScopeCliTest.cli(args.toArray(String[]::new));
        assertNotEquals(0, noLabel.code());
        assertTrue(noLabel.err().contains("label:<name>"), noLabel.err());
        args.set(args.indexOf("vision"), "retina");
        NeuronScopeCliTest.Run unknown = NeuronScopeCliTest.cli(args.toArray(String[]::new));
        assertNotEquals(0, unknown.code());
        assertTrue(unknown.err().contains("unknown module"), unknown.err());
    }
}
