package org.neuronscope.spark;

import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.media.TokenGrouping;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tests' model, dataset and the single-process oracle ({@code neuronscope stats}'s code path). */
final class SparkFixtures {
    private SparkFixtures() {
    }

    static JobSetup setup() {
        return JobSetup.of(SyntheticFixtures.tiny("qwen2")).withThreads(1).withContext(1024, 128).withChatTemplate("raw");
    }

    /** A JSONL file of n samples, labelled en/fr (every third fr), with a blank line inside. */
    static Path dataset(Path dir, int n) throws IOException {
        return dataset(dir, n, "sentences");
    }

    /** The same, as {@code <name>.jsonl} (the dataset's name). */
    static Path dataset(Path dir, int n, String name) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lines.add("{\"id\": \"s" + i + "\", \"prompt\": \"Item " + i + ": a short sentence about " + (i * 13) + " things and "
                    + "x".repeat(i % 5) + ".\", \"language\": \"" + (i % 3 == 0 ? "fr" : "en") + "\"}");
            if (i == n / 2) {
                lines.add("");
            }
        }
        Path f = dir.resolve(name + ".jsonl");
        Files.write(f, lines);
        return f;
    }

    /** What {@code neuronscope stats} writes for the same dataset, model and options. */
    static NeuronStatistics singleProcess(JobSetup setup, Path dataset, Grouping grouping, SparkStats.Job job, Path out) {
        Dataset data = Dataset.load(dataset);
        TokenGrouping g = grouping.toGrouping();
        StatsExperiment.Params p = new StatsExperiment.Params(job.point(), EnumSet.copyOf(job.statistics()), 5 * setup.parallel(), setup.parallel());
        try (Workbench wb = Workbench.open(setup.toSetup())) {
            return StatsExperiment.run(wb, data, g, p, out, Progress.Listener.NONE);
        }
    }

    static void assertSameFiles(Path a, Path b) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(a)) {
            files = s.sorted().toList();
        }
        try (Stream<Path> s = Files.list(b)) {
            assertEquals(files.stream().map(Path::getFileName).toList(), s.sorted().map(Path::getFileName).toList());
        }
        assertTrue(files.size() >= 3);
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(b.resolve(f.getFileName())), f.getFileName() + " differs");
        }
    }

    /** Token counts and counts exactly, extrema exactly, sums to 1e-12 of the neuron's magnitude. Returns the largest relative difference. */
    static double assertEqualStatistics(NeuronStatistics expected, NeuronStatistics actual) {
        assertEquals(expected.groups(), actual.groups());
        assertEquals(expected.statistics(), actual.statistics());
        for (int g = 0; g < expected.groupCount(); g++) {
            assertEquals(expected.tokens(g), actual.tokens(g), "tokens of " + expected.groups().get(g));
        }
        double worst = 0;
        for (Statistic s : expected.statistics()) {
            boolean exact = s == Statistic.COUNT || s == Statistic.COUNT_ABS || s.isExtremum();
            for (int l = 0; l < expected.layers(); l++) {
                for (int g = 0; g < expected.groupCount(); g++) {
                    for (int n = 0; n < expected.neurons(); n++) {
                        double a = expected.get(s, l, g, n);
                        double b = actual.get(s, l, g, n);
                        if (exact) {
                            assertEquals(a, b, 0.0, s + " at " + l + "/" + g + "/" + n);
                        } else {
                            // relative to the sum of magnitudes where held (a signed sum may cancel)
                            double scale = expected.has(Statistic.SUM_ABS) && s == Statistic.SUM
                                    ? expected.get(Statistic.SUM_ABS, l, g, n) : Math.max(Math.abs(a), Math.abs(b));
                            double rel = scale == 0 ? Math.abs(a - b) : Math.abs(a - b) / scale;
                            worst = Math.max(worst, rel);
                            assertTrue(rel <= 1e-12, s + " at " + l + "/" + g + "/" + n + ": " + a + " vs " + b + " (" + rel + ")");
                        }
                    }
                }
            }
        }
        return worst;
    }
}
