package org.neuronscope.experiments;

import org.neuronscope.methods.Intervention;

import org.junit.jupiter.api.Test;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.HookPoint;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * MINER's "set to the minimum" condition: with every layer's minimum equal to c it is exactly "set to
 * c"; with per-layer minima it differs from deactivation; minima of the wrong shape are refused.
 */
class AblationConditionsTest {
    @Test
    void setToMinimumIsSetToEachLayersValue() {
        Workbench.Setup setup = new Workbench.Setup(SyntheticFixtures.tiny("llama"), ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(512).withBatchSize(128).withThreads(2), ProjectorParams.defaults(), PromptFormat.raw());
        try (Workbench wb = Workbench.open(setup)) {
            int layers = wb.model().layerCount();
            int width = wb.hooks().width(HookPoint.FFN_ACT, 0);
            NeuronSet set = RandomBaseline.of(HookPoint.FFN_ACT, layers, width, layers * width / 4, 11, "g");
            Dataset data = Dataset.of("t", List.of(Sample.text("a", "The sun rises in the east", List.of()),
                    Sample.text("b", "Water boils at one hundred degrees", List.of())));
            double[] constant = new double[layers];
            Arrays.fill(constant, -0.25);
            double[] varied = new double[layers];
            for (int l = 0; l < layers; l++) {
                varied[l] = -0.1 * (l + 1);
            }
            MetricTable t = AblationExperiment.run(wb, data, List.of(
                    new AblationExperiment.Condition("min const", set, List.of("g"), new Intervention.SetToMinimum(constant)),
                    new AblationExperiment.Condition("set const", set, List.of("g"), Intervention.setTo(-0.25f)),
                    new AblationExperiment.Condition("min varied", set, List.of("g"), new Intervention.SetToMinimum(varied)),
                    new AblationExperiment.Condition("off", set, List.of("g"), Intervention.deactivate())),
                    s -> "text", 0, Progress.Listener.NONE);
            for (String metric : List.of("logit_change", "text_nll")) {
                assertEquals(t.value("set const", "text", metric), t.value("min const", "text", metric), 0, metric);
                assertNotEquals(t.value("off", "text", metric), t.value("min varied", "text", metric), metric);
            }
            assertThrows(IllegalArgumentException.class, () -> new AblationExperiment.Condition("bad", set, List.of("g"), new Intervention.SetToMinimum(new double[layers + 1])).mask());
        }
    }
}
