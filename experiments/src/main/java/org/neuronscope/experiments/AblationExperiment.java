package org.neuronscope.experiments;

import org.neuronscope.methods.Intervention;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.Accuracy;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.NllAggregator;
import org.neuronscope.eval.Metrics;
import org.neuronscope.eval.Sample;
import org.neuronscope.HookPoint;
import org.neuronscope.media.DecodeStep;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptBatcher;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.Generator;
import org.neuronscope.model.Sampler;
import org.neuronscope.model.Session;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The {@code ablate} experiment: the dataset evaluated with no intervention and under each condition
 * (a neuron set deactivated, set to a value or kept alone, a matched random set), per sample group.
 *
 * <p>Metrics, per group and condition: {@code logit_change} (mean |Δ| of the prompt's next-token
 * logits against the unablated run), {@code top1_agreement} (same greedy next token); for samples
 * with references, greedy answers scored by {@code exact_match} and {@code substring} (open
 * questions) or {@code option_accuracy} (multiple choice), with 95 % Wilson intervals, and {@code anls}
 * (mean, DocVQA) and {@code wer} (corpus word error rate against the first reference, LibriSpeech) on
 * open questions. Without generation, by teacher forcing on samples with a known answer:
 * {@code answer_nll} / {@code answer_ppl} (mean NLL per token of the first reference, or of the
 * correct option's letter, and its exponential) and {@code choice_ll_accuracy} (the option whose
 * letter is most likely is the correct one); on samples without media, {@code text_nll} /
 * {@code text_ppl}, the perplexity of the prompt text itself (LAPE's measure).
 */
public final class AblationExperiment {
    /**
     * One intervention to evaluate: {@code intervention} applied to the union of {@code groups} of
     * {@code set} (all its groups when empty). {@link #NONE} is the baseline.
     */
    public record Condition(String name, NeuronSet set, Collection<String> groups, Intervention intervention) {
        public static final Condition NONE = new Condition("none", null, List.of(), Intervention.deactivate());

        public Condition {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a condition needs a name");
            }
            groups = List.copyOf(groups);
            if (intervention == null) {
                throw new IllegalArgumentException("condition " + name + " needs an intervention");
            }
            if (set != null && intervention.needsMinima()) {
                throw new IllegalArgumentException("condition " + name + ": " + intervention + " needs the per-layer minima");
            }
        }

        /** The mask of this condition (the identity for {@link #NONE}). */
        public InterventionMask mask() {
            return InterventionMask.of(set, groups.isEmpty() ? set.groupNames() : groups, intervention);
        }
    }

    /** Groups samples by what media they carry: image, audio, video or text. */
    public static final Function<Sample, String> BY_MEDIA = s -> !s.images().isEmpty() ? "image"
            : !s.audio().isEmpty() ? "audio" : !s.video().isEmpty() ? "video" : "text";

    private AblationExperiment() {
    }

    /** Runs the baseline and every condition over {@code data}, one sample per decode. */
    public static MetricTable run(Workbench wb, Dataset data, List<Condition> conditions, Function<Sample, String> groupOf,
                                  int maxTokens, Progress.Listener listener) {
        return run(wb, data, conditions, groupOf, maxTokens, 1, listener);
    }

    /**
     * Runs the baseline and every condition over {@code data}.
     *
     * @param maxTokens        greedy answer length for samples with references (0: no generation)
     * @param samplesPerDecode prompts decoded together for the next-token metrics, one sequence each
     *                         (the session needs as many sequences); answers are generated one sample
     *                         at a time
     */
    public static MetricTable run(Workbench wb, Dataset data, List<Condition> conditions, Function<Sample, String> groupOf,
                                  int maxTokens, int samplesPerDecode, Progress.Listener listener) {
        if (samplesPerDecode <= 0 || samplesPerDecode > wb.session().maxSequences()) {
            throw new IllegalArgumentException("samplesPerDecode must be in [1, " + wb.session().maxSequences() + "] (the session's sequences), got "
                    + samplesPerDecode);
        }
        List<Condition> all = new ArrayList<>();
        all.add(Condition.NONE);
        all.addAll(conditions);
        MetricTable table = new MetricTable();
        Session session = wb.session();
        List<float[]> baseline = new ArrayList<>();
        Progress progress = new Progress("ablate", (long) all.size() * data.size(), 0, listener);
        try (Sampler greedy = Sampler.greedy()) {
            for (Condition c : all) {
                try (HookScope scope = wb.hooks().openScope()) {
                    if (c.set() != null) {
                        scope.apply(c.mask(), c.set().hookPoint());
                    }
                    Map<String, double[]> change = new LinkedHashMap<>();   // group -> {sum, n}
                    Map<String, Accuracy> agree = new LinkedHashMap<>();
                    Map<String, Map<String, Accuracy>> answers = new LinkedHashMap<>();
                    Map<String, Scores> scores = new LinkedHashMap<>();
                    for (int from = 0; from < data.size(); from += samplesPerDecode) {
                        int to = Math.min(data.size(), from + samplesPerDecode);
                        float[][] next = nextTokenLogits(wb, data.samples().subList(from, to));
                        for (int i = from; i < to; i++) {
                            Sample s = data.samples().get(i);
                            String g = groupOf.apply(s);
                            float[] logits = next[i - from];
                            if (c == Condition.NONE) {
                                baseline.add(logits);
                            }
                            float[] b = baseline.get(i);
                            double d = 0;
                            for (int k = 0; k < b.length; k++) {
                                d += Math.abs(logits[k] - b[k]);
                            }
                            double[] acc = change.computeIfAbsent(g, k -> new double[2]);
                            acc[0] += d / b.length;
                            acc[1]++;
                            agree.merge(g, Accuracy.of(argmax(logits) == argmax(b)), Accuracy::plus);
                            boolean known = s.isMultipleChoice() ? s.answerIndex() != Sample.NO_ANSWER : !s.answers().isEmpty();
                            if (known) {
                                answerMetrics(wb, greedy, s, maxTokens, answers.computeIfAbsent(g, k -> new LinkedHashMap<>()),
                                        scores.computeIfAbsent(g, k -> new Scores()));
                            }
                            if (!s.hasMedia()) {
                                scores.computeIfAbsent(g, k -> new Scores()).text.add(g, AnswerScoring.textLogProbs(session, 0,
                                        s.system() == null ? s.prompt() : s.system() + "\n\n" + s.prompt()));
                            }
                            progress.step();
                        }
                    }
                    change.forEach((g, v) -> table.put(c.name(), g, "logit_change", v[0] / v[1]));
                    agree.forEach((g, a) -> table.put(c.name(), g, "top1_agreement", a));
                    answers.forEach((g, m) -> m.forEach((metric, a) -> table.put(c.name(), g, metric, a)));
                    scores.forEach((g, sc) -> sc.putInto(table, c.name(), g));
                }
            }
        }
        table.baseline(Condition.NONE.name());
        return table;
    }

    /** The next-token logits after each sample's prompt, the prompts decoded together (one sequence each). */
    private static float[][] nextTokenLogits(Workbench wb, List<Sample> samples) {
        Session session = wb.session();
        List<Prompt> prompts = new ArrayList<>();
        try {
            List<int[]> groups = new ArrayList<>();
            for (Sample s : samples) {
                Prompt p = SampleErrors.naming(s, null, () -> wb.prompts().prepare(s));
                prompts.add(p);
                groups.add(new int[p.length()]);
            }
            float[][] out = new float[prompts.size()][];
            session.clearMemory();
            int[] seqIds = java.util.stream.IntStream.range(0, prompts.size()).toArray();
            PromptBatcher.decode(session, prompts, seqIds, groups, DecodeStep.plain(session), (p, index) -> out[p] = session.logitsArray(index));
            return out;
        } finally {
            prompts.forEach(Prompt::close);
        }
    }

    /** Per group: the sums behind the metrics that are not accuracies. */
    private static final class Scores {
        final NllAggregator answer = new NllAggregator();
        final NllAggregator text = new NllAggregator();
        Metrics.WordErrors wordErrors = Metrics.WordErrors.ZERO;
        double anlsSum;
        int anlsCount;

        void putInto(MetricTable table, String run, String g) {
            if (anlsCount > 0) {
                table.put(run, g, "anls", anlsSum / anlsCount);
                table.put(run, g, "wer", wordErrors.referenceWords() == 0 ? Double.NaN : wordErrors.rate());
            }
            if (answer.totalTokens() > 0) {
                table.put(run, g, "answer_nll", answer.overallMeanNll());
                table.put(run, g, "answer_ppl", answer.overallPerplexity());
            }
            if (text.totalTokens() > 0) {
                table.put(run, g, "text_nll", text.overallMeanNll());
                table.put(run, g, "text_ppl", text.overallPerplexity());
            }
        }
    }

    /**
     * The prompt decoded alone into sequence 0; then the reference's (or the option letters')
     * likelihood by teacher forcing and, with {@code maxTokens > 0}, a greedy answer and its scores.
     */
    private static void answerMetrics(Workbench wb, Sampler greedy, Sample s, int maxTokens, Map<String, Accuracy> m, Scores sc) {
        Session session = wb.session();
        var tokenizer = wb.model().tokenizer();
        try (Prompt p = SampleErrors.naming(s, null, () -> wb.prompts().prepare(s))) {
            session.clearMemory();
            int next = p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session));
            float[] promptLogits = session.logitsArray(p.lastBatchIndex());
            String out = null;
            if (maxTokens > 0) {
                out = Generator.continueAfter(session, greedy, 0, next, p.lastBatchIndex(), maxTokens, null, null).text();
                session.removeTokens(0, next, -1); // back to the prompt alone, for the teacher-forced scores
            }
            if (s.isMultipleChoice()) {
                int best = -1;
                double bestLp = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < s.choices().size(); i++) {
                    double[] lp = AnswerScoring.continuationLogProbs(session, 0, next, promptLogits,
                            AnswerScoring.answerTokens(tokenizer, String.valueOf((char) ('A' + i))));
                    double total = java.util.Arrays.stream(lp).sum();
                    if (i == s.answerIndex()) {
                        sc.answer.add("", lp);
                    }
                    if (total > bestLp) {
                        bestLp = total;
                        best = i;
                    }
                }
                m.merge("choice_ll_accuracy", Accuracy.of(best == s.answerIndex()), Accuracy::plus);
            } else {
                sc.answer.add("", AnswerScoring.continuationLogProbs(session, 0, next, promptLogits,
                        AnswerScoring.answerTokens(tokenizer, s.answers().getFirst())));
            }
            if (out != null) {
                if (s.isMultipleChoice()) {
                    m.merge("option_accuracy", Accuracy.of(Metrics.optionCorrect(out, s)), Accuracy::plus);
                } else {
                    m.merge("exact_match", Accuracy.of(Metrics.exactMatch(out, s.answers()) == 1.0), Accuracy::plus);
                    m.merge("substring", Accuracy.of(Metrics.substringMatch(out, s.answers()) == 1.0), Accuracy::plus);
                    sc.anlsSum += Metrics.anls(out, s.answers());
                    sc.anlsCount++;
                    sc.wordErrors = sc.wordErrors.plus(Metrics.wordErrors(out, s.answers().getFirst()));
                }
            }
        }
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
