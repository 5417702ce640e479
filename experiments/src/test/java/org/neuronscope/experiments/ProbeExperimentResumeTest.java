package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.collect.Pooling;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.Modality;
import org.neuronscope.probe.Representations;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A representation collection that fails after a checkpoint and is run again ends byte for byte like an uninterrupted one. */
class ProbeExperimentResumeTest {
    @Test
    void interruptedAndRerunEqualsUninterrupted(@TempDir Path dir) throws Exception {
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            samples.add(Sample.text("s" + i, "Item " + i + ": a sentence about " + (i * 13) + " things.", List.of())
                    .withLabels(Map.of("parity", i % 2 == 0 ? "even" : "odd")));
        }
        Dataset data = Dataset.of("sentences", samples);
        ProbeExperiment.Params params = new ProbeExperiment.Params(List.of(Pooling.last(), Pooling.mean(Modality.TEXT)), 6, 2);
        try (Workbench wb = StatsExperimentTest.open(2)) {
            ProbeExperiment.collect(wb, data, params, dir.resolve("whole"), Progress.Listener.NONE);
            Progress.Listener crash = (task, done, total, rate, eta) -> {
                if (done == 15) {
                    throw new IllegalStateException("simulated crash");
                }
            };
            assertThrows(IllegalStateException.class, () -> ProbeExperiment.collect(wb, data, params, dir.resolve("cut"), crash));
            assertEquals(12, Representations.read(ProbeExperiment.checkpointDir(dir.resolve("cut"))).size());
            Representations resumed = ProbeExperiment.collect(wb, data, params, dir.resolve("cut"), Progress.Listener.NONE);
            assertEquals(20, resumed.size());
            assertFalse(Files.exists(ProbeExperiment.checkpointDir(dir.resolve("cut"))), "the checkpoint is gone once the result is saved");
            // another pooling on the same output directory is refused, not mixed in
            var e = assertThrows(IllegalArgumentException.class, () -> ProbeExperiment.collect(wb, data,
                    new ProbeExperiment.Params(List.of(Pooling.mean()), 6, 2), dir.resolve("cut"), Progress.Listener.NONE));
            assertTrue(e.getMessage().contains("holds poolings [last, mean:text]"), e.getMessage());
        }
        for (String f : List.of("last.npy", "mean_text.npy")) {
            assertArrayEquals(Files.readAllBytes(ProbeExperiment.representationsDir(dir.resolve("whole")).resolve(f)),
                    Files.readAllBytes(ProbeExperiment.representationsDir(dir.resolve("cut")).resolve(f)), f);
        }
    }
}
