package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.Charts;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code neuronscope select}: a neuron set by the entropy method, MANU or MINER. */
@Command(name = "select", mixinStandardHelpOptions = true,
        description = "Select neurons: entropy (LAPE/MMNeuron) or manu from statistics, miner from a model and dataset; writes a neuron set JSON.")
final class SelectCommand implements Callable<Integer> {
    enum Method { ENTROPY, MINER, MANU }

    enum ManuProtocol { SPECIFICATION, REFERENCE }

    static final class MethodConverter implements CommandLine.ITypeConverter<Method> {
        @Override
        public Method convert(String text) {
            try {
                return Method.valueOf(text.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("--method must be entropy, miner or manu, got " + text);
            }
        }
    }

    static final class WeightsConverter implements CommandLine.ITypeConverter<Miner.Weights> {
        @Override
        public Miner.Weights convert(String text) {
            try {
                return minerWeights(text);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Option(names = "--method", required = true, converter = MethodConverter.class, description = "entropy, miner or manu")
    Method method;
    @Option(names = "--out", required = true, description = "neuron set JSON file")
    Path out;
    @Option(names = "--stats", description = "statistics directory (entropy, manu); manu --protocol reference takes one per unit "
            + "hook point: ffn.up, ffn.down and, for a gated FFN, ffn.pre (repeat --stats)")
    List<Path> stats;
    @Option(names = "--groups", split = ",", description = "entropy: the groups to compare (default: all base groups)")
    List<String> groups;
    @Option(names = "--top-rate", defaultValue = "0.01", description = "entropy: fraction selected (default: ${DEFAULT-VALUE})")
    double topRate;
    @Option(names = "--filter", defaultValue = "0.95", description = "entropy: filter percentile (default: ${DEFAULT-VALUE})")
    double filter;
    @Option(names = "--assign", defaultValue = "0.95", description = "entropy: assignment percentile (default: ${DEFAULT-VALUE})")
    double assign;
    @Option(names = "--rounding", defaultValue = "HALF_UP", description = "entropy: HALF_UP, or PYTHON (half to even, as LAPE's "
            + "identify.py rounds the budget and the percentile ranks) (default: ${DEFAULT-VALUE})")
    EntropySelection.Rounding rounding;
    @Option(names = "--forget", description = "manu: the forget group")
    String forget;
    @Option(names = "--retain", description = "manu: the retain group")
    String retain;
    @Option(names = "--alpha", defaultValue = "0.02", description = "manu: fraction pruned (default: ${DEFAULT-VALUE})")
    double alpha;
    @Option(names = "--variant", defaultValue = "CODE", description = "manu: CODE or PAPER (default: ${DEFAULT-VALUE})")
    Manu.Variant variant;
    @Option(names = "--cut", defaultValue = "EXACT", description = "manu: EXACT (round(alpha·L·N) neurons) or REFERENCE "
            + "(MANU's code: k = int(alpha·L·N), every neuron scoring at least the k-th largest) (default: ${DEFAULT-VALUE})")
    Manu.Cut cut;
    @Option(names = "--protocol", defaultValue = "SPECIFICATION", description = "manu: SPECIFICATION (the units of one hook point, cut alone) "
            + "or REFERENCE (MANU's code: gate_proj, up_proj and down_proj outputs, i.e. ffn.pre, ffn.up and ffn.down statistics, scored "
            + "with the CODE variant and cut together: k = int(alpha·all units), ties included; one set per hook point, written beside --out "
            + "as <name>-<point>.json) (default: ${DEFAULT-VALUE})")
    ManuProtocol protocol;
    @Mixin
    ModelOptions model;
    @Option(names = "--dataset", description = "miner: JSONL dataset; repeat it for several (scores are averaged per dataset, then over the datasets)")
    List<Path> dataset;
    @Option(names = "--modalities", split = ",", defaultValue = "text,special,image", description = "miner: modalities, special included as MINER's code does; its other splits: special_text,image (text and special as one) "
                    + "or prompt (every position) (default: ${DEFAULT-VALUE})")
    List<String> modalities;
    @Option(names = "--weights", defaultValue = "defaults", converter = WeightsConverter.class,
            description = "miner: defaults (attn_k 0.5, mean 0.25, max 0.25), mean-max (0.5 each, no attention needed), or a list such as prob=0.2,mean=0.4,max=0.4,attn_k=0,attn_q=0 (default: ${DEFAULT-VALUE})")
    Miner.Weights weights;
    @Option(names = "--ratio", defaultValue = "0.02", description = "miner: budget as a fraction of all neurons (default: ${DEFAULT-VALUE})")
    double ratio;
    @Option(names = "--strategy", defaultValue = "LA_MU", description = "miner: LA_MU, ADAPTIVE, LU_MA, UNIFORM, RANDOM (default: ${DEFAULT-VALUE})")
    Miner.Strategy strategy;
    @Option(names = "--seed", description = "miner: seed of the random strategy (default: 0; 2024, the reference code's, with --stage4 reference)")
    Long seed;
    @Option(names = "--stage4", defaultValue = "SPECIFICATION",
            description = "miner: SPECIFICATION (rounded budgets, distinct random neurons) or REFERENCE (MINER's code: floored budgets, "
                    + "random pairs with replacement from Python's generator) (default: ${DEFAULT-VALUE})")
    Miner.Stage4 stage4;
    @Option(names = "--attention", defaultValue = "SPECIFICATION",
            description = "miner: the attention of attn_k/attn_q: SPECIFICATION (the model's causal attention probabilities, restricted to "
                    + "the modality) or REFERENCE (MINER's code: softmax(q·k/√d) over the whole prompt without a mask, restricted to the "
                    + "modality, softmaxed again; each sample is decoded three times, twice side by side, so --ctx must hold 2× the longest "
                    + "sample) (default: ${DEFAULT-VALUE})")
    Miner.Attention attentionProtocol;

    @Override
    public Integer call() throws Exception {
        if (java.nio.file.Files.isDirectory(out)) { // checked before the selection runs
            throw new CommandLine.ParameterException(spec.commandLine(), "--out " + out + " is a directory; give the neuron set's file, e.g. "
                    + out.resolve(method.name().toLowerCase(Locale.ROOT) + ".json"));
        }
        Path outDir = out.toAbsolutePath().getParent();
        if (outDir != null) {
            CliSupport.checkWritableDirectory(outDir, "the directory of --out");
        }
        if (method == Method.MANU && protocol == ManuProtocol.REFERENCE) {
            if (forget == null || retain == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "manu needs --forget and --retain groups of the statistics");
            }
            return manuReference();
        }
        NeuronSet set = switch (method) {
            case ENTROPY -> {
                try (NeuronStatistics s = NeuronStatistics.load(requireStats());
                     NeuronStatistics base = s.subset(groups != null ? checkedGroups(s, groups) : baseGroups(s))) {
                    yield EntropySelection.select(base, new EntropySelection.Params(topRate, filter, assign, rounding));
                }
            }
            case MANU -> {
                if (forget == null || retain == null) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "manu needs --forget and --retain groups of the statistics");
                }
                try (NeuronStatistics s = NeuronStatistics.load(requireStats())) {
                    yield Manu.select(s, s.groupIndex(forget), s, s.groupIndex(retain),
                            new Manu.Params(Manu.Params.DEFAULTS.weights(), variant, alpha, cut), forget);
                }
            }
            case MINER -> {
                if (dataset == null || dataset.isEmpty()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "miner needs --model (and --mmproj) and --dataset");
                }
                List<Dataset> data = dataset.stream().map(Dataset::load).toList();
                boolean attention = weights.attnK() != 0 || weights.attnQ() != 0;
                boolean reference = attention && attentionProtocol == Miner.Attention.REFERENCE;
                try (Workbench wb = Workbench.open(model.setup(reference ? 2 : 1, attention))) {
                    Miner.Aggregator agg = MinerExperiment.collect(wb, data, modalities, attention, attentionProtocol,
                            CliSupport.bar(spec.commandLine().getErr()));
                    long drawSeed = seed != null ? seed : stage4 == Miner.Stage4.REFERENCE ? 2024 : 0;
                    yield Miner.select(agg, HookPoint.FFN_ACT, new Miner.Params(weights, ratio, strategy, drawSeed, stage4, attentionProtocol));
                }
            }
        };
        set.save(out);
        var o = spec.commandLine().getOut();
        if (set.size() > 0) {
            String name = out.getFileName().toString();
            Path png = out.resolveSibling((name.endsWith(".json") ? name.substring(0, name.length() - 5) : name) + "-layers.png");
            Charts.neuronsPerLayer(set, set.method() + ": neurons per layer", png);
            o.println("chart: " + png);
        }
        // the module's neurons per layer, as a table and as CSV beside the set
        String name = out.getFileName().toString();
        String stem = name.endsWith(".json") ? name.substring(0, name.length() - 5) : name;
        java.nio.file.Files.writeString(out.resolveSibling(stem + "-layers.csv"), org.neuronscope.experiments.NeuronTables.csv(set));
        o.print(org.neuronscope.experiments.NeuronTables.text(set));
        for (String g : set.groupNames()) {
            o.println(g + " (" + set.size(g) + " neurons, layer:neuron): " + set.describe(g));
        }
        set.overlaps().forEach((pair, ov) -> o.printf("overlap %s: %d shared (Jaccard %.3f)%n", pair, ov.shared(), ov.jaccard()));
        o.println("written to " + out);
        return 0;
    }

