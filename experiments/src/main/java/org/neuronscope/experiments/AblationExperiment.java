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
     * One set's share of a condition: {@code intervention} applied to the union of {@code groups} of
     * {@code set} (all its groups when empty), in the set's module (the language model's graph, or an
     * encoder's at encode time).
     */
    public record Part(NeuronSet set, Collection<String> groups, Intervention intervention) {
        public Part {
            if (set == null) {
                throw new IllegalArgumentException("a condition's part needs a neuron set");
            }
            groups = List.copyOf(groups);
            if (intervention == null) {
                throw new IllegalArgumentException("a condition's part needs an intervention");
            }
        }

        /** The mask of this part. */
        public InterventionMask mask() {
            return InterventionMask.of(set, groups.isEmpty() ? set.groupNames() : groups, intervention);
        }
    }

    /**
     * One intervention to evaluate: every part applied together in one run (MMNeuron's module sets:
     * the language model's, the vision encoder's and the projector's sets switched off at once). No
     * parts: nothing changed; {@link #NONE} is the baseline.
     */
    public record Condition(String name, List<Part> parts) {
        public static final Condition NONE = new Condition("none", List.of());

        public Condition {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a condition needs a name");
            }
            parts = List.copyOf(parts);
            java.util.Set<String> points = new java.util.HashSet<>();
            for (Part p : parts) {
                if (p.intervention().needsMinima()) {
                    throw new IllegalArgumentException("condition " + name + ": " + p.intervention() + " needs the per-layer minima");
                }
                // one mask per hook point and layer: a second set there would overwrite the first's neurons
                if (!points.add(p.set().qualifiedPoint())) {
                    throw new IllegalArgumentException("condition " + name + ": two of its neuron sets are at " + p.set().qualifiedPoint()
                            + "; one set per module and hook point (merge them into one set)");
                }
            }
        }

        /** {@code intervention} on the union of {@code groups} of {@code set} (all its groups when empty); a null set changes nothing. */
        public Condition(String name, NeuronSet set, Collection<String> groups, Intervention intervention) {
            this(name, single(name, set, groups, intervention));
        }

        private static List<Part> single(String name, NeuronSet set, Collection<String> groups, Intervention intervention) {
            if (intervention == null) {
                throw new IllegalArgumentException("condition " + name + " needs an intervention");
            }
            return set == null ? List.of() : List.of(new Part(set, groups, intervention));
        }

        /** The set of a one-set condition (null for one without parts). */
        public NeuronSet set() {
            return only() == null ? null : only().set();
        }

        /** The groups of a one-set condition (empty for one without parts). */
        public List<String> groups() {
            return only() == null ? List.of() : List.copyOf(only().groups());
        }

        /** The intervention of a one-set condition (deactivation for one without parts). */
        public Intervention intervention() {
            return only() == null ? Intervention.deactivate() : only().intervention();
        }

        /** The mask of a one-set condition. */
        public InterventionMask mask() {
            if (only() == null) {
                throw new IllegalStateException("condition " + name + " has no neuron set");
            }
            return only().mask();
        }

        private Part only() {
            if (parts.size() > 1) {
                throw new IllegalStateException("condition " + name + " combines " + parts.size() + " neuron sets; read its parts()");
            }
            return parts.isEmpty() ? null : parts.getFirst();
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
        java.util.Set<String> names = new java.util.HashSet<>(List.of(Condition.NONE.name()));
        for (Condition c : conditions) {
            if (!names.add(c.name())) {
                throw new IllegalArgumentException("two conditions are named '" + c.name() + "'" + (c.name().equals(Condition.NONE.name())
                        ? " (the baseline's name)" : "") + ": each needs its own name");
            }
            for (Part part : c.parts()) {
                NeuronSet set = part.set();
                if (set.module().isEncoder()) {
                    checkEncoder(wb, c, part);
                    continue;
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
                part.mask(); // names groups the set lacks
            }
        }
        for (Sample s : data.samples()) {
            if (groupOf.apply(s) == null) {
                throw new IllegalArgumentException("sample " + s.id() + " of " + data.name() + " has no group (a label it lacks?)");
            }
        }
    }

    /** A part on an encoder module's set: the projector has that module, and the set fits its layers and widths. */
    private static void checkEncoder(Workbench wb, Condition c, Part part) {
        NeuronSet set = part.set();
        if (wb.projector() == null) {
            throw new IllegalArgumentException("condition '" + c.name() + "': the set holds " + set.qualifiedPoint()
                    + " neurons, an encoder's; ablating them needs the projector (--mmproj)");
        }
        try (org.neuronscope.media.EncoderHooks h = wb.projector().openHooks(1)) {
            if (!h.modules().contains(set.module())) {
                throw new IllegalArgumentException("condition '" + c.name() + "': the set holds " + set.qualifiedPoint()
                        + " neurons; the projector has no hooked " + set.module() + " module (it has " + h.modules() + ")");
            }
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
        part.mask(); // names groups the set lacks
    }

    /**
     * The encoder side of a run's conditions. The projector holds one set of encoder hooks at a time,
     * so the run opens one set (when some condition has encoder parts) and keeps it across slices:
     * every (module, point, layer) that some condition masks gets its mask once, and {@link #use}
     * swaps the conditions' masks in those (back to the identity, then the condition's own values).
     * A condition without encoder parts (the baseline among them) encodes through identity masks:
     * x·1, which is x exactly (x·1 + 0 where an earlier condition set a value: at most the sign of
     * a zero changes).
     */
    private static final class EncoderConditions implements AutoCloseable {
        private final List<Condition> all;
        private final List<List<InterventionMask>> masks;
        private final org.neuronscope.media.EncoderHooks hooks; // null: no condition has encoder parts
        private final List<org.neuronscope.media.EncoderMask> touched = new ArrayList<>();
        private int current = -1; // the condition whose encoder masks are in place; -1: every mask is the identity

        EncoderConditions(Workbench wb, List<Condition> all, List<List<InterventionMask>> masks) {
            this.all = all;
            this.masks = masks;
            boolean any = all.stream().anyMatch(EncoderConditions::hasEncoderParts);
            this.hooks = any ? wb.projector().openHooks(1) : null;
            try {
                java.util.Set<org.neuronscope.media.EncoderMask> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
                for (int ci = 0; any && ci < all.size(); ci++) {
                    List<Part> parts = all.get(ci).parts();
                    for (int pi = 0; pi < parts.size(); pi++) {
                        NeuronSet set = parts.get(pi).set();
                        InterventionMask m = masks.get(ci).get(pi);
                        for (int l = 0; set.module().isEncoder() && l < m.layers(); l++) {
                            if (!m.isIdentity(l)) {
                                org.neuronscope.media.EncoderMask em = hooks.mask(set.module(), set.hookPoint(), l);
                                if (seen.add(em)) {
                                    touched.add(em);
                                }
                            }
                        }
                    }
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        private static boolean hasEncoderParts(Condition c) {
            return c.parts().stream().anyMatch(p -> p.set().module().isEncoder());
        }

        /** Puts condition {@code ci}'s encoder masks in place (every other mask the identity) for the next encodes. */
        void use(int ci) {
            int target = hooks != null && hasEncoderParts(all.get(ci)) ? ci : -1;
            if (target == current) {
                return;
            }
            touched.forEach(org.neuronscope.media.EncoderMask::identity);
            if (target >= 0) {
                List<Part> parts = all.get(ci).parts();
                for (int pi = 0; pi < parts.size(); pi++) {
                    NeuronSet set = parts.get(pi).set();
                    if (set.module().isEncoder()) {
                        hooks.apply(set.module(), masks.get(ci).get(pi), set.hookPoint());
                    }
                }
            }
            current = target;
        }

        @Override
        public void close() {
            if (hooks != null) {
                hooks.close();
            }
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
        Tally tally = new Tally(conditions);
        measure(wb, data, conditions, groupOf, maxTokens, samplesPerDecode, listener, tally::add);
        return tally.table();
    }

    /**
     * What one sample contributes to one condition's metrics: everything {@link #run} sums, as
     * measured, so that the sums can be formed later (e.g. on a Spark driver, from the partitions'
     * outcomes in dataset order) with the same operations in the same order.
     *
     * @param group       the sample's group
     * @param logitChange mean |Δ| of its next-token logits against the baseline
     * @param top1        whether its greedy next token is the baseline's
     * @param answer      its answer's scores, or null when it has no known answer
     * @param text        the log-probabilities of its prompt text's tokens, or null (samples with media)
     */
    public record Outcome(String group, double logitChange, boolean top1, Answer answer, double[] text) {
    }

    /**
     * A sample's answer scores under one condition.
     *
     * @param multipleChoice  whether the sample is a multiple-choice question
     * @param logProbs        the reference's (or the correct option letter's) token log-probabilities by teacher forcing
     * @param choiceLlCorrect multiple choice: whether the most likely option letter is the correct one
     * @param generated       whether a greedy answer was generated (the fields below are read only then)
     * @param correct         multiple choice: the option chosen in the answer is correct; open: exact match
     * @param substring       open: a reference is a substring of the answer
     * @param anls            open: ANLS
     * @param rougeL          open: ROUGE-L
     * @param wordErrors      open: word errors against the first reference
     */
    public record Answer(boolean multipleChoice, double[] logProbs, boolean choiceLlCorrect, boolean generated, boolean correct, boolean substring,
                         double anls, double rougeL, Metrics.WordErrors wordErrors) {
    }

    /**
     * Measures the baseline and every condition over {@code data} and hands each sample's outcomes
     * (index 0 the baseline, then the conditions in order) to {@code sink}, in dataset order.
     * Samples are decoded in slices of {@code samplesPerDecode} from the first: a caller that cuts a
     * dataset into parts at multiples of it decodes every sample with the same neighbours.
     */
    public static void measure(Workbench wb, Dataset data, List<Condition> conditions, Function<Sample, String> groupOf, int maxTokens,
                               int samplesPerDecode, Progress.Listener listener, java.util.function.Consumer<Outcome[]> sink) {
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
        Session session = wb.session();
        // Sample-major: each slice of samples runs under every condition in turn, so only that
        // slice's baseline logits are held (a vocabulary-wide vector per sample), never the
        // dataset's; each condition's sums still take the samples in dataset order, so the table is
        // the same as running one condition over the whole dataset after another.
        int nc = all.size();
        List<List<InterventionMask>> masks = new ArrayList<>(); // per condition, per part
        for (Condition c : all) {
            masks.add(c.parts().stream().map(Part::mask).toList());
        }
        Progress progress = new Progress("ablate", (long) all.size() * data.size(), 0, listener);
        try (Sampler greedy = Sampler.greedy(); EncoderConditions encoder = new EncoderConditions(wb, all, masks)) {
            for (int from = 0; from < data.size(); from += samplesPerDecode) {
                int to = Math.min(data.size(), from + samplesPerDecode);
                Outcome[][] slice = new Outcome[to - from][nc];
                float[][] baseline = null;
                for (int ci = 0; ci < nc; ci++) {
                    Condition c = all.get(ci);
                    // an encoder set is applied at encode time by the projector's hooks, a language set in the graph
                    encoder.use(ci);
                    try (HookScope scope = wb.hooks().openScope()) {
                        for (int pi = 0; pi < c.parts().size(); pi++) {
                            NeuronSet set = c.parts().get(pi).set();
                            if (!set.module().isEncoder()) {
                                scope.apply(masks.get(ci).get(pi), set.hookPoint());
                            }
                        }
                        float[][] next = nextTokenLogits(wb, data.samples().subList(from, to));
                        if (c == Condition.NONE) {
                            baseline = next;
                        }
                        for (int i = from; i < to; i++) {
                            Sample s = data.samples().get(i);
                            float[] logits = next[i - from];
                            float[] b = baseline[i - from];
                            double d = 0;
                            for (int k = 0; k < b.length; k++) {
                                d += Math.abs(logits[k] - b[k]);
                            }
                            boolean known = s.isMultipleChoice() ? s.answerIndex() != Sample.NO_ANSWER : !s.answers().isEmpty();
                            Answer answer = known ? answerMetrics(wb, greedy, s, maxTokens) : null;
                            double[] text = s.hasMedia() ? null : AnswerScoring.textLogProbs(session, 0,
                                    s.system() == null ? s.prompt() : s.system() + "\n\n" + s.prompt());
                            slice[i - from][ci] = new Outcome(groupOf.apply(s), d / b.length, argmax(logits) == argmax(b), answer, text);
                            progress.step();
                        }
                    }
                }
                for (Outcome[] o : slice) {
                    sink.accept(o);
                }
            }
        }
    }

    /**
     * The sums behind {@link #run}'s table, fed one sample's outcomes at a time in dataset order; the
     * same sums in the same order whether the outcomes come straight from {@link #measure} or from
     * the parts of a dataset measured elsewhere and concatenated.
     */
    public static final class Tally {
        private final List<String> names = new ArrayList<>();
        private final List<Map<String, double[]>> change = new ArrayList<>();   // per condition: group -> {sum, n}
        private final List<Map<String, Accuracy>> agree = new ArrayList<>();
        private final List<Map<String, Map<String, Accuracy>>> answers = new ArrayList<>();
        private final List<Map<String, Scores>> scores = new ArrayList<>();

        /** A tally of the baseline and {@code conditions}. */
        public Tally(List<Condition> conditions) {
            names.add(Condition.NONE.name());
            conditions.forEach(c -> names.add(c.name()));
            for (int ci = 0; ci < names.size(); ci++) {
                change.add(new LinkedHashMap<>());
                agree.add(new LinkedHashMap<>());
                answers.add(new LinkedHashMap<>());
                scores.add(new LinkedHashMap<>());
            }
        }

        /** Adds one sample's outcomes: the baseline's, then each condition's. */
        public void add(Outcome[] perCondition) {
            if (perCondition.length != names.size()) {
                throw new IllegalArgumentException(perCondition.length + " outcomes for " + names.size() + " conditions (the baseline included)");
            }
            for (int ci = 0; ci < perCondition.length; ci++) {
                Outcome o = perCondition[ci];
                String g = o.group();
                double[] acc = change.get(ci).computeIfAbsent(g, k -> new double[2]);
                acc[0] += o.logitChange();
                acc[1]++;
                agree.get(ci).merge(g, Accuracy.of(o.top1()), Accuracy::plus);
                if (o.answer() != null) {
                    add(o.answer(), answers.get(ci).computeIfAbsent(g, k -> new LinkedHashMap<>()), scores.get(ci).computeIfAbsent(g, k -> new Scores()));
                }
                if (o.text() != null) {
                    scores.get(ci).computeIfAbsent(g, k -> new Scores()).text.add(g, o.text());
                }
            }
        }

        private static void add(Answer a, Map<String, Accuracy> m, Scores sc) {
            sc.answer.add("", a.logProbs());
            if (a.multipleChoice()) {
                m.merge("choice_ll_accuracy", Accuracy.of(a.choiceLlCorrect()), Accuracy::plus);
            }
            if (a.generated()) {
                if (a.multipleChoice()) {
                    m.merge("option_accuracy", Accuracy.of(a.correct()), Accuracy::plus);
                } else {
                    m.merge("exact_match", Accuracy.of(a.correct()), Accuracy::plus);
                    m.merge("substring", Accuracy.of(a.substring()), Accuracy::plus);
                    sc.anlsSum += a.anls();
                    sc.rougeLSum += a.rougeL();
                    sc.anlsCount++;
                    sc.wordErrors = sc.wordErrors.plus(a.wordErrors());
                }
            }
        }

        /** The table of everything added so far. */
        public MetricTable table() {
            MetricTable table = new MetricTable();
            for (int ci = 0; ci < names.size(); ci++) {
                String name = names.get(ci);
                change.get(ci).forEach((g, v) -> table.put(name, g, "logit_change", v[0] / v[1]));
                agree.get(ci).forEach((g, a) -> table.put(name, g, "top1_agreement", a));
                answers.get(ci).forEach((g, m) -> m.forEach((metric, a) -> table.put(name, g, metric, a)));
                scores.get(ci).forEach((g, sc) -> sc.putInto(table, name, g));
            }
            table.baseline(Condition.NONE.name());
            return table;
        }
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
    private static Answer answerMetrics(Workbench wb, Sampler greedy, Sample s, int maxTokens) {
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
            double[] answerLp = null;
            boolean choiceLl = false;
            if (s.isMultipleChoice()) {
                int best = -1;
                double bestLp = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < s.choices().size(); i++) {
                    double[] lp = AnswerScoring.continuationLogProbs(session, 0, next, promptLogits,
                            AnswerScoring.answerTokens(tokenizer, String.valueOf((char) ('A' + i))));
                    double total = java.util.Arrays.stream(lp).sum();
                    if (i == s.answerIndex()) {
                        answerLp = lp;
                    }
                    if (total > bestLp) {
                        bestLp = total;
                        best = i;
                    }
                }
                choiceLl = best == s.answerIndex();
            } else {
                answerLp = AnswerScoring.continuationLogProbs(session, 0, next, promptLogits,
                        AnswerScoring.answerTokens(tokenizer, s.answers().getFirst()));
            }
            if (out == null) {
                return new Answer(s.isMultipleChoice(), answerLp, choiceLl, false, false, false, 0, 0, Metrics.WordErrors.ZERO);
            }
            if (s.isMultipleChoice()) {
                return new Answer(true, answerLp, choiceLl, true, Metrics.optionCorrect(out, s), false, 0, 0, Metrics.WordErrors.ZERO);
            }
            return new Answer(false, answerLp, false, true, Metrics.exactMatch(out, s.answers()) == 1.0, Metrics.substringMatch(out, s.answers()) == 1.0,
                    Metrics.anls(out, s.answers()), Metrics.rougeL(out, s.answers()), Metrics.wordErrors(out, s.answers().getFirst()));
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
