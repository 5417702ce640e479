package com.example.consumer;

import org.neuronscope.HookPoint;
import org.neuronscope.collect.StatisticsCollector;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.Vocabularies;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NeuronScope from another project: a small random-weight model (no download), per-language firing
 * counts of its FFN neurons, LAPE's selection. Exits with 1 if anything came out empty.
 */
public final class Consumer {
    public static void main(String[] args) throws Exception {
        Path work = Files.createDirectories(Path.of(args.length > 0 ? args[0] : "work"));
        Path modelFile = SyntheticModels.write(ModelSpec.tiny("qwen2", Vocabularies.qwen2Small()), work.resolve("tiny-qwen2.gguf"));
        Map<String, List<String>> texts = new LinkedHashMap<>();
        texts.put("en", List.of("The cat sat on the mat.", "It is raining in the city today.", "Where is the station?"));
        texts.put("fr", List.of("Le chat est sur le tapis.", "Il pleut en ville aujourd'hui.", "Où est la gare ?"));
        List<String> languages = List.copyOf(texts.keySet());
        try (Model model = Model.load(modelFile);
             Session session = model.newSession(SessionParams.defaults().withContextSize(512));
             StatisticsCollector collector = StatisticsCollector.start(session, HookPoint.FFN_ACT, languages,
                     EnumSet.of(Statistic.COUNT), 0f, 0f)) {
            for (int g = 0; g < languages.size(); g++) {
                for (String text : texts.get(languages.get(g))) {
                    int[] tokens = model.tokenizer().tokenize(text, true, false);
                    try (Batch batch = Batch.ofTokens(tokens.length)) {
                        for (int i = 0; i < tokens.length; i++) {
                            batch.add(tokens[i], i, 0, false);
                        }
                        session.clearMemory();
                        int[] group = new int[tokens.length];
                        Arrays.fill(group, g);
                        collector.add(batch, group);
                    }
                }
            }
            NeuronStatistics stats = collector.statistics();
            NeuronSet set = EntropySelection.select(stats, new EntropySelection.Params(0.05, 0.9, 0.9));
            set.save(work.resolve("lape.json"));
            System.out.printf("consumer: %d layers x %d neurons, tokens en=%d fr=%d, %d neurons selected (en %d, fr %d)%n",
                    stats.layers(), stats.neurons(), stats.tokens(0), stats.tokens(1), set.size(), set.size("en"), set.size("fr"));
            if (stats.tokens(0) == 0 || stats.tokens(1) == 0 || set.size() == 0) {
                System.exit(1);
            }
        }
    }
}