    private Path requireStats() {
        if (stats == null || stats.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    method.name().toLowerCase(Locale.ROOT) + " needs --stats <directory written by 'neuronscope stats'>");
        }
        if (stats.size() > 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), method.name().toLowerCase(Locale.ROOT)
                    + " reads one --stats directory (several are for manu --protocol reference), got " + stats.size());
        }
        return CliSupport.statisticsDir(stats.getFirst());
    }

    /** MANU's reference protocol: one statistics directory per unit point, one cut over them all, one set file per point. */
    private Integer manuReference() throws Exception {
        if (stats == null || stats.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "manu --protocol reference needs --stats for ffn.up and ffn.down "
                    + "(and ffn.pre for a gated FFN), one directory each");
        }
        if (variant != Manu.Variant.CODE) {
            throw new CommandLine.ParameterException(spec.commandLine(), "manu --protocol reference scores as MANU's code does: --variant CODE");
        }
        Map<HookPoint, NeuronStatistics> loaded = new java.util.LinkedHashMap<>();
        try {
            for (Path p : stats) {
                NeuronStatistics s = NeuronStatistics.load(CliSupport.statisticsDir(p));
                if (loaded.put(s.hookPoint(), s) != null) {
                    s.close();
                    throw new CommandLine.ParameterException(spec.commandLine(), "two --stats directories hold " + s.hookPoint() + " statistics; give "
                            + "one each for ffn.pre, ffn.up and ffn.down");
                }
            }
            for (HookPoint h : loaded.keySet()) {
                if (!Manu.REFERENCE_UNITS.contains(h)) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "manu --protocol reference scores ffn.pre, ffn.up and ffn.down; "
                            + "a --stats directory holds " + h + " statistics");
                }
            }
            if (!loaded.containsKey(HookPoint.FFN_UP) || !loaded.containsKey(HookPoint.FFN_DOWN)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "manu --protocol reference needs ffn.up and ffn.down statistics (and "
                        + "ffn.pre for a gated FFN); got " + loaded.keySet());
            }
            var o = spec.commandLine().getOut();
            if (!loaded.containsKey(HookPoint.FFN_PRE)) {
                o.println("no ffn.pre statistics: up_proj and down_proj units only, as MANU's code scores a non-gated FFN");
            }
            Map<HookPoint, NeuronSet> sets = Manu.selectReference(loaded, forget, loaded, retain,
                    new Manu.Params(Manu.Params.DEFAULTS.weights(), variant, alpha), forget);
            String name = out.getFileName().toString();
            String base = name.endsWith(".json") ? name.substring(0, name.length() - 5) : name;
            for (var e : sets.entrySet()) {
                NeuronSet set = e.getValue();
                Path file = out.resolveSibling(base + "-" + e.getKey().id() + ".json");
                set.save(file);
                o.println(e.getKey().id() + ": " + forget + " (" + set.size(forget) + " units, layer:unit): " + set.describe(forget));
                o.println("written to " + file);
            }
            NeuronSet any = sets.values().iterator().next();
            o.println("reference cut: " + any.params().get("budget") + " of " + any.params().get("pooled_units") + " units ("
                    + any.params().get("units") + "), threshold " + any.params().get("threshold"));
            return 0;
        } finally {
            loaded.values().forEach(NeuronStatistics::close);
        }
    }

    /** defaults, mean-max, or metric=weight pairs (metrics not named weigh 0). */
    static Miner.Weights minerWeights(String text) {
        return Miner.Weights.parse(text);
    }

    /** The base groups (not the derived unions) that have tokens; those without are named on stdout. */
    private List<String> baseGroups(NeuronStatistics s) {
        List<String> g = new ArrayList<>(s.groups());
        g.removeAll(ModalityGrouping.DERIVED.keySet());
        List<String> empty = g.stream().filter(name -> s.tokens(s.groupIndex(name)) == 0).toList();
        if (!empty.isEmpty() && empty.size() < g.size()) {
            g.removeAll(empty);
            spec.commandLine().getOut().println("groups without tokens, left out: " + String.join(", ", empty));
        }
        return g;
    }

    /** --groups as given, each a group of the statistics with tokens (an empty one would get no neurons, silently). */
    private List<String> checkedGroups(NeuronStatistics s, List<String> named) {
        for (String name : named) {
            if (!s.groups().contains(name)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--groups: no group '" + name + "' in the statistics (groups: "
                        + String.join(", ", s.groups()) + ")");
            }
        }
        List<String> empty = named.stream().filter(name -> s.tokens(s.groupIndex(name)) == 0).toList();
        if (!empty.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--groups: " + String.join(", ", empty)
                    + " had no tokens in the statistics; they would get no neurons (leave them out)");
        }
        return named;
    }
}
