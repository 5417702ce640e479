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
}
