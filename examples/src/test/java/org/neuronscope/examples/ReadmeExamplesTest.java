package org.neuronscope.examples;

import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;
import org.neuronscope.testkit.SyntheticMedia;
import org.neuronscope.testkit.SyntheticProjectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's Java is {@link ReadmeExamples}'s, and it runs. */
class ReadmeExamplesTest {
    /** The project root: Maven runs the tests in the module's directory. */
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    @Test
    void theReadmeShowsExactlyTheCompiledExamples() throws IOException {
        List<String> readme = new ArrayList<>();
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(ROOT.resolve("README.md")));
        while (m.find()) {
            readme.add(m.group(1).strip());
        }
        List<String> compiled = new ArrayList<>();
        List<String> lines = Files.readAllLines(ROOT.resolve("examples/src/main/java/org/neuronscope/examples/ReadmeExamples.java"));
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).strip().matches("// README \\d+")) {
                int indent = lines.get(i).indexOf('/');
                StringBuilder b = new StringBuilder();
                for (i++; !lines.get(i).strip().equals("// README end"); i++) {
                    b.append(lines.get(i).length() > indent ? lines.get(i).substring(indent) : lines.get(i).strip()).append('\n');
                }
                compiled.add(b.toString().strip());
            }
        }
        assertEquals(4, compiled.size());
        assertEquals(compiled, readme, "README.md's java blocks must be ReadmeExamples' marked blocks, in order");
    }

    @Test
    void firingProbabilityRuns() {
        double p = ReadmeExamples.firingProbability(SyntheticFixtures.tiny("qwen2"));
        assertTrue(p >= 0 && p <= 1, "a probability: " + p);
    }

    @Test
    void languageNeuronsRun(@TempDir Path out) throws IOException {
        Map<String, List<String>> texts = new LinkedHashMap<>();
        texts.put("en", List.of("The weather is nice today.", "I would like a cup of tea."));
        texts.put("fr", List.of("Il fait beau aujourd'hui.", "Je voudrais une tasse de thé."));
        texts.put("zh", List.of("今天天气很好。", "我想要一杯茶。"));
        NeuronSet set = ReadmeExamples.languageNeurons(SyntheticFixtures.tiny("qwen2"), texts, out);
        NeuronSet saved = NeuronSet.load(out.resolve("lape.json"));
        assertEquals(set.groupNames(), saved.groupNames());
        for (String g : set.groupNames()) {
            assertEquals(set.neurons(g), saved.neurons(g), g);
        }
        assertEquals(set.size("fr"), NeuronSet.load(out.resolve("random-fr.json")).size("fr"), "the baseline matches the French set's size");
    }

    @Test
    void modalityStatisticsRun(@TempDir Path work) throws IOException {
        Path mmproj = SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), work.resolve("mmproj.gguf"));
        SyntheticMedia.writePng(work.resolve("cat.png"), 64, 48, 1);
        Path data = work.resolve("vqa.jsonl");
        Files.writeString(data, "{\"id\": \"i0\", \"question\": \"What is in the picture?\", \"image\": \"cat.png\"}\n"
                + "{\"id\": \"t0\", \"question\": \"Tell me a fact about glaciers.\"}\n");
        Path out = work.resolve("stats-vqa");
        ReadmeExamples.modalityStatistics(SyntheticFixtures.tiny("qwen2vl"), mmproj, data, out);
        try (NeuronStatistics s = NeuronStatistics.load(out)) {
            assertTrue(s.has(Statistic.COUNT) && s.has(Statistic.SUM));
            assertTrue(s.tokens(s.groupIndex("image")) > 0 && s.tokens(s.groupIndex("text")) > 0,
                    "image and text tokens were counted apart");
        }
    }

    @Test
    void encoderNeuronsRun(@TempDir Path work) throws IOException {
        Path mmproj = SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), work.resolve("mmproj.gguf"));
        List<ReadmeExamples.DomainImage> items = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Path png = work.resolve("img-" + i + ".png");
            SyntheticMedia.writePng(png, 64, 48, i);
            items.add(new ReadmeExamples.DomainImage(png, i % 2 == 0 ? "chart" : "photo"));
        }
        Path pruned = work.resolve("pruned-mmproj.gguf");
        ReadmeExamples.encoderNeurons(SyntheticFixtures.tiny("qwen2vl"), mmproj, items, pruned);
        assertTrue(Files.size(pruned) > 0.9 * Files.size(mmproj), "the pruned mmproj is written");
    }
}
