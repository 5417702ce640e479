package org.neuronscope.hooks;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ffn.up and ffn.down (MANU's up_proj and down_proj outputs) against independent computations from
 * the other taps of the same decode and the GGUF's weights: ffn.down = W_down · ffn.post (+ the
 * down bias) row by row, and ffn.up = ffn.post / ffn.act elementwise (ffn.post = act(gate·x) ⊙ up·x),
 * wherever |ffn.act| is not tiny. Their reductions are in NeuronHooksOracleTest (all neuron points).
 */
class UpDownHookPointsTest {
    static List<String> architectures() {
        return SyntheticFixtures.ARCHITECTURES;
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void upAndDownEqualTheirDefinitions(String arch) {
        Path file = SyntheticFixtures.tiny(arch);
        int tokens = 20;
        HookPoint[] points = {HookPoint.FFN_ACT, HookPoint.FFN_POST, HookPoint.FFN_UP, HookPoint.FFN_DOWN};
        try (Model model = Model.load(file);
             Session session = model.newSession(SessionParams.defaults().withContextSize(128).withBatchSize(32).withUbatchSize(8).withThreads(2));
             HookScope hooks = session.hooks().openScope();
             GgufFile gguf = GgufFile.open(file)) {
            int layers = model.layerCount();
            Map<HookPoint, float[][][]> rows = new EnumMap<>(HookPoint.class);
            for (HookPoint p : points) {
                rows.put(p, new float[layers][tokens][]);
                hooks.tap(p, -1, (point, layer, data, width, n, batchIndex) -> {
                    for (int i = 0; i < n; i++) {
                        rows.get(point)[layer][batchIndex[i]] = data.asSlice((long) i * width * Float.BYTES, (long) width * Float.BYTES)
                                .toArray(ValueLayout.JAVA_FLOAT);
                    }
                });
            }
            SplittableRandom rng = new SplittableRandom(3);
            try (Batch batch = Batch.ofTokens(tokens)) {
                for (int i = 0; i < tokens; i++) {
                    batch.add(100 + rng.nextInt(2000), i, 0, i == tokens - 1);
                }
                session.decode(batch);
            }
            int nEmbd = hooks.hooks().width(HookPoint.RESID_POST, 0);
            double maxDown = 0;
            double maxUp = 0;
            int checkedUp = 0;
            for (int l = 0; l < layers; l++) {
                assertEquals(nEmbd, hooks.hooks().width(HookPoint.FFN_DOWN, l));
                assertEquals(hooks.hooks().width(HookPoint.FFN_POST, l), hooks.hooks().width(HookPoint.FFN_UP, l));
                String down = "blk." + l + ".ffn_down.weight";
                String bias = "blk." + l + ".ffn_down.bias";
                boolean hasBias = gguf.tensors().containsKey(bias);
                float[][] w = new float[nEmbd][];
                for (int r = 0; r < nEmbd; r++) {
                    w[r] = gguf.row(down, r);
                }
                float[] b = hasBias ? gguf.row(bias, 0) : null;
                for (int t = 0; t < tokens; t++) {
                    float[] post = rows.get(HookPoint.FFN_POST)[l][t];
                    float[] act = rows.get(HookPoint.FFN_ACT)[l][t];
                    float[] up = rows.get(HookPoint.FFN_UP)[l][t];
                    float[] out = rows.get(HookPoint.FFN_DOWN)[l][t];
                    assertTrue(post != null && act != null && up != null && out != null, arch + " layer " + l + " token " + t + " seen");
                    for (int r = 0; r < nEmbd; r++) {
                        double ref = hasBias ? b[r] : 0;
                        double scale = Math.abs(ref);
                        for (int n = 0; n < post.length; n++) {
                            ref += (double) w[r][n] * post[n];
                            scale += Math.abs((double) w[r][n] * post[n]);
                        }
                        double err = Math.abs(out[r] - ref) / Math.max(scale, 1e-6);
                        maxDown = Math.max(maxDown, err);
                        assertTrue(err < 1e-4, arch + " layer " + l + " token " + t + " ffn.down[" + r + "] = " + out[r] + ", W·post = " + ref);
                    }
                    for (int n = 0; n < post.length; n++) {
                        if (Math.abs(act[n]) > 1e-2) {
                            double ref = post[n] / (double) act[n];
                            double err = Math.abs(up[n] - ref) / Math.max(Math.abs(ref), 1e-3);
                            maxUp = Math.max(maxUp, err);
                            checkedUp++;
                            assertTrue(err < 1e-4, arch + " layer " + l + " token " + t + " ffn.up[" + n + "] = " + up[n] + ", post/act = " + ref);
                        }
                    }
                }
            }
            assertTrue(checkedUp > layers * tokens * 10, "enough neurons with |act| > 0.01: " + checkedUp);
            System.out.printf("%s: ffn.down max relative error %.2e, ffn.up %.2e over %d neurons%n", arch, maxDown, maxUp, checkedUp);
            // both take masks now (ProjectionExportOracleTest); resid.post still refuses one with the reason
            assertTrue(assertThrows(IllegalArgumentException.class, () -> hooks.mask(HookPoint.RESID_POST, 0)).getMessage().contains("ffn.down"));
        }
    }
}
