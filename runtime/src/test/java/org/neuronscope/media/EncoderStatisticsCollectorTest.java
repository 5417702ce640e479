package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.Model;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Encoder statistics are stored and selected like the language model's: per-group counts over the
 * module's rows (checked against a brute force over taps of a second run), saved and loaded with
 * their module, and LAPE's selection names the module and hook point.
 */
class EncoderStatisticsCollectorTest {
    @Test
    void statisticsOfVisionNeuronsPerDomainAreStoredAndSelectedWithTheirModule(@TempDir Path dir) throws Exception {
        List<String> domains = List.of("noise-a", "noise-b");
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params())) {
            NeuronStatistics st;
            long[] tappedRows = new long[2];
            double[] tappedCount = new double[2]; // layer 0, neuron 3
            try (EncoderStatisticsCollector c = new EncoderStatisticsCollector(projector, Module.VISION, HookPoint.FFN_ACT, domains,
                    EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f)) {
                for (int k = 0; k < 4; k++) {
                    int g = k % 2;
                    Media item = EncoderHooksOracleTest.image(100 + k);
                    c.add(item, domains.get(g));
                }
                st = c.statistics();
                assertThrows(IllegalArgumentException.class, () -> c.add(EncoderHooksOracleTest.image(1), "other"));
            }
            // brute force over taps in a second, independent run
            try (EncoderHooks hooks = projector.openHooks(1)) {
                int[] g = new int[1];
                hooks.tap(Module.VISION, HookPoint.FFN_ACT, 0, (m, p, l, data, width, n) -> {
                    tappedRows[g[0]] += n;
                    for (int i = 0; i < n; i++) {
                        tappedCount[g[0]] += data.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) i * width + 3) > 0f ? 1 : 0;
                    }
                });
                for (int k = 0; k < 4; k++) {
                    g[0] = k % 2;
                    projector.encode(EncoderHooksOracleTest.image(100 + k));
                }
            }
            try (st) {
                assertEquals(Module.VISION, st.module());
                for (int k = 0; k < 2; k++) {
                    assertEquals(tappedRows[k], st.tokens(k), "rows of " + domains.get(k));
                    assertEquals(tappedCount[k], st.get(Statistic.COUNT, 0, k, 3), "count of neuron 3 in " + domains.get(k));
                }
                st.save(dir.resolve("stats"));
                try (NeuronStatistics back = NeuronStatistics.load(dir.resolve("stats"))) {
                    assertEquals(Module.VISION, back.module());
                    assertEquals(st.get(Statistic.SUM, 0, 1, 7), back.get(Statistic.SUM, 0, 1, 7));
                    NeuronSet set = EntropySelection.select(back, EntropySelection.Params.DEFAULTS);
                    assertEquals(Module.VISION, set.module());
                    assertEquals("vision.ffn.act", set.qualifiedPoint());
                    assertTrue(set.toString().contains("vision.ffn.act"), set.toString());
                }
            }
        }
    }
}
