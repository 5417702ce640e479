package org.neuronscope.experiments;

import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.PromptSource;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * MANU's unlearning workflow end to end (docs/METHODS.md §3): statistics of a forget and a retain
 * set, MANU's scores and cut, the chosen neurons pruned, repeated for a number of iterations on the
 * model as pruned so far (MANU's {@code prune_incremental.py}: collect → score → prune, each
 * iteration cutting α of all neurons again), then the pruned model written as a GGUF and both sets
 * evaluated before and after, against a matched random pruning.
 *
 * <p>The statistics of iteration k &gt; 1 are collected with the neurons pruned so far deactivated in
 * the graph, which computes what the pruned weights compute (AblationExportOracleTest). Neurons
 * already pruned score −Σw (no activation in either set) and are left out of later cuts.
 */
public final class UnlearnExperiment {
    private static final Logger LOG = LoggerFactory.getLogger(UnlearnExperiment.class);
    /** The label that tells forget from retain samples in the combined dataset. */
    public static final String SPLIT = "split";
    public static final String FORGET = "forget";
    public static final String RETAIN = "retain";
    /** The statistics passes: samples as given, and samples with media as their text alone. */
    public static final String MULTIMODAL = "multimodal";
    public static final String UNIMODAL = "unimodal";

    /**
     * @param manu        MANU's weights, score variant, α per iteration and cut
     * @param iterations  collect → score → prune rounds (MANU's {@code num_iterations}; 1 is {@code prune.py})
     * @param capRetain   use at most as many retain samples as forget samples for the statistics (MANU's code
     *                    collects the retain set for as many batches as the forget set has); a seeded random subset
     * @param withAnswers statistics prompts end with the sample's reference answer (MANU's code collects over
     *                    question and answer tokens); samples without one are their question alone
     * @param unimodalPass also score every sample with media as its text alone and prune the union of both cuts
     *                    (MANU's multimodal and unimodal masks); no effect on a dataset without media
     * @param maxTokens   greedy answer length for the evaluation of samples with references (0: no generation)
     * @param seed        seed of the retain subset and of the matched random pruning
     * @param encoder     an encoder module of the projector (vision, audio) whose units are pruned too, as MANU's code prunes
     *                    the vision encoder's fc1 for the multimodal group; or null (the language model only)
     */
    public record Params(Manu.Params manu, int iterations, boolean capRetain, boolean withAnswers, boolean unimodalPass, int maxTokens,
                         long seed, org.neuronscope.Module encoder) {
        /** The language model only. */
        public Params(Manu.Params manu, int iterations, boolean capRetain, boolean withAnswers, boolean unimodalPass, int maxTokens, long seed) {
            this(manu, iterations, capRetain, withAnswers, unimodalPass, maxTokens, seed, null);
        }

        public Params withEncoder(org.neuronscope.Module m) {
            return new Params(manu, iterations, capRetain, withAnswers, unimodalPass, maxTokens, seed, m);
        }

        public Params {
            if (encoder != null && encoder != org.neuronscope.Module.VISION && encoder != org.neuronscope.Module.AUDIO) {
                throw new IllegalArgumentException("the encoder to prune is vision or audio, not " + encoder);
            }
            if (iterations < 1) {
                throw new IllegalArgumentException("iterations must be at least 1, got " + iterations);
            }
            if (maxTokens < 0) {
                throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
            }
        }

        public static final Params DEFAULTS = new Params(Manu.Params.DEFAULTS, 1, true, true, true, 16, 2024);
    }

    /**
     * @param pruned     every pruned neuron, group {@value #FORGET}, with the iteration's score
     * @param perIteration neurons pruned in each iteration
     * @param prunedModel the written GGUF
     * @param table      the evaluation: rows none (before), manu (after), random (a matched random pruning), groups forget and retain
     */
    public record Result(NeuronSet pruned, List<Integer> perIteration, Path prunedModel, MetricTable table, NeuronSet prunedEncoder,
                         Path prunedProjector) {
        public Result(NeuronSet pruned, List<Integer> perIteration, Path prunedModel, MetricTable table) {
            this(pruned, perIteration, prunedModel, table, null, null);
        }
    }

    private UnlearnExperiment() {
    }

    /** The statistics MANU's importances need (no taps: everything is an in-graph reduction). */
    static final EnumSet<Statistic> STATISTICS = EnumSet.of(Statistic.COUNT, Statistic.COUNT_ABS, Statistic.SUM, Statistic.SUM_SQ,
            Statistic.SUM_ABS);

