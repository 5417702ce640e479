package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stats experiment with several samples per decode: a run that fails midway (after a checkpoint)
 * and is run again ends byte for byte like an uninterrupted run, and the statistics equal one-by-one
 * decoding up to float rounding (token counts exactly).
 */
class StatsExperimentTest {
    static Dataset data() {
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            samples.add(Sample.text("s" + i, "Item " + i + ": a short sentence about " + (i * 13) + " things.", List.of())
                    .withLabels(Map.of("language", i % 3 == 0 ? "fr" : "en")));
        }
        return Dataset.of("sentences", samples);
    }

    static Workbench open(int sequences) {
        return Workbench.open(new Workbench.Setup(SyntheticFixtures.tiny("qwen2"), ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(1024).withBatchSize(128).withThreads(2).withMaxSequences(sequences),
                ProjectorParams.defaults(), PromptFormat.raw()));
    }

    @Test
    void batchedRunInterruptedAndRerunEqualsAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Dataset data = data();
        LabelGrouping byLanguage = new LabelGrouping("language", List.of("en", "fr"), false);
        StatsExperiment.Params batched = StatsExperiment.Params.DEFAULTS.withCheckpointEvery(8).withSamplesPerDecode(4);
        try (Workbench wb = open(4)) {
            StatsExperiment.run(wb, data, byLanguage, batched, dir.resolve("whole"), Progress.Listener.NONE).close();
            // a failure after 14 samples: the checkpoint at 8 survives, the run stops
            Progress.Listener crash = (task, done, total, rate, eta) -> {
                if (done == 14) {
                    throw new IllegalStateException("simulated crash");
                }
            };
            assertThrows(IllegalStateException.class, () -> StatsExperiment.run(wb, data, byLanguage, batched, dir.resolve("cut"), crash));
            assertTrue(Files.exists(StatsExperiment.checkpointDir(dir.resolve("cut"))));
            StatsExperiment.run(wb, data, byLanguage, batched, dir.resolve("cut"), Progress.Listener.NONE).close();
        }
        try (Stream<Path> files = Files.list(StatsExperiment.statisticsDir(dir.resolve("whole")))) {
            for (Path f : files.toList()) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(StatsExperiment.statisticsDir(dir.resolve("cut")).resolve(f.getFileName())),
                        f.getFileName().toString());
            }
        }
        // one sample per decode: the same token counts, sums within rounding
        try (Workbench wb = open(1);
             NeuronStatistics single = StatsExperiment.run(wb, data, byLanguage, StatsExperiment.Params.DEFAULTS, dir.resolve("single"),
                     Progress.Listener.NONE);
             NeuronStatistics four = NeuronStatistics.load(StatsExperiment.statisticsDir(dir.resolve("whole")))) {
            for (int g = 0; g < 2; g++) {
                assertEquals(single.tokens(g), four.tokens(g));
                for (int l = 0; l < single.layers(); l++) {
                    for (int n = 0; n < single.neurons(); n++) {
                        assertEquals(single.get(Statistic.SUM, l, g, n), four.get(Statistic.SUM, l, g, n),
                                1e-3 + 1e-4 * Math.abs(single.get(Statistic.SUM, l, g, n)));
                        assertEquals(single.get(Statistic.MAX, l, g, n), four.get(Statistic.MAX, l, g, n), 1e-3);
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> StatsExperiment.Params.DEFAULTS.withSamplesPerDecode(3));
    }

    /**
     * Samples packed into one decode fill one batch: a group ends where the next sample would not
     * fit in the batch beside the others (8 samples of ~100 tokens, 256-token batches: groups of
     * two), and the result equals one-by-one decoding up to float rounding. Without that rule the
     * packed decode would not fit the 512-cell context (the sequences share it) and fail.
     */
    @Test
    void packedGroupsEndWhereTheBatchIsFull(@TempDir Path dir) {
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            samples.add(Sample.text("long" + i, ("Item " + i + " is about " + (i * 7) + " things and more things. ").repeat(8), List.of())
                    .withLabels(Map.of("language", i % 2 == 0 ? "fr" : "en")));
        }
        Dataset data = Dataset.of("long sentences", samples);
        LabelGrouping byLanguage = new LabelGrouping("language", List.of("en", "fr"), false);
        java.util.function.IntFunction<Workbench> open = seqs -> Workbench.open(new Workbench.Setup(SyntheticFixtures.tiny("qwen2"),
                ModelParams.defaults(), null, SessionParams.defaults().withContextSize(512).withBatchSize(256).withThreads(2)
                .withMaxSequences(seqs), ProjectorParams.defaults(), PromptFormat.raw()));
        try (Workbench packed = open.apply(8);
             NeuronStatistics p = StatsExperiment.run(packed, data, byLanguage, StatsExperiment.Params.DEFAULTS.withCheckpointEvery(8)
                     .withSamplesPerDecode(8), dir.resolve("packed"), Progress.Listener.NONE)) {
            assertTrue(packed.session().contextSize() < 8 * 90, "the context must not hold all samples at once: " + packed.session().contextSize());
            try (Workbench single = open.apply(1);
                 NeuronStatistics one = StatsExperiment.run(single, data, byLanguage, StatsExperiment.Params.DEFAULTS, dir.resolve("single"),
                         Progress.Listener.NONE)) {
                for (int g = 0; g < 2; g++) {
                    assertEquals(one.tokens(g), p.tokens(g));
                    assertTrue(one.tokens(g) > 300, "tokens of group " + g + ": " + one.tokens(g));
                    for (int l = 0; l < one.layers(); l++) {
                        for (int n = 0; n < one.neurons(); n++) {
                            assertEquals(one.get(Statistic.SUM, l, g, n), p.get(Statistic.SUM, l, g, n), 1e-3 + 1e-4 * Math.abs(one.get(Statistic.SUM, l, g, n)));
                            assertEquals(one.get(Statistic.MAX, l, g, n), p.get(Statistic.MAX, l, g, n), 1e-3);
                        }
                    }
                }
            }
        }
    }
}
