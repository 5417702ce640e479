package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.eval.Dataset;
import org.neuronscope.media.EncoderHooks;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;
import org.neuronscope.testkit.SyntheticMedia;
import org.neuronscope.testkit.SyntheticProjectors;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ablate} with encoder sets keeps one set of the projector's encoder hooks open for the whole
 * run and swaps the conditions' encoder masks in it. The previous behaviour opened the hooks for
 * every slice and condition; a run of one condition over one slice does exactly that, so it is the
 * oracle: every sample's outcome under every condition, the baseline's included, is the same bit for
 * bit, with vision, projector and language sets, a shift (set:c), and a condition of two modules.
 */
class AblationEncoderHooksTest {
    static NeuronSet set(Module module, HookPoint point, int layers, int neurons, long seed) {
        NeuronSet s = new NeuronSet("hand", module, point, layers, neurons, Map.of());
        SplittableRandom r = new SplittableRandom(seed);
        for (int l = 0; l < layers; l++) {
            for (int n : r.ints(0, neurons).distinct().limit(neurons / 3).toArray()) {
                s.add("g", l, n, 1.0);
            }
        }
        return s;
    }

    @Test
    void encoderMasksSwappedInOneOpenSetEqualHooksOpenedPerSliceAndCondition(@TempDir Path dir) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String img = "img-" + i + ".png";
            SyntheticMedia.writePng(dir.resolve(img), 56, 56, 70 + i);
            lines.add(i == 2
                    ? "{\"id\": \"t" + i + "\", \"prompt\": \"A sentence without an image.\", \"labels\": {\"domain\": \"text\"}}"
                    : "{\"id\": \"s" + i + "\", \"question\": \"What is shown?\", \"image\": \"" + img + "\", \"answers\": [\"a chart\"], "
                    + "\"labels\": {\"domain\": \"" + (i % 2 == 0 ? "charts" : "photos") + "\"}}");
        }
        Dataset data = Dataset.load(Files.write(dir.resolve("data.jsonl"), lines));
        Path projector = SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), dir.resolve("mmproj.gguf"));
        Workbench.Setup setup = new Workbench.Setup(SyntheticFixtures.tiny("qwen2vl"), ModelParams.defaults(), projector,
                SessionParams.defaults().withContextSize(1024).withBatchSize(256).withThreads(2).withMaxSequences(2)
                        .withFlashAttention(SessionParams.FlashAttention.OFF),
                ProjectorParams.defaults().withThreads(2).withWarmup(false).withImageTokens(8, 16), PromptFormat.chat());
        try (Workbench wb = Workbench.open(setup)) {
            int layers = wb.model().layerCount();
            int width = wb.hooks().width(HookPoint.FFN_ACT, 0);
            NeuronSet vision;
            NeuronSet merger;
            try (EncoderHooks h = wb.projector().openHooks(1)) {
                vision = set(Module.VISION, HookPoint.FFN_ACT, h.layers(Module.VISION), h.width(Module.VISION, HookPoint.FFN_ACT, 0), 1);
                merger = set(Module.PROJECTOR, HookPoint.FFN_ACT, h.layers(Module.PROJECTOR), h.width(Module.PROJECTOR, HookPoint.FFN_ACT, 0), 2);
            }
            NeuronSet language = set(Module.LANGUAGE, HookPoint.FFN_ACT, layers, width, 3);
            List<String> all = List.of("g");
            List<AblationExperiment.Condition> conditions = List.of(
                    new AblationExperiment.Condition("vision off", vision, all, Intervention.deactivate()),
                    new AblationExperiment.Condition("language off", language, all, Intervention.deactivate()),
                    new AblationExperiment.Condition("projector set", merger, all, new Intervention.SetTo(0.5f)),
                    new AblationExperiment.Condition("vision and language", List.of(
                            new AblationExperiment.Part(vision, all, new Intervention.Scale(0.25f)),
                            new AblationExperiment.Part(language, all, new Intervention.Scale(0.5f)))));
            java.util.function.Function<org.neuronscope.eval.Sample, String> groupOf = s -> s.label("domain");

            // the run holds the projector's hooks from its first sample to its last: nobody else may open them meanwhile
            AtomicInteger held = new AtomicInteger();
            List<AblationExperiment.Outcome[]> together = new ArrayList<>();
            AblationExperiment.measure(wb, data, conditions, groupOf, 1, 2, (task, done, total, rate, eta) -> {
                if (done > 0 && done < total) { // (done 0: the run's progress starts before its hooks open)
                    assertThrows(IllegalStateException.class, () -> wb.projector().openHooks(1));
                    held.incrementAndGet();
                }
            }, together::add);
            assertTrue(held.get() > 0, "the listener saw the run in progress");
            wb.projector().openHooks(1).close(); // and the run closed them

            // the oracle: each slice of 2 samples under each condition alone (the hooks opened for it, as before)
            assertEquals(data.size(), together.size());
            int differing = 0;
            for (int from = 0; from < data.size(); from += 2) {
                int to = Math.min(data.size(), from + 2);
                Dataset slice = Dataset.of(data.name(), data.samples().subList(from, to));
                for (int ci = 0; ci < conditions.size(); ci++) {
                    List<AblationExperiment.Outcome[]> alone = new ArrayList<>();
                    AblationExperiment.measure(wb, slice, List.of(conditions.get(ci)), groupOf, 1, 2, Progress.Listener.NONE, alone::add);
                    for (int i = from; i < to; i++) {
                        String where = "sample " + i + ", " + conditions.get(ci).name();
                        assertSame(alone.get(i - from)[0], together.get(i)[0], where + " (its baseline)");
                        assertSame(alone.get(i - from)[1], together.get(i)[ci + 1], where);
                        if (together.get(i)[ci + 1].logitChange() != 0) {
                            differing++;
                        }
                    }
                }
            }
            // the conditions do change the outputs (a vacuous comparison would pass on anything)
            assertTrue(differing >= data.size() * 3, differing + " (sample, condition) pairs moved the logits");
            for (int ci = 0; ci < conditions.size(); ci++) {
                for (int cj = ci + 1; cj < conditions.size(); cj++) {
                    int a = ci + 1;
                    int b = cj + 1;
                    assertNotEquals(together.stream().mapToDouble(o -> o[a].logitChange()).sum(), together.stream().mapToDouble(o -> o[b].logitChange()).sum(),
                            conditions.get(ci).name() + " / " + conditions.get(cj).name());
                }
            }
        }
    }

    /** Two outcomes equal in every field, the doubles bit for bit. */
    static void assertSame(AblationExperiment.Outcome expected, AblationExperiment.Outcome actual, String where) {
        assertEquals(expected.group(), actual.group(), where);
        assertEquals(Double.doubleToRawLongBits(expected.logitChange()), Double.doubleToRawLongBits(actual.logitChange()),
                where + ": logit change " + expected.logitChange() + " vs " + actual.logitChange());
        assertEquals(expected.top1(), actual.top1(), where);
        assertEquals(expected.text() == null, actual.text() == null, where);
        if (expected.text() != null) {
            assertArrayEquals(expected.text(), actual.text(), where + ": text log-probabilities"); // bit for bit
        }
        AblationExperiment.Answer a = expected.answer();
        AblationExperiment.Answer b = actual.answer();
        assertEquals(a == null, b == null, where);
        if (a != null) {
            assertArrayEquals(a.logProbs(), b.logProbs(), where + ": answer log-probabilities");
            assertEquals(Arrays.asList(a.multipleChoice(), a.choiceLlCorrect(), a.generated(), a.correct(), a.substring()),
                    Arrays.asList(b.multipleChoice(), b.choiceLlCorrect(), b.generated(), b.correct(), b.substring()), where);
            assertEquals(Double.doubleToRawLongBits(a.anls()), Double.doubleToRawLongBits(b.anls()), where + ": anls");
            assertEquals(Double.doubleToRawLongBits(a.rougeL()), Double.doubleToRawLongBits(b.rougeL()), where + ": rouge-l");
            assertEquals(a.wordErrors(), b.wordErrors(), where);
        }
    }
}
