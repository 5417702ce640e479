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

    /** Neurons in two layers, a few per layer, as a selection would give. */
    private static NeuronSet set(Model model, Session session) {
        NeuronSet s = new NeuronSet("test", HookPoint.FFN_ACT, model.layerCount(), session.hooks().width(HookPoint.FFN_ACT, 0), Map.of());
        for (int n : new int[] {3, 17, 40, 99}) {
            s.add("a", 0, n, 1.0);
        }
        for (int n : new int[] {5, 64, 127}) {
            s.add("a", model.layerCount() - 1, n, 1.0);
        }
        s.add("b", 1, 7, 1.0);
        return s;
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void exportedWeightsComputeTheInGraphIntervention(String arch, @TempDir Path tmp) {
        Path original = SyntheticFixtures.tiny(arch);
        check(original, tmp, List.of(new Intervention.Deactivate(), new Intervention.Scale(0.5f), new Intervention.Scale(2.5f)), 1e-4);
    }

    @Test
    void complementaryDeactivationIsExportedToo(@TempDir Path tmp) {
        check(SyntheticFixtures.tiny("qwen2"), tmp, List.of(new Intervention.Complementary(new Intervention.Deactivate())), 1e-4);
    }

    @Test
    void quantisedModel(@TempDir Path tmp) {
        Path q8 = SyntheticFixtures.model("export-q8", ModelSpec.builder("llama", SyntheticFixtures.vocabFor("llama"))
                .weightType(GgmlType.Q8_0).build());
        // deactivation zeroes whole Q8_0 blocks: exact; scaling re-quantises the scaled rows, so values round again
        check(q8, tmp, List.of(new Intervention.Deactivate()), 1e-4);
        check(q8, tmp, List.of(new Intervention.Scale(0.5f)), 2e-2);
    }

    private static void check(Path original, Path tmp, List<Intervention> interventions, double tolerance) {
        SplittableRandom rng = new SplittableRandom(7);
        for (Intervention iv : interventions) {
            float[] inGraph;
            float[] plain;
            int[] tokens;
            NeuronSet s;
            Path exported = tmp.resolve("exported-" + iv.toString().replace(':', '_') + ".gguf");
            try (Model model = Model.load(original); Session session = model.newSession(params());
                 HookScope hooks = session.hooks().openScope()) {
                s = set(model, session);
                tokens = new int[TOKENS];
                for (int i = 0; i < TOKENS; i++) {
                    tokens[i] = 100 + rng.nextInt(Math.min(20000, model.vocabularySize() - 200));
                }
                decode(session, tokens);
                plain = session.logitsArray(TOKENS - 1);
                InterventionMask mask = InterventionMask.of(s, s.groupNames(), iv);
                hooks.apply(mask, s.hookPoint());
                session.clearMemory();
                decode(session, tokens);
                inGraph = session.logitsArray(TOKENS - 1);
                AblationExport.Summary summary = AblationExport.write(original, mask, exported, Map.of("mode", iv.toString()));
                assertTrue(summary.neurons() > 0);
            }
            try (Model model = Model.load(exported); Session session = model.newSession(params())) {
                decode(session, tokens);
                float[] byWeights = session.logitsArray(TOKENS - 1);
                double diff = maxAbsDiff(byWeights, inGraph);
                assertTrue(diff <= tolerance, original.getFileName() + " " + iv + ": exported model differs from the in-graph intervention by " + diff);
                assertTrue(maxAbsDiff(inGraph, plain) > 50 * Math.max(diff, 1e-5), original.getFileName() + " " + iv
                        + ": the intervention changed too little for the comparison to mean anything");
            }
        }
    }

    private static SessionParams params() {
        return SessionParams.defaults().withContextSize(128).withBatchSize(64).withUbatchSize(64).withThreads(2);
    }

    private static void decode(Session session, int[] tokens) {
        try (Batch batch = Batch.ofTokens(tokens.length)) {
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, i == tokens.length - 1);
            }
            session.decode(batch);
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
