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
import org.neuronscope.hooks.Hooks;
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
    public record Condition(String name, NeuronSet set, Collection<String> groups, Intervention intervention, NeuronSet encoderSet) {
        public static final Condition NONE = new Condition("none", null, List.of(), Intervention.deactivate());

        /** A condition on one set (of the language model or of an encoder module). */
        public Condition(String name, NeuronSet set, Collection<String> groups, Intervention intervention) {
            this(name, set, groups, intervention, null);
        }

        /**
         * @param encoderSet an encoder module's set applied together with the language model's {@code set} (same groups and
         *                   intervention, at encode time), as a model and its pruned projector are evaluated together; or null
         */
        public Condition {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a condition needs a name");
            }
            groups = List.copyOf(groups);
            if (intervention == null) {
                throw new IllegalArgumentException("condition " + name + " needs an intervention");
            }
            if (encoderSet != null && (set == null || set.module().isEncoder() || !encoderSet.module().isEncoder())) {
                throw new IllegalArgumentException("condition " + name + ": an encoder set goes with a language-model set");
            }
            if (set != null && intervention.needsMinima()) {
                throw new IllegalArgumentException("condition " + name + ": " + intervention + " needs the per-layer minima");
            }
        }

        /** The encoder companion as a condition of its own (null without one). */
        Condition encoderPart() {
            return encoderSet == null ? null : new Condition(name, encoderSet, groups, intervention);
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

    /**
     * What {@link #run} checks before its first decode, so that a mistake costs no baseline pass: every
     * condition's set fits the model (its layers, and the width of its hook point in every layer), its
     * groups are groups of the set, and every sample has a group.
     *
     * @throws IllegalArgumentException naming the condition, layer or sample at fault
     */
    public static void check(Workbench wb, Dataset data, List<Condition> conditions, Function<Sample, String> groupOf) {
        if (data.isEmpty()) {
            throw new IllegalArgumentException(data.name() + " has no samples");
        }
        Hooks hooks = wb.hooks();
        for (Condition c : conditions) {
            NeuronSet set = c.set();
            if (set == null) {
                continue;
            }
            if (set.module().isEncoder()) {
                checkEncoder(wb, c);
                continue;
            }
            if (c.encoderPart() != null) {
                checkEncoder(wb, c.encoderPart());
            }
            if (set.layers() != hooks.layers()) {
                throw new IllegalArgumentException("condition '" + c.name() + "': the neuron set has " + set.layers() + " layers, the model "
                        + hooks.layers() + " (a set selected on another model?)");
            }
            for (int l = 0; l < set.layers(); l++) {
                int width = hooks.width(set.hookPoint(), l);
                if (width != set.neurons()) {
                    throw new IllegalArgumentException("condition '" + c.name() + "': the neuron set has " + set.neurons() + " neurons per layer, "
                            + set.hookPoint() + " of the model's layer " + l + " has " + width + " (a set selected on another model?)");
                }
            }
            c.mask(); // names groups the set lacks
        }
        for (Sample s : data.samples()) {
            if (groupOf.apply(s) == null) {
                throw new IllegalArgumentException("sample " + s.id() + " of " + data.name() + " has no group (a label it lacks?)");
            }
        }
    }

    /** A condition on an encoder module's set: the projector has that module, and the set fits its layers and widths. */
    private static void checkEncoder(Workbench wb, Condition c) {
        NeuronSet set = c.set();
        if (wb.projector() == null) {
            throw new IllegalArgumentException("condition '" + c.name() + "': the set holds " + set.qualifiedPoint()
                    + " neurons, an encoder's; ablating them needs the projector (--mmproj)");
        }
        try (org.neuronscope.media.EncoderHooks h = wb.projector().openHooks(1)) {
            int layers = h.layers(set.module());
            if (set.layers() != layers) {
                throw new IllegalArgumentException("condition '" + c.name() + "': the neuron set has " + set.layers() + " layers, the "
                        + set.module() + " module " + layers + " (a set selected on another projector?)");
            }
            for (int l = 0; l < layers; l++) {
                int width = h.width(set.module(), set.hookPoint(), l);
                if (width != set.neurons()) {
                    throw new IllegalArgumentException("condition '" + c.name() + "': the neuron set has " + set.neurons() + " neurons per layer, "
                            + set.qualifiedPoint() + " of layer " + l + " has " + width + " (a set selected on another projector?)");
                }
            }
        }
        c.mask(); // names groups the set lacks
    }

    /** The encoder hooks that apply a condition on an encoder module's set at encode time (null for the language model's). */
    private static org.neuronscope.media.EncoderHooks encoderHooks(Workbench wb, Condition c) {
        if (c.set() == null || !c.set().module().isEncoder()) {
            return null;
        }
        org.neuronscope.media.EncoderHooks h = wb.projector().openHooks(1);
        try {
            h.apply(c.set().module(), c.mask(), c.set().hookPoint());
            return h;
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
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
        if (!wb.session().model().hasLogits()) {
            // every metric here scores next tokens; an embedding model has no head to score them with
            throw new org.neuronscope.UnsupportedArchitectureException("ablate's metrics (logit change, top-1 agreement, answer "
                    + "log-probabilities, NLL, perplexity) need a language-model head; the " + wb.session().model().architecture()
                    + " model " + wb.session().model().path().getFileName() + " is an embedding model: statistics, selection and "
                    + "interventions apply (compare Session.sequenceEmbedding with and without a mask)");
        }
        if (samplesPerDecode <= 0 || samplesPerDecode > wb.session().maxSequences()) {
            throw new IllegalArgumentException("samplesPerDecode must be in [1, " + wb.session().maxSequences() + "] (the session's sequences), got "
                    + samplesPerDecode);
        }
        check(wb, data, conditions, groupOf);
        List<Condition> all = new ArrayList<>();
        all.add(Condition.NONE);
        all.addAll(conditions);
        MetricTable table = new MetricTable();
        Session session = wb.session();
        // Sample-major: each slice of samples runs under every condition in turn, so only that
        // slice's baseline logits are held (a vocabulary-wide vector per sample), never the
        // dataset's; each condition's sums still take the samples in dataset order, so the table is
        // the same as running one condition over the whole dataset after another.
        int nc = all.size();
        List<InterventionMask> masks = new ArrayList<>();
        for (Condition c : all) {
            masks.add(c.set() != null ? c.mask() : null);
        }
        List<Map<String, double[]>> change = new ArrayList<>();   // per condition: group -> {sum, n}
        List<Map<String, Accuracy>> agree = new ArrayList<>();
        List<Map<String, Map<String, Accuracy>>> answers = new ArrayList<>();
        List<Map<String, Scores>> scores = new ArrayList<>();
        for (int ci = 0; ci < nc; ci++) {
            change.add(new LinkedHashMap<>());
            agree.add(new LinkedHashMap<>());
            answers.add(new LinkedHashMap<>());
            scores.add(new LinkedHashMap<>());
        }
        Progress progress = new Progress("ablate", (long) all.size() * data.size(), 0, listener);
        try (Sampler greedy = Sampler.greedy()) {
            for (int from = 0; from < data.size(); from += samplesPerDecode) {
                int to = Math.min(data.size(), from + samplesPerDecode);
                float[][] baseline = null;
                for (int ci = 0; ci < nc; ci++) {
                    Condition c = all.get(ci);
                    // an encoder set is applied at encode time by the projector's hooks, a language set in the graph
                    try (HookScope scope = wb.hooks().openScope();
                         org.neuronscope.media.EncoderHooks encoder = encoderHooks(wb, c);
                         org.neuronscope.media.EncoderHooks companion = c.encoderPart() == null ? null : encoderHooks(wb, c.encoderPart())) {
                        if (masks.get(ci) != null && encoder == null) {
                            scope.apply(masks.get(ci), c.set().hookPoint());
                        }
                        float[][] next = nextTokenLogits(wb, data.samples().subList(from, to));
                        if (c == Condition.NONE) {
                            baseline = next;
                        }
                        for (int i = from; i < to; i++) {
                            Sample s = data.samples().get(i);
                            String g = groupOf.apply(s);
                            float[] logits = next[i - from];
                            float[] b = baseline[i - from];
                            double d = 0;
                            for (int k = 0; k < b.length; k++) {
                                d += Math.abs(logits[k] - b[k]);
                            }
                            double[] acc = change.get(ci).computeIfAbsent(g, k -> new double[2]);
                            acc[0] += d / b.length;
                            acc[1]++;
                            agree.get(ci).merge(g, Accuracy.of(argmax(logits) == argmax(b)), Accuracy::plus);
                            boolean known = s.isMultipleChoice() ? s.answerIndex() != Sample.NO_ANSWER : !s.answers().isEmpty();
                            if (known) {
                                answerMetrics(wb, greedy, s, maxTokens, answers.get(ci).computeIfAbsent(g, k -> new LinkedHashMap<>()),
                                        scores.get(ci).computeIfAbsent(g, k -> new Scores()));
                            }
                            if (!s.hasMedia()) {
                                scores.get(ci).computeIfAbsent(g, k -> new Scores()).text.add(g, AnswerScoring.textLogProbs(session, 0,
                                        s.system() == null ? s.prompt() : s.system() + "\n\n" + s.prompt()));
                            }
                            progress.step();
                        }
                    }
                }
            }
        }
        for (int ci = 0; ci < nc; ci++) {
            String name = all.get(ci).name();
            change.get(ci).forEach((g, v) -> table.put(name, g, "logit_change", v[0] / v[1]));
            agree.get(ci).forEach((g, a) -> table.put(name, g, "top1_agreement", a));
            answers.get(ci).forEach((g, m) -> m.forEach((metric, a) -> table.put(name, g, metric, a)));
            scores.get(ci).forEach((g, sc) -> sc.putInto(table, name, g));
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
        double rougeLSum;
        int anlsCount;

        void putInto(MetricTable table, String run, String g) {
            if (anlsCount > 0) {
                table.put(run, g, "anls", anlsSum / anlsCount);
                table.put(run, g, "rouge_l", rougeLSum / anlsCount);
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
                    sc.rougeLSum += Metrics.rougeL(out, s.answers());
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
