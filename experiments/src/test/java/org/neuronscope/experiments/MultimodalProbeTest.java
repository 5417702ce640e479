package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.collect.Pooling;
import org.neuronscope.eval.Dataset;
import org.neuronscope.media.Modality;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.probe.LayerProbe;
import org.neuronscope.probe.LinearProbe;
import org.neuronscope.probe.Representations;
import org.neuronscope.testkit.ProbeDatasets;
import org.neuronscope.testkit.SyntheticFixtures;
import org.neuronscope.testkit.SyntheticProjectors;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two probing recipes on a multimodal model (qwen2vl with a synthetic vision projector): the
 * generated object-recognition dataset, whose class is planted in the images' pixels, is readable
 * from the mean over the image tokens (the shuffled-label control is not); the entailment recipe
 * loads with a balanced yes/no label.
 */
class MultimodalProbeTest {
    @Test
    void objectRecognitionFromTheImageTokens(@TempDir Path dir) throws Exception {
        Dataset data = Dataset.load(ProbeDatasets.objectRecognition(dir.resolve("data"), 8, 56, 1));
        assertEquals(24, data.size());
        Path projector = SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), dir.resolve("mmproj.gguf"));
        Representations reps;
        try (Workbench wb = Workbench.open(new Workbench.Setup(SyntheticFixtures.tiny("qwen2vl"), ModelParams.defaults(), projector,
                SessionParams.defaults().withContextSize(1024).withBatchSize(256).withThreads(2),
                ProjectorParams.defaults().withThreads(2).withWarmup(false).withImageTokens(8, 16), PromptFormat.chat()))) {
            reps = ProbeExperiment.collect(wb, data, ProbeExperiment.Params.of(List.of(Pooling.mean(Modality.IMAGE), Pooling.mean(Modality.TEXT))),
                    dir.resolve("out"), Progress.Listener.NONE);
        }
        LayerProbe.Params params = LayerProbe.Params.defaults(LinearProbe.Kind.LOGISTIC).withFolds(4);
        LayerProbe.Report image = LayerProbe.run(reps, "mean:image", "object", params, null);
        System.out.print(image.table());
        assertEquals(ProbeDatasets.OBJECTS, image.classes());
        assertTrue(image.layers().getFirst().score() > 0.8, "the planted colour is readable from the image tokens: " + image.layers().getFirst().score());
        assertTrue(image.layers().getFirst().controlScore() < 0.6, "the shuffled control is not: " + image.layers().getFirst().controlScore());
        // (the text tokens after the image read it through attention: mean:text is no clean contrast here)
        assertEquals(24, LayerProbe.run(reps, "mean:text", "object", params.withLayers(0), null).samples());

        Dataset entail = Dataset.load(ProbeDatasets.entailment(dir.resolve("data"), 4, 56, 1));
        assertEquals(24, entail.size());
        assertEquals(12, entail.samples().stream().filter(s -> s.label("entailment").equals("yes")).count());
        assertTrue(entail.samples().stream().allMatch(s -> s.images().size() == 1));
    }
}
