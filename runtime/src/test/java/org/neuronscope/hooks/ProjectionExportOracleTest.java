package org.neuronscope.hooks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgmlType;
import org.neuronscope.methods.AblationExport;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Masks at ffn.up and ffn.down (the up_proj and down_proj output units MANU's code scores): the
 * in-graph mask, and the same mask written into rows of ffn_up / ffn_down by {@link AblationExport},
 * give the same logits when stock llama.cpp runs the exported model without hooks.
 */
class ProjectionExportOracleTest {
    private static final int TOKENS = 24;

    static List<String> architectures() {
        return SyntheticFixtures.ARCHITECTURES;
    }

    /** Units deactivated, damped (0.5) and amplified (2.5) in three layers. */
    private static InterventionMask mixed(int layers, int width) {
        float[][] scale = new float[layers][width];
        for (float[] r : scale) {
            java.util.Arrays.fill(r, 1f);
        }
        scale[0][3] = 0f;
        scale[0][width - 1] = 0f;
        scale[0][width / 2] = 0.5f;
        scale[1][7] = 0f;
        scale[layers - 1][5] = 2.5f;
        scale[layers - 1][width / 3] = 2.5f;
        return InterventionMask.of(scale, new float[layers][width]);
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void upAndDownMasksExportExactly(String arch, @TempDir Path tmp) {
        for (HookPoint point : new HookPoint[] {HookPoint.FFN_UP, HookPoint.FFN_DOWN}) {
            check(SyntheticFixtures.tiny(arch), tmp, point, false, 1e-4);
        }
    }

    @Test
    void quantisedModel(@TempDir Path tmp) {
        Path q8 = SyntheticFixtures.model("export-q8", ModelSpec.builder("llama", SyntheticFixtures.vocabFor("llama"))
                .weightType(GgmlType.Q8_0).build());
        // zeroed rows are exact in Q8_0; scaled ones re-quantise (see AblationExportOracleTest)
        check(q8, tmp, HookPoint.FFN_DOWN, true, 1e-4);
        check(q8, tmp, HookPoint.FFN_UP, true, 1e-4);
        check(q8, tmp, HookPoint.FFN_DOWN, false, -0.05);
    }

    @Test
    void aConstantNeedsABias(@TempDir Path tmp) {
        Path model = SyntheticFixtures.tiny("llama");
        try (Model m = Model.load(model); Session session = m.newSession(AblationExportOracleTest.params())) {
            int layers = m.layerCount();
            int width = session.hooks().width(HookPoint.FFN_DOWN, 0);
            float[][] scale = new float[layers][width];
            float[][] shift = new float[layers][width];
            for (float[] r : scale) {
                java.util.Arrays.fill(r, 1f);
            }
            scale[1][2] = 0f;
            shift[1][2] = 0.75f; // set:0.75 at ffn.down: row 2 zeroed, bias 2 = 0.75 — but llama has no ffn_down.bias
            InterventionMask set = InterventionMask.of(scale, shift);
            String msg = assertThrows(IllegalArgumentException.class,
                    () -> AblationExport.write(model, HookPoint.FFN_DOWN, set, tmp.resolve("set.gguf"), Map.of())).getMessage();
            assertTrue(msg.contains("blk.1.ffn_down.bias"), msg);
            // at ffn.act a constant has no weight edit at all
            int ff = session.hooks().width(HookPoint.FFN_ACT, 0);
            float[][] s2 = new float[layers][ff];
            float[][] c2 = new float[layers][ff];
            for (float[] r : s2) {
                java.util.Arrays.fill(r, 1f);
            }
            s2[0][1] = 0f;
            c2[0][1] = -0.27846f;
            msg = assertThrows(IllegalArgumentException.class, () -> AblationExport.write(model, HookPoint.FFN_ACT, InterventionMask.of(s2, c2),
                    tmp.resolve("act.gguf"), Map.of())).getMessage();
            assertTrue(msg.contains("no weight edit"), msg);
            assertTrue(!java.nio.file.Files.exists(tmp.resolve("set.gguf")) && !java.nio.file.Files.exists(tmp.resolve("act.gguf")), "nothing written");
        }
    }

    /** A negative tolerance is relative to the largest logit change the mask makes. */
    private static void check(Path original, Path tmp, HookPoint point, boolean deactivateOnly, double tolerance) {
        SplittableRandom rng = new SplittableRandom(11);
        float[] inGraph;
        float[] plain;
        int[] tokens;
        Path exported = tmp.resolve("exported-" + point.id() + "-" + original.getFileName());
        try (Model model = Model.load(original); Session session = model.newSession(AblationExportOracleTest.params()); HookScope hooks = session.hooks().openScope()) {
            tokens = new int[TOKENS];
            for (int i = 0; i < TOKENS; i++) {
                tokens[i] = 100 + rng.nextInt(Math.min(20000, model.vocabularySize() - 200));
            }
            AblationExportOracleTest.decode(session, tokens);
            plain = session.logitsArray(TOKENS - 1);
            InterventionMask mask = mixed(model.layerCount(), session.hooks().width(point, 0));
            if (deactivateOnly) {
                float[][] s = mask.scale();
                for (float[] r : s) {
                    for (int i = 0; i < r.length; i++) {
                        r[i] = r[i] == 1f ? 1f : 0f;
                    }
                }
                mask = InterventionMask.of(s, new float[s.length][s[0].length]);
            }
            hooks.apply(mask, point);
            session.clearMemory();
            AblationExportOracleTest.decode(session, tokens);
            inGraph = session.logitsArray(TOKENS - 1);
            AblationExport.Summary summary = AblationExport.write(original, point, mask, exported, Map.of("hook_point", point.id()));
            assertEquals(mask.changed(), summary.neurons());
            String tensor = point == HookPoint.FFN_UP ? "ffn_up" : "ffn_down";
            assertTrue(summary.editedTensors().stream().allMatch(t -> t.contains(tensor)), summary.editedTensors().toString());
        }
        try (Model model = Model.load(exported); Session session = model.newSession(AblationExportOracleTest.params())) {
            AblationExportOracleTest.decode(session, tokens);
            float[] byWeights = session.logitsArray(TOKENS - 1);
            double diff = AblationExportOracleTest.maxAbsDiff(byWeights, inGraph);
            double effect = AblationExportOracleTest.maxAbsDiff(inGraph, plain);
            double allowed = tolerance >= 0 ? tolerance : -tolerance * effect;
            org.slf4j.LoggerFactory.getLogger(ProjectionExportOracleTest.class).info("{} {}{}: |exported - in-graph| {} (allowed {}), effect {}",
                    original.getFileName(), point, deactivateOnly ? " deactivate" : " mixed", diff, allowed, effect);
            assertTrue(diff <= allowed, original.getFileName() + " " + point + ": exported model differs from the in-graph mask by " + diff);
            assertTrue(effect > 15 * Math.max(diff, 1e-5), original.getFileName() + " " + point + ": the mask changed too little (" + effect + ")");
        }
    }
}
