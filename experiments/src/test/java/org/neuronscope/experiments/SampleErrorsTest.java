package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.LabelGrouping;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An error about one sample's prompt names the sample (before: "the prompt is empty" and nothing else). */
class SampleErrorsTest {
    @Test
    void anEmptyAndAnOversizePromptNameTheirSample(@TempDir Path dir) {
        List<Sample> samples = List.of(
                Sample.text("fine", "A short sentence.", List.of()).withLabels(Map.of("language", "en")),
                Sample.text("empty-one", "", List.of()).withLabels(Map.of("language", "en")));
        LabelGrouping g = new LabelGrouping("language", List.of("en"), false);
        try (Workbench wb = StatsExperimentTest.open(1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StatsExperiment.run(wb, Dataset.of("tiny", samples), g,
                    StatsExperiment.Params.DEFAULTS, dir.resolve("a"), Progress.Listener.NONE));
            assertTrue(e.getMessage().contains("sample 'empty-one'") && e.getMessage().contains("empty"), e.getMessage());

            String huge = "word ".repeat(3000); // more tokens than the context of 1024
            List<Sample> big = List.of(Sample.text("too-long", huge, List.of()).withLabels(Map.of("language", "en")));
            IllegalArgumentException o = assertThrows(IllegalArgumentException.class, () -> StatsExperiment.run(wb, Dataset.of("big", big), g,
                    StatsExperiment.Params.DEFAULTS, dir.resolve("b"), Progress.Listener.NONE));
            assertTrue(o.getMessage().contains("sample 'too-long'") && o.getMessage().contains("context"), o.getMessage());
        }
    }
}
