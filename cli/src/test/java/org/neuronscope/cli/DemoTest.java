package org.neuronscope.cli;

import org.neuronscope.experiments.Progress;

import org.junit.jupiter.api.Test;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo pipeline (stats → select → ablate → report) on the planted model: every method recovers
 * the planted image neurons, ablating the selection moves image prompts far more than a matched
 * random set and leaves text prompts alone, the probe on the planted probe model finds its layer,
 * and the report with its charts is written.
 */
class DemoTest {
    @Test
    void demoRecoversPlantedNeuronsAndReports() throws Exception {
        Path work = SyntheticFixtures.directory().resolve("demo-test");
        Demo.Result r = Demo.run(work, SyntheticFixtures.vocabFor("qwen2vl"), 6, 2, Progress.Listener.NONE);
        for (var e : r.precisionRecall().entrySet()) {
            assertTrue(e.getValue()[0] >= 0.95 && e.getValue()[1] >= 0.95,
                    e.getKey() + ": precision " + e.getValue()[0] + ", recall " + e.getValue()[1]);
        }
        MetricTable t = r.ablation();
        double miner = t.value("MINER image set", "image", "logit_change");
        double random = t.value("random (matched)", "image", "logit_change");
        assertTrue(miner > 3 * random, "selected set " + miner + " vs random " + random);
        assertEquals(0.0, t.value("MINER image set", "text", "logit_change"), 1e-6, "text prompts untouched by the image set");
        assertTrue(t.value("random (matched)", "text", "logit_change") > 0);
        assertTrue(Files.size(r.report()) > 1000);
        for (String png : new String[] {"layers-0.png", "ablation-logits.png", "ablation-top1.png", "lens-entropy-heatmap.png", "lens-group-entropy.png"}) {
            assertTrue(Files.size(r.report().getParent().resolve(png)) > 1000, png);
        }
        assertTrue(Files.exists(work.resolve("stats/statistics")));
        // text perplexity: the image set leaves it exactly as it was, the random set does not
        assertEquals(0.0, t.delta("MINER image set", "text", "text_nll"), 1e-9);
        assertTrue(Math.abs(t.delta("random (matched)", "text", "text_nll")) > 1e-4);
        // the probe on the planted probe model: chance below layer 3, readable from it, and in the report
        for (var l : r.probe().layers()) {
            assertTrue(l.layer() < 3 ? l.score() < 0.7 : l.score() > 0.95, "probe, layer " + l.layer() + ": " + l.score());
        }
        assertTrue(Files.size(r.report().getParent().resolve("probe-last.png")) > 1000);
        assertTrue(Files.readString(r.report()).contains("Layer-wise probing on a planted model"));
        // what a reader sees: the report rendered in a headless browser at two widths
        for (RenderedReport.View v : RenderedReport.check(r.report())) {
            assertTrue(v.images() >= 8 && v.tables() >= 1 && !v.links().isEmpty(), v.toString());
        }
    }

    /**
     * With audio: image and audio neurons planted together; both MINER variants recover both sets,
     * the entropy method the image set, and each set moves its own modality's prompts only.
     */
    @Test
    void demoWithAudioRecoversImageAndAudioNeurons() {
        Path work = SyntheticFixtures.directory().resolve("demo-test-av");
        Demo.Result r = Demo.run(work, SyntheticFixtures.vocabFor("qwen2vl"), 6, 3, 2, Progress.Listener.NONE);
        assertEquals(java.util.Set.of("entropy (LAPE defaults), image", "MINER mean+max, image", "MINER mean+max, audio",
                "MINER defaults, image", "MINER defaults, audio"), r.precisionRecall().keySet());
        for (var e : r.precisionRecall().entrySet()) {
            assertTrue(e.getValue()[0] >= 0.95 && e.getValue()[1] >= 0.95,
                    e.getKey() + ": precision " + e.getValue()[0] + ", recall " + e.getValue()[1]);
        }
        MetricTable t = r.ablation();
        double audio = t.value("MINER audio set", "audio", "logit_change");
        assertTrue(audio > 3 * t.value("random (audio)", "audio", "logit_change"), "audio set vs random: " + audio);
        assertEquals(0.0, t.value("MINER audio set", "image", "logit_change"), 1e-6, "image prompts untouched by the audio set");
        assertEquals(0.0, t.value("MINER audio set", "text", "logit_change"), 1e-6, "text prompts untouched by the audio set");
        assertEquals(0.0, t.value("MINER image set", "audio", "logit_change"), 1e-6, "audio prompts untouched by the image set");
    }
}
