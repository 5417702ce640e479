package org.neuronscope.experiments;

import org.neuronscope.hooks.HookScope;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;

import org.neuronscope.HookPoint;

import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Metrics;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.DecodeStep;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.Generator;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.Sampler;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Answer metrics of the ablation runner against generating and scoring each sample by hand (the
 * references are made from the model's own greedy answers, so the baseline scores 1 and an
 * intervention that changes answers scores less), on open and multiple-choice questions.
 */
class AblationExperimentTest {
    @Test
    void answerMetricsEqualGeneratingAndScoringByHand() {
        Workbench.Setup setup = new Workbench.Setup(SyntheticFixtures.tiny("qwen2"), ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(512).withBatchSize(128).withThreads(2), ProjectorParams.defaults(), PromptFormat.raw());
        try (Workbench wb = Workbench.open(setup); Sampler greedy = Sampler.greedy()) {
            // references: the model's own greedy answers (open) or the option it picks (multiple choice)
            List<Sample> samples = new ArrayList<>();
            String[] qs = {"The weather today is", "My favourite colour is", "Numbers: one two", "The capital city is"};
            for (int i = 0; i < qs.length; i++) {
                Sample probe = Sample.text("o" + i, qs[i], List.of("x"));
                String answer = answer(wb, greedy, probe);
                samples.add(new Sample("o" + i, qs[i], null, List.of(), List.of(), List.of(), List.of(answer.strip(), "never"), List.of(),
                        Sample.NO_ANSWER, Map.of("kind", "open")));
            }
            Sample mc = Sample.multipleChoice("m0", "Pick one.", List.of("red", "blue", "green"), 0);
            String picked = answer(wb, greedy, mc);
            samples.add(Sample.multipleChoice("m0", "Pick one.", List.of("red", "blue", "green"), Metrics.optionCorrect(picked, mc) ? 0 : 1)
                    .withLabels(Map.of("kind", "mc")));
            Dataset data = Dataset.of("answers", samples);
            NeuronSet everything = RandomBaseline.of(HookPoint.FFN_ACT, wb.model().layerCount(), wb.hooks().width(org.neuronscope.HookPoint.FFN_ACT, 0),
                    wb.model().layerCount() * wb.hooks().width(org.neuronscope.HookPoint.FFN_ACT, 0) / 2, 3, "half");
            MetricTable t = AblationExperiment.run(wb, data, List.of(new AblationExperiment.Condition("half off", everything, List.of("half"),
                    Intervention.deactivate())), s -> s.label("kind"), 8, Progress.Listener.NONE);

            // the baseline reproduces the references: exact match 1 on open questions
            assertEquals(1.0, t.value("none", "open", "exact_match"), 1e-12);
            assertEquals(1.0, t.value("none", "open", "substring"), 1e-12);
            assertEquals(1.0, t.value("none", "open", "top1_agreement"), 1e-12);
            assertEquals(0.0, t.value("none", "open", "logit_change"), 1e-12);
            // under the intervention: scored by hand the same way
            int exact = 0;
            try (HookScope scope = wb.hooks().openScope()) {
                scope.apply(InterventionMask.of(everything, List.of("half"), Intervention.deactivate()), HookPoint.FFN_ACT);
                for (Sample s : samples.subList(0, qs.length)) {
                    exact += Metrics.exactMatch(answer(wb, greedy, s), s.answers()) == 1.0 ? 1 : 0;
                }
            }
            assertEquals((double) exact / qs.length, t.value("half off", "open", "exact_match"), 1e-12);
            assertTrue(t.value("half off", "open", "logit_change") > 0, "deactivating half the neurons changes the logits");
            assertTrue(t.metrics().contains("option_accuracy"));

            // the same run with three prompts per decode (one sequence each) gives the same table up to rounding
            Workbench.Setup three = new Workbench.Setup(setup.model(), setup.loading(), null, setup.session().withContextSize(1536).withMaxSequences(3),
                    setup.media(), setup.format());
            try (Workbench wb3 = Workbench.open(three)) {
                MetricTable t3 = AblationExperiment.run(wb3, data, List.of(new AblationExperiment.Condition("half off", everything, List.of("half"),
                        Intervention.deactivate())), s -> s.label("kind"), 8, 3, Progress.Listener.NONE);
                for (String run : t.runs()) {
                    for (String g : t.groups()) {
                        for (String metric : t.metrics()) {
                            if (t.cell(run, g, metric) == null) {
                                continue;
                            }
                            double tol = metric.equals("logit_change") ? 1e-3 : 0;
                            assertEquals(t.value(run, g, metric), t3.value(run, g, metric), tol, run + " " + g + " " + metric);
                        }
                    }
                }
            }
        }
    }

    private static String answer(Workbench wb, Sampler greedy, Sample s) {
        try (Prompt p = wb.prompts().prepare(s)) {
            wb.session().clearMemory();
            int next = p.decode(wb.session(), 0, 0, new int[p.length()], DecodeStep.plain(wb.session()));
            return Generator.continueAfter(wb.session(), greedy, 0, next, p.lastBatchIndex(), 8, null, null).text();
        }
    }
}
