package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.Charts;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;

/** {@code neuronscope ablate}: a dataset evaluated with a neuron set intervened on, against a matched random set. */
@Command(name = "ablate", mixinStandardHelpOptions = true,
        description = "Evaluate a dataset with a neuron set switched off (or set, or kept alone) and with a matched random set; tables, charts and an HTML report.")
final class AblateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    ModelOptions model;
    @Option(names = "--dataset", required = true, description = "JSONL dataset")
    Path dataset;
    @Option(names = "--set", required = true, description = "neuron set JSON (from 'neuronscope select')")
    Path set;
    @Option(names = "--groups", split = ",", description = "groups of the set to intervene on (default: all)")
    List<String> groups;
    @Option(names = "--mode", defaultValue = "deactivate",
            description = "deactivate, set[:c], scale[:s], complementary[:<mode>], or minimum (MINER's: each layer's smallest observed activation, "
                    + "from --stats) (default: ${DEFAULT-VALUE})")
    Intervention mode;
    @Option(names = "--stats", description = "minimum: statistics directory with MIN (written by 'neuronscope stats')")
    Path stats;
    @Option(names = "--value", description = "the value of a bare --mode set or scale")
    Float value;
    @Option(names = "--random-seed", defaultValue = "42", description = "seed of the matched random set (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--max-tokens", defaultValue = "16", description = "greedy answer length for samples with references (default: ${DEFAULT-VALUE})")
    int maxTokens;
    @Option(names = "--group-by", defaultValue = "media", description = "media (image/audio/video/text), or label:<name> (default: ${DEFAULT-VALUE})")
    String groupBy;
    @Option(names = "--parallel", defaultValue = "1", description = "prompts decoded together for the next-token metrics; --ctx is shared among them (default: ${DEFAULT-VALUE})")
    int parallel;
    @Option(names = "--out", required = true, description = "output directory (table.txt, table.csv, report/)")
    Path out;

    @Override
    public Integer call() throws Exception {
        CliSupport.checkWritableDirectory(out, "--out");
        Dataset data = Dataset.load(dataset);
        NeuronSet s = NeuronSet.load(set);
        List<String> g = groups == null ? s.groupNames() : groups;
        // one random draw the size of the groups' union, per layer: overlapping groups switch off each neuron once
        NeuronSet random = RandomBaseline.matchingUnion(s, g, seed, true);
        String label = CliSupport.labelName(groupBy);
        if (!groupBy.equals("media") && label == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--group-by must be 'media' or 'label:<name>', got " + groupBy);
        }
        if (label != null) {
            data.requireLabelValues(label); // the rule stats applies: some sample has the label, and every one does
        }
        Function<Sample, String> groupOf = label != null ? sample -> sample.label(label) : AblationExperiment.BY_MEDIA;
        Intervention intervention = withValue(mode);
        if (intervention.needsMinima()) {
            if (stats == null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--mode " + modeText() + " needs --stats <directory written by 'neuronscope stats'>");
            }
            Path dir = CliSupport.statisticsDir(stats);
            try (NeuronStatistics observed = NeuronStatistics.load(dir)) {
                if (!observed.has(Statistic.MIN)) {
                    throw new IllegalArgumentException(dir + " holds no MIN statistic");
                }
                intervention = intervention.withMinima(InterventionMask.layerMinima(observed));
            }
        }
        List<AblationExperiment.Condition> conditions = List.of(
                new AblationExperiment.Condition(s.method() + " " + intervention, s, g, intervention),
                new AblationExperiment.Condition("random " + intervention, random, random.groupNames(), intervention));
        MetricTable table;
        try (Workbench wb = Workbench.open(model.setup(parallel))) {
            table = AblationExperiment.run(wb, data, conditions, groupOf, maxTokens, parallel, CliSupport.bar(spec.commandLine().getErr()));
        }
        Files.createDirectories(out);
        random.save(out.resolve("random.json"));
        Files.writeString(out.resolve("table.txt"), table.toText(4));
        Files.writeString(out.resolve("table.csv"), table.toCsv());
        Path dir = out.resolve("report");
        HtmlReport html = new HtmlReport("NeuronScope ablation: " + set.getFileName());
        java.util.Map<String, Long> perGroup = data.samples().stream()
                .collect(java.util.stream.Collectors.groupingBy(groupOf, java.util.LinkedHashMap::new, java.util.stream.Collectors.counting()));
        html.paragraph("Dataset " + dataset + ", model " + model.model() + (model.mmproj() != null ? " + " + model.mmproj() : "")
                + "; groups " + g + ", mode " + intervention + ", random seed " + seed + ".");
        html.paragraph("Samples per group: " + perGroup.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                .collect(java.util.stream.Collectors.joining(", ")) + " (" + data.size() + " in all). Intervals are 95 % Wilson intervals.");
        html.metricTable(table, 4);
        html.link(dir, out.resolve("table.csv"), "table.csv: every value at full precision, with intervals and deltas");
        html.link(dir, out.resolve("table.txt"), "table.txt: the table as text");
        html.link(dir, set, set.getFileName() + ": the neuron set");
        html.link(dir, out.resolve("random.json"), "random.json: the matched random set");
        html.image(dir, Charts.neuronsPerLayer(s, "Neurons per layer", dir.resolve("layers.png")), "neurons per layer per group");
        for (String metric : table.metrics()) {
            html.image(dir, Charts.ablationDeltas(table, metric, metric + ": change vs no intervention", dir.resolve(metric + ".png")), metric);
        }
        Path report = html.write(dir.resolve("index.html"));
        spec.commandLine().getOut().println(table.toText(4));
        spec.commandLine().getOut().println("report: " + report);
        return 0;
    }

    /** A bare {@code set} or {@code scale} takes its number from --value. */
    private Intervention withValue(Intervention i) {
        if (value == null) {
            if (modeText().strip().equalsIgnoreCase("scale")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--mode scale needs --value <factor> (or write scale:<factor>)");
            }
            return i; // a bare set is set:0
        }
        return switch (i) {
            case Intervention.SetTo t -> new Intervention.SetTo(value);
            case Intervention.Scale t -> new Intervention.Scale(value);
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "--value applies to --mode set and scale, not " + i);
        };
    }

    /** The --mode as the user typed it, for messages. */
    private String modeText() {
        var matched = spec.commandLine().getParseResult().matchedOption("--mode");
        return matched == null ? String.valueOf(mode) : matched.stringValues().get(0);
    }
}