    /**
     * Runs the workflow; writes {@code out/iteration-<k>/<pass>/statistics}, {@code out/pruned-set.json} and
     * {@code out/pruned.gguf}. The model of {@code wb} is the one pruned.
     */
    public static Result run(Workbench wb, Dataset forget, Dataset retain, Params p, Path out, Progress.Listener listener) {
        if (forget.isEmpty() || retain.isEmpty()) {
            throw new IllegalArgumentException("unlearning needs samples in both sets: forget has " + forget.size() + ", retain " + retain.size());
        }
        if (p.encoder() != null && wb.projector() == null) {
            throw new IllegalArgumentException("pruning the " + p.encoder().id() + " encoder needs the projector (mmproj)");
        }
        Dataset retainForStats = p.capRetain() && retain.size() > forget.size() ? subset(retain, forget.size(), p.seed()) : retain;
        Dataset collect = combined(forget, retainForStats);
        LabelGrouping grouping = new LabelGrouping(SPLIT, List.of(FORGET, RETAIN), false); // every position, as MANU's hooks see them
        StatsExperiment.Params stats = new StatsExperiment.Params(HookPoint.FFN_ACT, STATISTICS, 10, 1);
        PromptSource statsPrompts = p.withAnswers() ? wb.prompts(wb.setup().format().withAnswerAppended(true)) : wb.prompts();
        NeuronSet pruned = null;
        List<Integer> perIteration = new ArrayList<>();
        // MANU's code scores each sample with its media (multimodal) and as its text alone (unimodal), cuts α
        // of each, and prunes the union; a dataset without media has one pass
        Map<String, Dataset> passes = new LinkedHashMap<>();
        passes.put(MULTIMODAL, collect);
        if (p.unimodalPass() && collect.stream().anyMatch(Sample::hasMedia)) {
            passes.put(UNIMODAL, textOnly(collect));
        }
        for (int it = 1; it <= p.iterations(); it++) {
            List<NeuronSet> chosen = new ArrayList<>();
            try (HookScope scope = wb.hooks().openScope()) {
                if (pruned != null && pruned.size() > 0) {
                    scope.apply(InterventionMask.of(pruned, List.of(FORGET), new Intervention.Deactivate()), pruned.hookPoint());
                }
                for (var pass : passes.entrySet()) { // every pass scores the model as pruned before this iteration
                    Path dir = out.resolve("iteration-" + it).resolve(pass.getKey());
                    try (NeuronStatistics s = StatsExperiment.run(wb, statsPrompts, pass.getValue(), grouping, stats, dir, listener)) {
                        chosen.add(Manu.select(s, s.groups().indexOf(FORGET), s, s.groups().indexOf(RETAIN), p.manu(), FORGET));
                    }
                }
            }
            NeuronSet next = pruned == null ? emptyLike(chosen.getFirst()) : pruned;
            int added = 0;
            for (NeuronSet c : chosen) {
                for (NeuronSet.Neuron n : c.neurons(FORGET)) {
                    if (!next.contains(FORGET, n.layer(), n.neuron())) {
                        next.add(FORGET, n.layer(), n.neuron(), n.score());
                        added++;
                    }
                }
            }
            pruned = next;
            perIteration.add(added);
            LOG.info("unlearn iteration {}/{}: {} neurons pruned ({} in all)", it, p.iterations(), added, pruned.size());
        }
        Map<String, String> params = new LinkedHashMap<>(pruned.params());
        params.put("iterations", Integer.toString(p.iterations()));
        params.put("retain_cap", Boolean.toString(p.capRetain()));
        params.put("retain_samples", Integer.toString(retainForStats.size()));
        params.put("answers_in_statistics", Boolean.toString(p.withAnswers()));
        params.put("passes", String.join(",", passes.keySet()));
        params.put("per_iteration", perIteration.toString());
        NeuronSet all = new NeuronSet(pruned.method(), pruned.hookPoint(), pruned.layers(), pruned.neurons(), params);
        all.ensureGroup(FORGET);
        for (NeuronSet.Neuron n : pruned.neurons(FORGET)) {
            all.add(FORGET, n.layer(), n.neuron(), n.score());
        }
        pruned = all;
        try {
            Files.createDirectories(out);
            pruned.save(out.resolve("pruned-set.json"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out.resolve("pruned-set.json") + ": " + e.getMessage(), e);
        }
        Path model = out.resolve("pruned.gguf");
        Manu.prune(wb.model().path(), pruned, FORGET, model);

        NeuronSet encoderSet = null;
        Path projector = null;
        if (p.encoder() != null) {
            encoderSet = encoderCut(wb, forget, retainForStats, p, out);
            projector = out.resolve("pruned-mmproj.gguf");
            Manu.prune(wb.setup().projector(), p.encoder(), encoderSet, FORGET, projector);
        }

        NeuronSet random = RandomBaseline.matchingUnion(pruned, List.of(FORGET), p.seed(), true);
        NeuronSet randomEncoder = encoderSet == null ? null : RandomBaseline.matchingUnion(encoderSet, List.of(FORGET), p.seed() + 1, true);
        Intervention off = new Intervention.Deactivate();
        // the encoder's cut is applied with the language model's, at encode time: what the pruned pair computes
        List<AblationExperiment.Condition> conditions = List.of(
                new AblationExperiment.Condition("manu", parts(pruned, List.of(FORGET), off, encoderSet)),
                new AblationExperiment.Condition("random", parts(random, random.groupNames(), off,
                        randomEncoder))); // both random sets' one group is the union's name, "forget"
        MetricTable table = AblationExperiment.run(wb, combined(forget, retain), conditions, s -> s.label(SPLIT), p.maxTokens(), listener);
        return new Result(pruned, List.copyOf(perIteration), model, table, encoderSet, projector);
    }

    /**
     * MANU's multimodal group: the encoder's units scored on the forget set's media against the retain set's
     * (the retain set as capped), and the top α cut once. The encoder runs before the language model, so the
     * language model's pruning does not change these activations; later iterations re-score the language model only.
     * The units are {@code ffn.act} of the encoder's FFN (act(fc1·x)): pruning fc1's row zeroes it.
     */
    static NeuronSet encoderCut(Workbench wb, Dataset forget, Dataset retain, Params p, Path out) {
        org.neuronscope.Module m = p.encoder();
        java.util.Set<Statistic> what = EnumSet.of(Statistic.COUNT_ABS, Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS);
        try (org.neuronscope.media.EncoderStatisticsCollector c = new org.neuronscope.media.EncoderStatisticsCollector(wb.projector(), m,
                HookPoint.FFN_ACT, List.of(FORGET, RETAIN), what, 0f, Manu.FREQ_THRESHOLD)) {
            int[] items = new int[2];
            for (int g = 0; g < 2; g++) {
                for (Sample s : g == 0 ? forget : retain) {
                    for (Path f : m == org.neuronscope.Module.VISION ? s.images() : s.audio()) {
                        c.add(m == org.neuronscope.Module.VISION ? org.neuronscope.media.Media.image(f) : org.neuronscope.media.Media.audio(f),
                                g == 0 ? FORGET : RETAIN);
                        items[g]++;
                    }
                }
            }
            if (items[0] == 0 || items[1] == 0) {
                throw new IllegalArgumentException("pruning the " + m.id() + " encoder needs " + (m == org.neuronscope.Module.VISION ? "images" : "audio")
                        + " in both sets: forget has " + items[0] + ", retain " + items[1]);
            }
            try (NeuronStatistics s = c.statistics()) {
                s.save(out.resolve("encoder-" + m.id()).resolve("statistics"));
                NeuronSet set = Manu.select(s, s.groupIndex(FORGET), s, s.groupIndex(RETAIN), p.manu(), FORGET);
                set.save(out.resolve("pruned-" + m.id() + "-set.json"));
                LOG.info("unlearn: {} {} units of the {} encoder pruned ({} and {} media items)", set.size(FORGET), m.id(), m.id(), items[0], items[1]);
                return set;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the encoder's statistics under " + out + ": " + e.getMessage(), e);
        }
    }

    /** Forget and retain samples in one dataset, labelled {@value #SPLIT} = forget / retain, ids prefixed to stay unique. */
    static Dataset combined(Dataset forget, Dataset retain) {
        List<Sample> all = new ArrayList<>();
        for (Sample s : forget) {
            all.add(relabel(s, FORGET));
        }
        for (Sample s : retain) {
            all.add(relabel(s, RETAIN));
        }
        return Dataset.of(forget.name() + "+" + retain.name(), all);
    }

    private static Sample relabel(Sample s, String split) {
        Map<String, String> labels = new LinkedHashMap<>(s.labels());
        labels.put(SPLIT, split);
        return new Sample(split + "/" + s.id(), s.prompt(), s.system(), s.images(), s.audio(), s.video(), s.answers(), s.choices(),
                s.answerIndex(), labels);
    }

    /** The samples without their media (MANU's unimodal inputs: the question alone). */
    static Dataset textOnly(Dataset d) {
        List<Sample> out = new ArrayList<>();
        for (Sample s : d) {
            out.add(new Sample(s.id(), s.prompt(), s.system(), List.of(), List.of(), List.of(), s.answers(), s.choices(), s.answerIndex(),
                    s.labels()));
        }
        return Dataset.of(d.name() + "[text]", out);
    }

    /** {@code n} samples drawn without replacement (seeded), in their original order. */
    static Dataset subset(Dataset d, int n, long seed) {
        int[] idx = new int[d.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            int j = i + rng.nextInt(idx.length - i);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        int[] chosen = java.util.Arrays.copyOf(idx, n);
        java.util.Arrays.sort(chosen);
        List<Sample> keep = new ArrayList<>();
        for (int i : chosen) {
            keep.add(d.samples().get(i));
        }
        return Dataset.of(d.name() + "[" + n + "]", keep);
    }

    private static NeuronSet emptyLike(NeuronSet s) {
        NeuronSet n = new NeuronSet(s.method(), s.hookPoint(), s.layers(), s.neurons(), new LinkedHashMap<>(s.params()));
        n.ensureGroup(FORGET);
        return n;
    }

    /** The language model's set, and the encoder's (when there is one) with the same groups and intervention. */
    private static List<AblationExperiment.Part> parts(NeuronSet language, java.util.Collection<String> groups, Intervention off,
                                                       NeuronSet encoder) {
        AblationExperiment.Part lm = new AblationExperiment.Part(language, groups, off);
        return encoder == null ? List.of(lm) : List.of(lm, new AblationExperiment.Part(encoder, groups, off));
    }
}
