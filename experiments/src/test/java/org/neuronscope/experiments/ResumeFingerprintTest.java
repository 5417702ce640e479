package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.eval.Dataset;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A checkpoint resumes only the run it was written by: a dataset edited in place between the
 * interruption and the resume (same path, same number of samples), other parameters or another
 * model are refused, naming what changed; the same content under a new modification time resumes.
 * (Before, the guard compared path and sample count only, and the edited run "resumed" into
 * statistics matching neither version.)
 */
class ResumeFingerprintTest {
    private static String jsonl(String variant) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            b.append("{\"id\": \"s").append(i).append("\", \"prompt\": \"Item ").append(i).append(variant)
                    .append(" a short sentence.\", \"language\": \"").append(i % 3 == 0 ? "fr" : "en").append("\"}\n");
        }
        return b.toString();
    }

    @Test
    void aResumeRefusesAnythingButWhatTheCheckpointWasWrittenFrom(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("data.jsonl"), jsonl(":"), StandardCharsets.UTF_8);
        Path model = Files.copy(SyntheticFixtures.tiny("qwen2"), dir.resolve("model.gguf"));
        Workbench.Setup setup = new Workbench.Setup(model, ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(1024).withBatchSize(128).withThreads(2).withMaxSequences(4),
                ProjectorParams.defaults(), PromptFormat.raw());
        LabelGrouping byLanguage = new LabelGrouping("language", List.of("en", "fr"), false);
        StatsExperiment.Params params = StatsExperiment.Params.DEFAULTS.withCheckpointEvery(8).withSamplesPerDecode(4);
        Path out = dir.resolve("out");
        Progress.Listener crash = (task, done, total, rate, eta) -> {
            if (done == 14) {
                throw new IllegalStateException("simulated kill");
            }
        };
        try (Workbench wb = Workbench.open(setup)) {
            assertThrows(IllegalStateException.class, () -> StatsExperiment.run(wb, Dataset.load(file), byLanguage, params, out, crash));

            Files.writeString(file, jsonl(";"), StandardCharsets.UTF_8); // edited in place: same path, same count
            IllegalArgumentException edited = assertThrows(IllegalArgumentException.class,
                    () -> StatsExperiment.run(wb, Dataset.load(file), byLanguage, params, out, Progress.Listener.NONE));
            assertTrue(edited.getMessage().contains("dataset") && edited.getMessage().contains("changed")
                    && edited.getMessage().contains("data.jsonl"), edited.getMessage());

            Files.writeString(file, jsonl(":"), StandardCharsets.UTF_8);
            IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                    () -> StatsExperiment.run(wb, Dataset.load(file), byLanguage, params.withSamplesPerDecode(2), out, Progress.Listener.NONE));
            assertTrue(other.getMessage().contains("parameters changed"), other.getMessage());
        }

        // the model's bytes changed (one byte of the last tensor's data): refused
        byte[] original = Files.readAllBytes(model);
        byte[] changed = original.clone();
        changed[changed.length - 1] ^= 1;
        Files.write(model, changed);
        try (Workbench wb = Workbench.open(setup)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> StatsExperiment.run(wb, Dataset.load(file), byLanguage, params, out, Progress.Listener.NONE));
            assertTrue(e.getMessage().contains("model file model.gguf"), e.getMessage());
        }
        // the same bytes back, with a new modification time: rehashed, equal, resumed
        Files.write(model, original);
        Files.setLastModifiedTime(model, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        try (Workbench wb = Workbench.open(setup)) {
            StatsExperiment.run(wb, Dataset.load(file), byLanguage, params, out, Progress.Listener.NONE).close();
        }
        assertTrue(Files.isDirectory(StatsExperiment.statisticsDir(out)));
    }
}
