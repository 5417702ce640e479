package org.neuronscope.hooks;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * "Set to the minimum of the current call" (MINER utils/func.py:231-255, deactivation value −1), in the
 * graph: against a brute force over taps, on every synthetic architecture, for a prefill and for a
 * one-token generation step (whose tensor is one row, so its minimum is another).
 */
class CallMinimumTest {
    private static final SessionParams PARAMS = SessionParams.defaults().withContextSize(128).withBatchSize(64).withThreads(2);
    private static final int N = 20;
    private static final int[] CHOSEN = {1, 5, 9, 30, 77};

    /** ffn.act per call ([call][layer][token][neuron]) of a prefill of N tokens and one generated token. */
    private static float[][][][] run(Session session) {
        int layers = session.hooks().layers();
        float[][][][] out = new float[2][layers][][];
        int[] call = {0};
        try (HookScope scope = session.hooks().openScope(); Batch prefill = Batch.ofTokens(N); Batch step = Batch.ofTokens(1)) {
            scope.tap(HookPoint.FFN_ACT, -1, (p, layer, data, w, rows, idx) -> {
                float[][] t = new float[rows][];
                for (int r = 0; r < rows; r++) {
                    t[idx[r]] = data.asSlice((long) r * w * 4, (long) w * 4).toArray(ValueLayout.JAVA_FLOAT);
                }
                out[call[0]][layer] = t;
            });
            for (int i = 0; i < N; i++) {
                prefill.add(200 + 13 * i, i, 0, i == N - 1);
            }
            session.clearMemory();
            session.decode(prefill);
            call[0] = 1;
            step.add(777, N, 0, true);
            session.decode(step);
        }
        return out;
    }

    private static float min(float[][] t) {
        float m = Float.POSITIVE_INFINITY;
        for (float[] row : t) {
            for (float v : row) {
                m = Math.min(m, v);
            }
        }
        return m;
    }

    /**
     * Per layer l (masked alone, so the layers before it are untouched): the chosen neurons equal the
     * smallest value of the unmasked run's tensor of that call, exactly; the others are unchanged; the
     * complementary mask does the reverse. The step's minimum differs from the prefill's.
     */
    @Test
    void chosenNeuronsTakeTheMinimumOfEachCall() {
        for (String arch : SyntheticFixtures.ARCHITECTURES) {
            try (Model model = Model.load(SyntheticFixtures.tiny(arch)); Session session = model.newSession(PARAMS)) {
                int layers = model.layerCount();
                float[][][][] plain = run(session);
                boolean differ = false;
                for (int l = 0; l < layers; l++) {
                    for (boolean complementary : new boolean[] {false, true}) {
                        float[][][][] masked;
                        try (HookScope m = session.hooks().openScope()) {
                            LayerMask mask = m.mask(HookPoint.FFN_ACT, l);
                            java.util.Set<Integer> chosen = new java.util.HashSet<>();
                            for (int c : CHOSEN) {
                                chosen.add(c);
                            }
                            for (int k = 0; k < mask.width(); k++) {
                                if (chosen.contains(k) != complementary) {
                                    mask.setToCallMinimum(k);
                                }
                            }
                            masked = run(session);
                        }
                        for (int c = 0; c < 2; c++) {
                            float expected = min(plain[c][l]);
                            float[][] got = masked[c][l];
                            for (int t = 0; t < got.length; t++) {
                                for (int k = 0; k < got[t].length; k++) {
                                    boolean isChosen = false;
                                    for (int x : CHOSEN) {
                                        isChosen |= x == k;
                                    }
                                    float want = isChosen != complementary ? expected : plain[c][l][t][k];
                                    assertEquals(want, got[t][k], 0f, arch + " layer " + l + (c == 0 ? " prefill" : " step") + " token " + t
                                            + " neuron " + k + (complementary ? " (complementary)" : ""));
                                }
                            }
                        }
                        if (l + 1 < layers) {
                            assertNotEquals(plain[0][l + 1][N - 1][0], masked[0][l + 1][N - 1][0], arch + ": the mask of layer " + l + " reaches the next layer");
                        }
                    }
                    differ |= min(plain[0][l]) != min(plain[1][l]);
                }
                assertTrue(differ, arch + ": a one-token call's minimum is another than the prefill's");
            }
        }
    }

    /**
     * In the last layer llama.cpp computes only the output tokens unless a hook observes; a minimum needs
     * every token, so a mask alone gives the same logits as the mask with a tap there.
     */
    @Test
    void theLastLayerTakesItsMinimumOverEveryToken() {
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2")); Session session = model.newSession(PARAMS); Batch prefill = Batch.ofTokens(N)) {
            int last = model.layerCount() - 1;
            for (int i = 0; i < N; i++) {
                prefill.add(200 + 13 * i, i, 0, i == N - 1);
            }
            float[] alone;
            float[] observed;
            try (HookScope m = session.hooks().openScope()) {
                LayerMask mask = m.mask(HookPoint.FFN_ACT, last);
                for (int c : CHOSEN) {
                    mask.setToCallMinimum(c);
                }
                session.clearMemory();
                session.decode(prefill);
                alone = session.logitsArray(N - 1);
                try (HookScope tap = session.hooks().openScope()) {
                    tap.tap(HookPoint.FFN_ACT, last, (p, layer, data, w, rows, idx) -> assertEquals(N, rows));
                    session.clearMemory();
                    session.decode(prefill);
                    observed = session.logitsArray(N - 1);
                }
            }
            assertArrayEquals(observed, alone, 0f);
            session.clearMemory();
            session.decode(prefill);
            float[] unmasked = session.logitsArray(N - 1);
            assertTrue(java.util.stream.IntStream.range(0, unmasked.length).anyMatch(i -> unmasked[i] != alone[i]), "the mask changes the logits");
        }
    }

    /** Intervention "minimum:call" through InterventionMask and HookScope.apply equals the LayerMask calls. */
    @Test
    void theInterventionAppliesThroughTheMask() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama")); Session session = model.newSession(PARAMS)) {
            int layers = model.layerCount();
            int width = session.hooks().width(HookPoint.FFN_ACT, 0);
            NeuronSet set = new NeuronSet("test", HookPoint.FFN_ACT, layers, width, Map.of());
            set.add("g", 0, 3, 1).add("g", 1, 7, 1).add("g", layers - 1, 11, 1);
            for (String mode : List.of("minimum:call", "complementary:minimum:call")) {
                Intervention i = Intervention.parse(mode);
                assertEquals(mode, i.toString());
                InterventionMask im = InterventionMask.of(set, List.of("g"), i);
                float[][][][] viaApply;
                try (HookScope m = session.hooks().openScope()) {
                    m.apply(im, HookPoint.FFN_ACT);
                    viaApply = run(session);
                }
                float[][][][] direct;
                try (HookScope m = session.hooks().openScope()) {
                    for (int l = 0; l < layers; l++) {
                        LayerMask lm = m.mask(HookPoint.FFN_ACT, l);
                        for (int k = 0; k < width; k++) {
                            if (set.contains("g", l, k) != mode.startsWith("complementary")) {
                                lm.setToCallMinimum(k);
                            }
                        }
                    }
                    direct = run(session);
                }
                for (int c = 0; c < 2; c++) {
                    for (int l = 0; l < layers; l++) {
                        for (int t = 0; t < direct[c][l].length; t++) {
                            assertArrayEquals(direct[c][l][t], viaApply[c][l][t], 0f, mode + " call " + c + " layer " + l);
                        }
                    }
                }
            }
        }
    }
}
