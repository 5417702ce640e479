package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.Charts;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.NeuronTables;
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
import java.util.ArrayList;
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
    @Option(names = "--set", required = true, description = "neuron set JSON (from 'neuronscope select'); repeat it for sets of "
            + "several modules (language, vision, audio, projector: e.g. one per module, as MMNeuron selects them), which --modules "
            + "combines")
    List<Path> sets;
    @Option(names = "--modules", split = ",", description = "MMNeuron's module sets, one condition each (and a matched random one): "
            + "none (nothing switched off: the baseline again), language, vision, audio, projector (the sets of that module), all "
            + "(every set given), or modules joined by '+' (vision+projector); e.g. none,language,vision,projector,all (default: one "
            + "condition with every set)")
    List<String> modules;
    @Option(names = "--groups", split = ",", description = "groups of the set to intervene on (default: all)")
    List<String> groups;
    @Option(names = "--mode", defaultValue = "deactivate",
            description = "deactivate, set[:c], scale[:s], complementary[:<mode>], minimum (each layer's smallest activation observed in "
                    + "--stats, one value per layer), or minimum:call (MINER's code: the smallest value of the layer's whole activation tensor "
                    + "in each call, computed in the graph at every decode; complementary:minimum:call sets every other neuron to it) "
                    + "(default: ${DEFAULT-VALUE})")
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
        List<NeuronSet> loaded = new ArrayList<>();
        for (Path p : sets) {
            loaded.add(NeuronSet.load(p));
        }
        List<ModuleSet> moduleSets = moduleSets(loaded);
        for (int i = 0; i < loaded.size(); i++) { // every used set has the groups asked for, before any work
            NeuronSet s = loaded.get(i);
            boolean used = moduleSets.stream().anyMatch(m -> m.sets().contains(s));
            if (!used) {
                spec.commandLine().getErr().println("note: " + sets.get(i) + " (" + s.qualifiedPoint() + ") is in no module set of --modules " + modules);
            }
            if (used && s.module().isEncoder() && model.mmproj() == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), sets.get(i) + " holds " + s.qualifiedPoint()
                        + " neurons, an encoder's: ablating them needs --mmproj");
            }
            for (String name : groups == null ? List.<String>of() : groups) {
                if (used && !s.hasGroup(name)) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--groups: " + sets.get(i) + " has no group '" + name
                            + "' (it has " + s.groupNames() + ")");
                }
            }
        }
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
            for (int i = 0; i < loaded.size(); i++) {
                if (loaded.get(i).module().isEncoder()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--mode " + modeText() + " takes the language model's "
                            + "per-layer minima; " + sets.get(i) + " holds " + loaded.get(i).qualifiedPoint() + " neurons (encoder statistics have no MIN)");
                }
            }
            Path dir = CliSupport.statisticsDir(stats);
            try (NeuronStatistics observed = NeuronStatistics.load(dir)) {
                if (!observed.has(Statistic.MIN)) {
                    throw new IllegalArgumentException(dir + " holds no MIN statistic");
                }
                intervention = intervention.withMinima(InterventionMask.layerMinima(observed));
            }
        }
        if (intervention.usesCallMinimum()) {
            for (int i = 0; i < loaded.size(); i++) {
                if (loaded.get(i).module().isEncoder()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--mode " + modeText() + " is built for the language model's "
                            + "hooks; " + sets.get(i) + " holds " + loaded.get(i).qualifiedPoint() + " neurons (an encoder's: deactivate, set, "
                            + "scale or complementary)");
                }
            }
        }
        // per set: one random draw the size of the groups' union, per layer (overlapping groups switch off each neuron once)
        List<NeuronSet> random = new ArrayList<>();
        for (int i = 0; i < loaded.size(); i++) {
            NeuronSet s = loaded.get(i);
            random.add(RandomBaseline.matchingUnion(s, groups == null ? s.groupNames() : groups, seed + i, true));
        }
        List<AblationExperiment.Condition> conditions = new ArrayList<>();
        for (ModuleSet m : moduleSets) {
            List<AblationExperiment.Part> parts = new ArrayList<>();
            List<AblationExperiment.Part> randomParts = new ArrayList<>();
            for (NeuronSet s : m.sets()) {
                parts.add(new AblationExperiment.Part(s, groups == null ? s.groupNames() : groups, intervention));
                NeuronSet r = random.get(loaded.indexOf(s));
                randomParts.add(new AblationExperiment.Part(r, r.groupNames(), intervention));
            }
            conditions.add(new AblationExperiment.Condition(m.name() + " " + intervention, parts));
            if (!parts.isEmpty()) {
                conditions.add(new AblationExperiment.Condition("random " + (modules == null ? "" : m.name() + " ") + intervention, randomParts));
            }
        }
        MetricTable table;
        try (Workbench wb = Workbench.open(model.setup(parallel))) {
            table = AblationExperiment.run(wb, data, conditions, groupOf, maxTokens, parallel, CliSupport.bar(spec.commandLine().getErr()));
        }
        Files.createDirectories(out);
        List<Path> randomFiles = new ArrayList<>();
        for (int i = 0; i < random.size(); i++) {
            Path f = out.resolve(random.size() == 1 ? "random.json" : "random-" + (i + 1) + "-" + loaded.get(i).module().id() + ".json");
            random.get(i).save(f);
            randomFiles.add(f);
        }
        StringBuilder layers = new StringBuilder();
        for (NeuronSet s : loaded) {
            layers.append(NeuronTables.text(s)).append('\n');
        }
        Files.writeString(out.resolve("table.txt"), table.toText(4) + "\n" + layers);
        Files.writeString(out.resolve("table.csv"), table.toCsv());
        Path dir = out.resolve("report");
        HtmlReport html = new HtmlReport("NeuronScope ablation: " + sets.stream().map(p -> p.getFileName().toString())
                .collect(java.util.stream.Collectors.joining(", ")));
        java.util.Map<String, Long> perGroup = data.samples().stream()
                .collect(java.util.stream.Collectors.groupingBy(groupOf, java.util.LinkedHashMap::new, java.util.stream.Collectors.counting()));
        html.paragraph("Dataset " + dataset + ", model " + model.model() + (model.mmproj() != null ? " + " + model.mmproj() : "")
                + "; groups " + (groups == null ? "all of each set" : groups) + ", mode " + intervention + ", random seed " + seed
                + (loaded.size() > 1 ? " (+i for the i-th set)" : "") + ".");
        if (modules != null) {
            html.paragraph("Module sets: " + moduleSets.stream().map(m -> m.name() + " = " + (m.sets().isEmpty() ? "nothing"
                    : m.sets().stream().map(NeuronSet::qualifiedPoint).collect(java.util.stream.Collectors.joining(" + "))))
                    .collect(java.util.stream.Collectors.joining("; ")) + ".");
        }
        html.paragraph("Samples per group: " + perGroup.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                .collect(java.util.stream.Collectors.joining(", ")) + " (" + data.size() + " in all). Intervals are 95 % Wilson intervals.");
        html.metricTable(table, 4);
        html.link(dir, out.resolve("table.csv"), "table.csv: every value at full precision, with intervals and deltas");
        html.link(dir, out.resolve("table.txt"), "table.txt: the table as text, and the neurons per layer of each set");
        for (int i = 0; i < loaded.size(); i++) {
            html.link(dir, sets.get(i), sets.get(i).getFileName() + ": the neuron set (" + loaded.get(i).qualifiedPoint() + ")");
            html.link(dir, randomFiles.get(i), randomFiles.get(i).getFileName() + ": its matched random set");
        }
        html.heading("Neurons per layer, per module");
        for (int i = 0; i < loaded.size(); i++) {
            NeuronSet s = loaded.get(i);
            html.neuronTable(s);
            String png = loaded.size() == 1 ? "layers.png" : "layers-" + (i + 1) + "-" + s.module().id() + ".png";
            html.image(dir, Charts.neuronsPerLayer(s, s.qualifiedPoint() + ": neurons per layer", dir.resolve(png)),
                    s.qualifiedPoint() + ": neurons per layer per group");
        }
        for (String metric : table.metrics()) {
            html.image(dir, Charts.ablationDeltas(table, metric, metric + ": change vs no intervention", dir.resolve(metric + ".png")), metric);
        }
        Path report = html.write(dir.resolve("index.html"));
        spec.commandLine().getOut().println(table.toText(4));
        spec.commandLine().getOut().print(layers);
        spec.commandLine().getOut().println("report: " + report);
        return 0;
    }

    /** One condition's sets: a --modules entry (or, without --modules, every set under its method's name). */
    record ModuleSet(String name, List<NeuronSet> sets) {
    }

    /**
     * --modules parsed and checked against the sets: every entry is none, all or modules joined by
     * '+', no entry twice, and every module it names has a set.
     */
    private List<ModuleSet> moduleSets(List<NeuronSet> loaded) {
        if (modules == null) {
            String name = loaded.size() == 1 ? loaded.getFirst().method()
                    : loaded.stream().map(NeuronSet::method).distinct().collect(java.util.stream.Collectors.joining("+"));
            return List.of(new ModuleSet(name, loaded));
        }
        if (modules.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--modules is empty: give none, language, vision, audio, projector, all");
        }
        String held = java.util.stream.IntStream.range(0, loaded.size())
                .mapToObj(i -> loaded.get(i).module() + " (" + sets.get(i).getFileName() + ")").collect(java.util.stream.Collectors.joining(", "));
        List<ModuleSet> out = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String entry : modules) {
            String e = entry.strip().toLowerCase(java.util.Locale.ROOT);
            java.util.EnumSet<org.neuronscope.Module> mods = java.util.EnumSet.noneOf(org.neuronscope.Module.class);
            if (e.equals("all")) {
                loaded.forEach(s -> mods.add(s.module()));
            } else if (!e.equals("none")) {
                for (String part : e.split("\\+", -1)) {
                    org.neuronscope.Module m;
                    try {
                        m = org.neuronscope.Module.parse(part.strip());
                    } catch (IllegalArgumentException x) {
                        throw new CommandLine.ParameterException(spec.commandLine(), "--modules: '" + entry + "': unknown module '" + part
                                + "' (none, language, vision, audio, projector, all, or modules joined by '+')");
                    }
                    if (loaded.stream().noneMatch(s -> s.module() == m)) {
                        throw new CommandLine.ParameterException(spec.commandLine(), "--modules: '" + entry + "' needs a set of the " + m
                                + " module, and no --set holds one (the sets hold: " + held + ")");
                    }
                    mods.add(m);
                }
            }
            if (!seen.add(e.equals("all") ? e : mods.toString())) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--modules: '" + entry + "' repeats the module set "
                        + (mods.isEmpty() ? "none" : mods) + " of an earlier entry");
            }
            out.add(new ModuleSet(e, loaded.stream().filter(s -> mods.contains(s.module())).toList()));
        }
        return out;
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
