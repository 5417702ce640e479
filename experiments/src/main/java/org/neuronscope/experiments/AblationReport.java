package org.neuronscope.experiments;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What {@code ablate} writes beside its table: each set's matched random set, {@code table.txt} (the
 * table as text and each set's neurons per layer), {@code table.csv} and the HTML report
 * {@code report/index.html} with its charts. The command line's {@code ablate} and its Spark entry
 * point both write their table through this, so the same run gives the same files.
 *
 * @param dataset      the dataset's file, as given
 * @param model        the language model's file, as given
 * @param mmproj       the projector's file, or null
 * @param setFiles     the neuron sets' files, in {@code --set} order
 * @param sets         the sets, in the same order
 * @param random       each set's matched random set, in the same order
 * @param groups       the groups intervened on (null: all of each set)
 * @param intervention the intervention of every condition
 * @param seed         the first random set's seed (the i-th set's is seed + i)
 * @param moduleSets   MMNeuron's module sets as the report lists them ({@code "vision = vision.ffn.act; all = ..."}), or null without them
 */
public record AblationReport(Path dataset, Path model, Path mmproj, List<Path> setFiles, List<NeuronSet> sets, List<NeuronSet> random,
                             List<String> groups, Intervention intervention, long seed, String moduleSets) {
    public AblationReport {
        setFiles = List.copyOf(setFiles);
        sets = List.copyOf(sets);
        random = List.copyOf(random);
        groups = groups == null ? null : List.copyOf(groups);
        if (sets.isEmpty() || setFiles.size() != sets.size() || random.size() != sets.size()) {
            throw new IllegalArgumentException(setFiles.size() + " set files, " + sets.size() + " sets and " + random.size()
                    + " random sets: one of each per set (at least one)");
        }
    }

    /**
     * The files written.
     *
     * @param report      {@code report/index.html}
     * @param randomFiles the random sets' files, in set order
     * @param layers      the sets' neurons per layer as text (the end of {@code table.txt})
     */
    public record Written(Path report, List<Path> randomFiles, String layers) {
    }

    /** Writes the files under {@code out} for {@code table}, the result of the run over {@code data} grouped by {@code groupOf}. */
    public Written write(Path out, MetricTable table, Dataset data, Function<Sample, String> groupOf) {
        try {
            Files.createDirectories(out);
            List<Path> randomFiles = new ArrayList<>();
            for (int i = 0; i < random.size(); i++) {
                Path f = out.resolve(random.size() == 1 ? "random.json" : "random-" + (i + 1) + "-" + sets.get(i).module().id() + ".json");
                random.get(i).save(f);
                randomFiles.add(f);
            }
            StringBuilder layers = new StringBuilder();
            for (NeuronSet s : sets) {
                layers.append(NeuronTables.text(s)).append('\n');
            }
            Files.writeString(out.resolve("table.txt"), table.toText(4) + "\n" + layers);
            Files.writeString(out.resolve("table.csv"), table.toCsv());
            return new Written(html(out, table, data, groupOf, randomFiles), randomFiles, layers.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the ablation's files under " + out + ": " + e.getMessage(), e);
        }
    }

    private Path html(Path out, MetricTable table, Dataset data, Function<Sample, String> groupOf, List<Path> randomFiles) {
        Path dir = out.resolve("report");
        HtmlReport html = new HtmlReport("NeuronScope ablation: " + setFiles.stream().map(p -> p.getFileName().toString())
                .collect(Collectors.joining(", ")));
        Map<String, Long> perGroup = data.samples().stream().collect(Collectors.groupingBy(groupOf, LinkedHashMap::new, Collectors.counting()));
        html.paragraph("Dataset " + dataset + ", model " + model + (mmproj != null ? " + " + mmproj : "")
                + "; groups " + (groups == null ? "all of each set" : groups) + ", mode " + intervention + ", random seed " + seed
                + (sets.size() > 1 ? " (+i for the i-th set)" : "") + ".");
        if (moduleSets != null) {
            html.paragraph("Module sets: " + moduleSets + ".");
        }
        html.paragraph("Samples per group: " + perGroup.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                .collect(Collectors.joining(", ")) + " (" + data.size() + " in all). Intervals are 95 % Wilson intervals.");
        html.metricTable(table, 4);
        html.link(dir, out.resolve("table.csv"), "table.csv: every value at full precision, with intervals and deltas");
        html.link(dir, out.resolve("table.txt"), "table.txt: the table as text, and the neurons per layer of each set");
        for (int i = 0; i < sets.size(); i++) {
            html.link(dir, setFiles.get(i), setFiles.get(i).getFileName() + ": the neuron set (" + sets.get(i).qualifiedPoint() + ")");
            html.link(dir, randomFiles.get(i), randomFiles.get(i).getFileName() + ": its matched random set");
        }
        html.heading("Neurons per layer, per module");
        for (int i = 0; i < sets.size(); i++) {
            NeuronSet s = sets.get(i);
            html.neuronTable(s);
            String png = sets.size() == 1 ? "layers.png" : "layers-" + (i + 1) + "-" + s.module().id() + ".png";
            html.image(dir, Charts.neuronsPerLayer(s, s.qualifiedPoint() + ": neurons per layer", dir.resolve(png)),
                    s.qualifiedPoint() + ": neurons per layer per group");
        }
        for (String metric : table.metrics()) {
            html.image(dir, Charts.ablationDeltas(table, metric, metric + ": change vs no intervention", dir.resolve(metric + ".png")), metric);
        }
        return html.write(dir.resolve("index.html"));
    }
}
