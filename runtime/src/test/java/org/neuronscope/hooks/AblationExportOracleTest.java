package org.neuronscope.hooks;

import org.neuronscope.methods.AblationExport;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgmlType;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The oracle of {@link AblationExport}: stock llama.cpp running the exported model (no hooks at all)
 * computes the logits that the in-graph intervention computes on the original model.
 */
class AblationExportOracleTest {
    private static final int TOKENS = 24;

    static List<String> architectures() {
        return SyntheticFixtures.ARCHITECTURES;
    }

    /** A mask as selections give them: a few neurons in three layers, deactivated, damped and amplified in one model. */
    private static InterventionMask mixed(Model model, Session session) {
        int layers = model.layerCount();
        int width = session.hooks().width(HookPoint.FFN_ACT, 0);
        float[][] scale = new float[layers][width];
        for (float[] r : scale) {
            java.util.Arrays.fill(r, 1f);
        }
        for (int n : new int[] {3, 17}) {
            scale[0][n] = 0f;
        }
        for (int n : new int[] {40, 99}) {
            scale[0][n] = 0.5f;
        }
        scale[1][7] = 0f;
        for (int n : new int[] {5, 64, 127}) {
            scale[layers - 1][n] = 2.5f;
        }
        return InterventionMask.of(scale, new float[layers][width]);
    }

    /** Deactivation, damping (0.5) and amplification (2.5) together, on every architecture. */
    @ParameterizedTest
    @MethodSource("architectures")
    void exportedWeightsComputeTheInGraphIntervention(String arch, @TempDir Path tmp) {
        check(SyntheticFixtures.tiny(arch), tmp, Masks.MIXED, 1e-4);
    }

    @Test
    void complementaryDeactivationIsExportedToo(@TempDir Path tmp) {
        check(SyntheticFixtures.tiny("qwen2"), tmp, Masks.COMPLEMENTARY, 1e-4);
    }

    @Test
    void quantisedModel(@TempDir Path tmp) {
        Path q8 = SyntheticFixtures.model("export-q8", ModelSpec.builder("llama", SyntheticFixtures.vocabFor("llama"))
                .weightType(GgmlType.Q8_0).build());
        // deactivation zeroes whole Q8_0 blocks (exact); scaling re-quantises the scaled rows, so values round again
        check(q8, tmp, Masks.DEACTIVATE, 1e-4);
        check(q8, tmp, Masks.MIXED, -0.05);
    }

    private enum Masks { MIXED, COMPLEMENTARY, DEACTIVATE }

    private static InterventionMask mask(Masks kind, Model model, Session session) {
        InterventionMask mixed = mixed(model, session);
        NeuronSet s = new NeuronSet("test", HookPoint.FFN_ACT, mixed.layers(), mixed.neurons(), Map.of());
        for (int l = 0; l < mixed.layers(); l++) {
            for (int n = 0; n < mixed.neurons(); n++) {
                if (mixed.scale(l, n) != 1f) {
                    s.add("chosen", l, n, 1.0);
                }
            }
        }
        return switch (kind) {
            case MIXED -> mixed;
            case COMPLEMENTARY -> InterventionMask.of(s, List.of("chosen"), new Intervention.Complementary(new Intervention.Deactivate()));
            case DEACTIVATE -> InterventionMask.of(s, List.of("chosen"), new Intervention.Deactivate());
        };
    }

    /** A negative tolerance is relative: at most that fraction of the largest logit change the intervention makes. */
    private static void check(Path original, Path tmp, Masks kind, double tolerance) {
        SplittableRandom rng = new SplittableRandom(7);
        float[] inGraph;
        float[] plain;
        int[] tokens;
        Path exported = tmp.resolve("exported-" + kind + ".gguf");
        try (Model model = Model.load(original); Session session = model.newSession(params());
             HookScope hooks = session.hooks().openScope()) {
            tokens = new int[TOKENS];
            for (int i = 0; i < TOKENS; i++) {
                tokens[i] = 100 + rng.nextInt(Math.min(20000, model.vocabularySize() - 200));
            }
            decode(session, tokens);
            plain = session.logitsArray(TOKENS - 1);
            InterventionMask mask = mask(kind, model, session);
            hooks.apply(mask, HookPoint.FFN_ACT);
            session.clearMemory();
            decode(session, tokens);
            inGraph = session.logitsArray(TOKENS - 1);
            AblationExport.Summary summary = AblationExport.write(original, mask, exported, Map.of("mode", kind.name()));
            assertEquals(mask.changed(), summary.neurons());
        }
        try (Model model = Model.load(exported); Session session = model.newSession(params())) {
            decode(session, tokens);
            float[] byWeights = session.logitsArray(TOKENS - 1);
            double diff = maxAbsDiff(byWeights, inGraph);
            double effect = maxAbsDiff(inGraph, plain);
            double allowed = tolerance >= 0 ? tolerance : -tolerance * effect;
            org.slf4j.LoggerFactory.getLogger(AblationExportOracleTest.class).info("{} {}: |exported - in-graph| {} (allowed {}), effect {}",
                    original.getFileName(), kind, diff, allowed, effect);
            assertTrue(diff <= allowed, original.getFileName() + " " + kind + ": exported model differs from the in-graph intervention by " + diff);
            assertTrue(effect > 15 * Math.max(diff, 1e-5), original.getFileName() + " " + kind
                    + ": the intervention changed too little for the comparison to mean anything");
        }
    }

    static SessionParams params() {
        return SessionParams.defaults().withContextSize(128).withBatchSize(64).withUbatchSize(64).withThreads(2);
    }

    static void decode(Session session, int[] tokens) {
        try (Batch batch = Batch.ofTokens(tokens.length)) {
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, i == tokens.length - 1);
            }
            session.decode(batch);
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
