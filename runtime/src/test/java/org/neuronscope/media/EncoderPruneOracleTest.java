package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.Model;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MANU's pruning of encoder units: {@link Manu#prune(Path, Module, NeuronSet, String, Path)} writes a
 * pruned mmproj (fc1 rows and biases zeroed) that mtmd loads unchanged and that encodes exactly as
 * the in-graph deactivation of the same set ({@link EncoderHooks#apply}); both differ from the
 * unpruned projector.
 */
class EncoderPruneOracleTest {
    private record Case(String name, Path model, Path mmproj, Module module, int[][] neurons) {
    }

    @Test
    void prunedMmprojEncodesAsTheInGraphDeactivation() throws Exception {
        List<Case> cases = List.of(
                new Case("qwen2vl_merger", MultimodalFixtures.visionModel(), MultimodalFixtures.visionProjector(), Module.VISION, new int[][] {{0, 1}, {0, 5}, {0, 33}}),
                new Case("qwen2vl_merger", MultimodalFixtures.visionModel(), MultimodalFixtures.visionProjector(), Module.PROJECTOR, new int[][] {{0, 3}, {0, 40}, {0, 77}}),
                new Case("qwen2.5vl_merger", MultimodalFixtures.visionModel(), MultimodalFixtures.gatedProjector(), Module.VISION, new int[][] {{0, 2}, {1, 5}, {1, 33}}),
                new Case("gemma3", MultimodalFixtures.gemmaModel(), MultimodalFixtures.gemmaProjector(), Module.VISION, new int[][] {{0, 2}, {0, 9}}),
                new Case("qwen2a", MultimodalFixtures.audioModel(), MultimodalFixtures.audioProjector(), Module.AUDIO, new int[][] {{0, 4}, {0, 60}}),
                new Case("omni", MultimodalFixtures.visionModel(), MultimodalFixtures.omniProjector(), Module.AUDIO, new int[][] {{0, 7}, {0, 8}}));
        for (Case c : cases) {
            float[] plain;
            float[] inGraph;
            Media item;
            NeuronSet set;
            try (Model model = Model.load(c.model());
                 Projector projector = Projector.load(model, c.mmproj(), MultimodalFixtures.params())) {
                item = c.module() == Module.AUDIO ? EncoderHooksOracleTest.audio(11, projector.audioSampleRate()) : EncoderHooksOracleTest.image(11);
                plain = projector.encode(item);
                try (EncoderHooks hooks = projector.openHooks(1)) {
                    set = new NeuronSet("manu", HookPoint.FFN_ACT, hooks.layers(c.module()), hooks.width(c.module(), HookPoint.FFN_ACT, 0),
                            Map.of("module", c.module().id()));
                    for (int[] ln : c.neurons()) {
                        set.add("forget", ln[0], ln[1], 1.0);
                    }
                    hooks.apply(c.module(), InterventionMask.of(set, List.of("forget"), new Intervention.Deactivate()), HookPoint.FFN_ACT);
                    inGraph = projector.encode(item);
                }
            }
            Path pruned = MultimodalFixtures.dir().resolve("mmproj-" + c.name() + "-" + c.module().id() + "-pruned.gguf");
            Manu.prune(c.mmproj(), c.module(), set, "forget", pruned);
            try (GgufFile f = GgufFile.open(pruned)) {
                assertEquals(c.module().id(), f.getString("neuronscope.export.module"));
            }
            if (c.name().equals("qwen2.5vl_merger")) {
                assertOnlyTheseRowsZeroed(c.mmproj(), pruned, c.neurons());
            }
            float[] exported;
            try (Model model = Model.load(c.model());
                 Projector projector = Projector.load(model, pruned, MultimodalFixtures.params())) {
                exported = projector.encode(item);
            }
            assertFalse(Arrays.equals(plain, inGraph), c.name() + " " + c.module() + ": the deactivation changes nothing");
            float maxDiff = 0;
            for (int i = 0; i < exported.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(exported[i] - inGraph[i]));
            }
            assertTrue(maxDiff <= 1e-6f, c.name() + " " + c.module() + ": pruned mmproj vs in-graph deactivation differ by " + maxDiff);
        }
    }

    /**
     * The gated file's pruned copy: exactly the set's rows of ffn_gate and ffn_up (and those elements
     * of their biases) are zero, in their layers; every other tensor, row and element is unchanged.
     */
    private static void assertOnlyTheseRowsZeroed(Path original, Path pruned, int[][] neurons) {
        java.util.Set<String> zero = new java.util.HashSet<>();
        for (int[] ln : neurons) {
            for (String t : new String[] {"ffn_gate", "ffn_up"}) {
                zero.add("v.blk." + ln[0] + "." + t + "/" + ln[1]);
            }
        }
        int zeroedRows = 0;
        int zeroedBiases = 0;
        try (GgufFile a = GgufFile.open(original); GgufFile b = GgufFile.open(pruned)) {
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            for (var t : a.tensors().values()) {
                String name = t.name();
                boolean bias = name.endsWith(".bias");
                String base = name.substring(0, name.lastIndexOf('.'));
                for (long r = 0; r < t.rows(); r++) {
                    float[] x = a.row(name, r);
                    float[] y = b.row(name, r);
                    for (int i = 0; i < x.length; i++) {
                        boolean z = zero.contains(base + "/" + (bias ? i : r));
                        if (z) {
                            assertTrue(y[i] == 0f, name + " row " + r + " element " + i + " must be zeroed, is " + y[i]); // a bias times 0 may be -0
                        } else {
                            assertEquals(x[i], y[i], name + " row " + r + " element " + i + " must be unchanged");
                        }
                        if (z && bias) {
                            zeroedBiases++;
                        }
                    }
                    if (!bias && zero.contains(base + "/" + r)) {
                        zeroedRows++;
                    }
                }
            }
        }
        assertEquals(2 * neurons.length, zeroedRows, "gate and up rows zeroed");
        assertEquals(2 * neurons.length, zeroedBiases, "gate and up bias elements zeroed");
    }

    @Test
    void scaledGatedNeuronsExportAsTheInGraphScale() throws Exception {
        // a scale edits the up row only (the gate stays): act(gate·x)·s·(up·x) — AblationExport's rule for gated FFNs
        Path mmproj = MultimodalFixtures.gatedProjector();
        float[] inGraph;
        Media item = EncoderHooksOracleTest.image(12);
        InterventionMask mask;
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, mmproj, MultimodalFixtures.params());
             EncoderHooks hooks = projector.openHooks(1)) {
            NeuronSet set = new NeuronSet("test", HookPoint.FFN_ACT, hooks.layers(Module.VISION), hooks.width(Module.VISION, HookPoint.FFN_ACT, 0),
                    Map.of("module", Module.VISION.id()));
            set.add("g", 0, 7, 1.0);
            set.add("g", 1, 12, 1.0);
            mask = InterventionMask.of(set, List.of("g"), new Intervention.Scale(0.5f));
            hooks.apply(Module.VISION, mask, HookPoint.FFN_ACT);
            inGraph = projector.encode(item);
        }
        Path scaled = MultimodalFixtures.dir().resolve("mmproj-qwen2.5vl_merger-vision-scaled.gguf");
        var summary = org.neuronscope.methods.AblationExport.write(mmproj, Module.VISION, mask, scaled, Map.of("mode", "scale:0.5"));
        assertEquals(java.util.Set.of("v.blk.0.ffn_up.weight", "v.blk.0.ffn_up.bias", "v.blk.1.ffn_up.weight", "v.blk.1.ffn_up.bias"),
                new java.util.HashSet<>(summary.editedTensors()), "a scale edits the up rows (and biases), never the gate");
        float[] exported;
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, scaled, MultimodalFixtures.params())) {
            exported = projector.encode(item);
        }
        float maxDiff = 0;
        for (int i = 0; i < exported.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(exported[i] - inGraph[i]));
        }
        assertTrue(maxDiff <= 1e-5f, "scaled export vs in-graph scale differ by " + maxDiff);
    }
}
