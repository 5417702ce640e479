package org.neuronscope.examples;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.collect.StatisticsCollector;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.TokenWeights;
import org.neuronscope.media.EncoderStatisticsCollector;
import org.neuronscope.media.Media;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.MultimodalPrompts;
import org.neuronscope.media.Projector;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.PromptSource;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

/**
 * The Java examples of the README, verbatim between the {@code README n} markers (a test checks
 * that the README shows exactly these lines, and runs them on synthetic models).
 */
public final class ReadmeExamples {
    private ReadmeExamples() {
    }

    /** Counts how often a neuron fires on a prompt, then switches it off. Returns P(fires). */
    public static double firingProbability(Path modelFile) {
        // README 1
        try (Model model = Model.load(modelFile);
             Session session = model.newSession(SessionParams.defaults().withContextSize(2048));
             HookScope hooks = session.hooks().openScope()) {           // removed again at the end of the block
            TokenWeights groups = hooks.tokenWeights(2);                    // two token groups
            Accumulator fired = hooks.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);   // count(act > 0)
            int[] tokens = model.tokenizer().tokenize("Bonjour tout le monde", true, false);
            try (Batch batch = Batch.ofTokens(session.batchSize())) {
                for (int i = 0; i < tokens.length; i++) batch.add(tokens[i], i, 0, i == tokens.length - 1);
                groups.setGroups(new int[tokens.length]);                   // all in group 0
                session.decode(batch);
            }
            double p = fired.get(2, 0, 42) / tokens.length;                // P(neuron 42 of layer 2 fires | group 0)
            hooks.mask(HookPoint.FFN_ACT, 2).deactivate(42);              // switched off from the next decode on
            return p;
        }
        // README end
    }

    /** LAPE on texts of three languages, the French neurons switched off, a matched random set. */
    public static NeuronSet languageNeurons(Path modelFile, Map<String, List<String>> textsByLanguage, Path out) throws IOException {
        // README 2
        List<String> languages = List.copyOf(textsByLanguage.keySet());     // e.g. en, fr, zh
        try (Model model = Model.load(modelFile);
             Session session = model.newSession(SessionParams.defaults().withContextSize(2048))) {
            NeuronSet languageNeurons;
            try (StatisticsCollector collector = StatisticsCollector.start(session, HookPoint.FFN_ACT, languages,
                    EnumSet.of(Statistic.COUNT), 0f, 0f)) {
                for (int g = 0; g < languages.size(); g++) {
                    for (String text : textsByLanguage.get(languages.get(g))) {
                        int[] tokens = model.tokenizer().tokenize(text, true, false);
                        try (Batch batch = Batch.ofTokens(tokens.length)) {
                            for (int i = 0; i < tokens.length; i++) batch.add(tokens[i], i, 0, false);
                            session.clearMemory();
                            int[] group = new int[tokens.length];
                            Arrays.fill(group, g);                            // every token counts for its language
                            collector.add(batch, group);
                        }
                    }
                }
                NeuronStatistics stats = collector.statistics();
                languageNeurons = EntropySelection.select(stats, EntropySelection.Params.DEFAULTS);   // LAPE
            }
            languageNeurons.save(out.resolve("lape.json"));
            NeuronSet baseline = RandomBaseline.matching(languageNeurons, "fr", 42, true);   // same count per layer
            baseline.save(out.resolve("random-fr.json"));
            try (HookScope hooks = session.hooks().openScope()) {
                hooks.apply(InterventionMask.of(languageNeurons, List.of("fr"), new Intervention.Deactivate()), HookPoint.FFN_ACT);
                // ... decodes here run with the French neurons switched off; closing the scope restores them
            }
            return languageNeurons;
        }
        // README end
    }

    /** Per-modality statistics of a multimodal dataset (text, image, audio, video tokens apart). */
    public static void modalityStatistics(Path modelFile, Path mmproj, Path dataset, Path out) throws IOException {
        // README 3
        try (Model model = Model.load(modelFile);
             Projector projector = Projector.load(model, mmproj, ProjectorParams.defaults());
             Session session = model.newSession(SessionParams.defaults().withContextSize(4096).withBatchSize(1024))) {
            PromptSource prompts = new MultimodalPrompts(projector, PromptFormat.chat());   // the model's chat template
            ModalityGrouping modalities = new ModalityGrouping();
            try (StatisticsCollector stats = StatisticsCollector.start(session, HookPoint.FFN_ACT, modalities.groupNames(),
                    EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f)) {
                for (Sample sample : Dataset.load(dataset)) {                 // question + image/audio/video paths
                    try (Prompt prompt = prompts.prepare(sample)) {
                        stats.add(prompt, modalities.groups(sample, prompt));  // per-modality counts and sums
                    }
                }
                stats.statistics().save(out);
            }
        }
        // README end
    }

    /** An image and its domain (MMNeuron's domains: charts, photos, ...). */
    public record DomainImage(Path path, String domain) {
    }

    /** Domain-specific neurons of the vision tower, selected by LAPE and pruned into a new mmproj. */
    public static void encoderNeurons(Path modelFile, Path mmproj, List<DomainImage> items, Path prunedMmproj) {
        try (Model model = Model.load(modelFile);
             Projector projector = Projector.load(model, mmproj, ProjectorParams.defaults())) {
            // README 4
            try (EncoderStatisticsCollector c = new EncoderStatisticsCollector(projector, Module.VISION, HookPoint.FFN_ACT,
                    List.of("chart", "photo"), EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f)) {
                for (var item : items) {
                    c.add(Media.image(item.path()), item.domain());          // each image counts for its domain
                }
                try (NeuronStatistics stats = c.statistics()) {                 // names its module: vision
                    NeuronSet set = EntropySelection.select(stats, EntropySelection.Params.DEFAULTS); // vision.ffn.act neurons
                    Manu.prune(mmproj, Module.VISION, set, "chart", prunedMmproj); // fc1 rows and biases zeroed; mtmd loads it
                }
            }
            // README end
        }
    }
}
