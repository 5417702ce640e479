package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.Modality;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.methods.Miner;
import org.neuronscope.collect.MinerCollector;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * MINER's stage 3 over several datasets, against the arithmetic done by hand from per-sample scores
 * ({@link Miner#sampleScore}): per dataset the mean over its samples, then the sum over datasets
 * divided by the number of datasets in which the modality occurs.
 */
class MinerExperimentTest {
    @Test
    void severalDatasetsAreAveragedPerDatasetThenOverDatasets() {
        Workbench.Setup setup = new Workbench.Setup(SyntheticFixtures.tiny("qwen2"), ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(512).withBatchSize(128).withThreads(2), ProjectorParams.defaults(), PromptFormat.chat());
        List<String> modalities = List.of("text", "special");
        Dataset a = Dataset.of("a", List.of(Sample.text("a0", "Rivers flow to the sea.", List.of()),
                Sample.text("a1", "Mountains are tall and cold.", List.of()), Sample.text("a2", "Birds sing at dawn.", List.of())));
        Dataset b = Dataset.of("b", List.of(Sample.text("b0", "Seven times eight is fifty-six.", List.of())));
        try (Workbench wb = Workbench.open(setup)) {
            Miner.Aggregator agg = MinerExperiment.collect(wb, List.of(a, b), modalities, false, Progress.Listener.NONE);
            int size = wb.model().layerCount() * wb.hooks().width(org.neuronscope.HookPoint.FFN_ACT, 0);
            MinerCollector collector = new MinerCollector(modalities, false);
            for (Miner.Metric metric : List.of(Miner.Metric.PROB, Miner.Metric.MEAN, Miner.Metric.MAX)) {
                for (String modality : modalities) {
                    double[] expected = new double[size];
                    for (Dataset d : List.of(a, b)) {
                        double[] mean = new double[size];
                        for (Sample s : d) {
                            try (Prompt p = wb.prompts().prepare(s)) {
                                int[] groups = new int[p.length()];
                                for (int i = 0; i < groups.length; i++) {
                                    groups[i] = p.modality(i) == Modality.TEXT ? 0 : p.modality(i) == Modality.SPECIAL ? 1 : -1;
                                }
                                Miner.SampleStatistics st = collector.collect(wb.session(), p, groups);
                                double[] v = Miner.sampleScore(st, metric, modality);
                                st.activations().close();
                                for (int i = 0; i < size; i++) {
                                    mean[i] += v[i] / d.size();
                                }
                            }
                        }
                        for (int i = 0; i < size; i++) {
                            expected[i] += mean[i] / 2; // both datasets hold both modalities
                        }
                    }
                    assertArrayEquals(expected, agg.score(metric, modality), 1e-12, metric + " " + modality);
                }
            }
            assertEquals(2, agg.datasetsWith("text"));
            assertThrows(IllegalArgumentException.class, () -> MinerExperiment.collect(wb, List.of(a, a), modalities, false, Progress.Listener.NONE));
        }
    }

    /**
     * MINER's other splits: special_text (text ∪ special) and prompt (every position) measured as one
     * modality each — the same as a collector told that those positions are a single modality.
     */
    @Test
    void derivedSplitsAreMeasuredAsOneModalityEach() {
        Workbench.Setup setup = new Workbench.Setup(SyntheticFixtures.tiny("qwen2"), ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(512).withBatchSize(128).withThreads(2)
                        .withFlashAttention(SessionParams.FlashAttention.OFF), ProjectorParams.defaults(), PromptFormat.chat());
        Dataset d = Dataset.of("d", List.of(Sample.text("d0", "Rivers flow to the sea.", List.of()),
                Sample.text("d1", "Seven times eight is fifty-six.", List.of())));
        try (Workbench wb = Workbench.open(setup)) {
            Miner.Aggregator agg = MinerExperiment.collect(wb, List.of(d), List.of("special_text", "prompt"), true, Progress.Listener.NONE);
            assertEquals(List.of("special_text", "prompt"), agg.modalities());
            int size = wb.model().layerCount() * wb.hooks().width(org.neuronscope.HookPoint.FFN_ACT, 0);
            MinerCollector one = new MinerCollector(List.of("x"), true);
            for (String split : List.of("special_text", "prompt")) {
                java.util.Map<Miner.Metric, double[]> expected = new java.util.EnumMap<>(Miner.Metric.class);
                for (Sample s : d) {
                    try (Prompt p = wb.prompts().prepare(s)) {
                        int[] groups = new int[p.length()];
                        for (int i = 0; i < groups.length; i++) {
                            boolean in = split.equals("prompt") || p.modality(i) == Modality.TEXT || p.modality(i) == Modality.SPECIAL;
                            groups[i] = in ? 0 : -1;
                        }
                        Miner.SampleStatistics st = one.collect(wb.session(), p, groups);
                        for (Miner.Metric metric : Miner.Metric.values()) {
                            double[] v = Miner.sampleScore(st, metric, "x");
                            double[] acc = expected.computeIfAbsent(metric, k -> new double[size]);
                            for (int i = 0; i < size; i++) {
                                acc[i] += v[i] / d.size();
                            }
                        }
                        st.activations().close();
                        st.attnK().close();
                        st.attnQ().close();
                    }
                }
                for (Miner.Metric metric : Miner.Metric.values()) {
                    assertArrayEquals(expected.get(metric), agg.score(metric, split), 1e-12, metric + " " + split);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> MinerExperiment.collect(wb, List.of(d), List.of("everything"), false,
                    Progress.Listener.NONE));
        }
    }
}
