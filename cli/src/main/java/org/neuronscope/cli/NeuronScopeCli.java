package org.neuronscope.cli;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.DatasetException;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.Charts;
import org.neuronscope.cli.Demo;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.HookPoint;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.TokenGrouping;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.collect.Interventions;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.NeuronStatistics;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * {@code neuronscope stats|select|ablate|demo}: the experiments of the library from a shell. Every
 * command takes its model, projector and dataset by path and prints where its results went.
 */
@Command(name = "neuronscope", mixinStandardHelpOptions = true, version = "neuronscope 0.1.0",
        description = "Find, switch off and measure modality-, domain- and language-specific neurons of GGUF models.",
        subcommands = {NeuronScopeCli.Stats.class, NeuronScopeCli.Select.class, NeuronScopeCli.Ablate.class, NeuronScopeCli.DemoCommand.class})
public final class NeuronScopeCli implements Callable<Integer> {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code. */
    public static int run(String... args) {
        return run(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    /** Runs the command line with picocli's usage and error messages going to {@code out} and {@code err}. */
    public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new NeuronScopeCli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof NeuronScopeException || e instanceof DatasetException || e instanceof IllegalArgumentException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cl.execute(args);
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** Model, projector and runtime options shared by the commands that run a model. */
    static final class ModelOptions {
        @Option(names = "--model", description = "language model GGUF file (required by stats, ablate and select --method miner)")
        Path model;
        @Option(names = "--mmproj", description = "multimodal projector GGUF file (for images, audio, video)")
        Path mmproj;
        @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0: all cores)")
        int threads;
        @Option(names = "--ctx", defaultValue = "4096", description = "context size in tokens (default: ${DEFAULT-VALUE})")
        int ctx;
        @Option(names = "--batch", defaultValue = "512", description = "batch size in tokens (default: ${DEFAULT-VALUE})")
        int batch;
        @Option(names = "--gpu-layers", defaultValue = "0", description = "layers offloaded to the GPU (default: ${DEFAULT-VALUE})")
        int gpuLayers;
        @Option(names = "--image-max-tokens", defaultValue = "0", description = "upper bound on tokens per image (0: the model's)")
        int imageMaxTokens;
        @Option(names = "--chat-template", description = "a template name or text; 'raw' for none (default: the model's)")
        String chatTemplate;

        Workbench.Setup setup() {
            return setup(1);
        }

        /** The setup with a session of {@code sequences} sequences (prompts decoded together). */
        Workbench.Setup setup(int sequences) {
            if (model == null) {
                throw new NeuronScopeException("--model <language model GGUF> is required");
            }
            int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
            SessionParams sp = SessionParams.defaults().withContextSize(ctx).withBatchSize(batch).withUbatchSize(Math.min(batch, 512))
                    .withThreads(t).withFlashAttention(SessionParams.FlashAttention.OFF).withMaxSequences(sequences);
            ProjectorParams pp = ProjectorParams.defaults().withThreads(t).withImageTokens(0, imageMaxTokens);
            PromptFormat f = chatTemplate == null ? PromptFormat.chat() : chatTemplate.equals("raw") ? PromptFormat.raw()
                    : new PromptFormat(chatTemplate, PromptFormat.chat().choiceInstruction());
            return new Workbench.Setup(model, org.neuronscope.model.ModelParams.defaults().withGpuLayers(gpuLayers), mmproj, sp, pp, f);
        }
    }

    /** A progress bar on stderr: done/total, rate, ETA. */
    static Progress.Listener bar(java.io.PrintWriter err) {
        long[] last = {0};
        return (task, done, total, rate, eta) -> {
            long now = System.nanoTime();
            if (done != total && now - last[0] < 200_000_000L) {
                return; // redraw at most five times a second
            }
            last[0] = now;
            int width = 30;
            int filled = total == 0 ? width : (int) (width * done / total);
            err.printf("\r%-7s [%s%s] %d/%d %.1f/s ETA %s ", task, "#".repeat(filled), ".".repeat(width - filled), done, total, rate, format(eta));
            if (done == total) {
                err.println();
            }
        };
    }

    static String format(Duration d) {
        long s = d.toSeconds();
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }

    static TokenGrouping grouping(String groupBy, Dataset data) {
        if (groupBy.equals("modality")) {
            return new ModalityGrouping();
        }
        if (groupBy.startsWith("label:")) {
            String label = groupBy.substring("label:".length());
            List<String> values = data.labelValues(label);
            if (values.isEmpty()) {
                throw new NeuronScopeException("no sample of " + data.name() + " has the label '" + label + "'");
            }
            return new LabelGrouping(label, values, false);
        }
        throw new NeuronScopeException("--group-by must be 'modality' or 'label:<name>', got " + groupBy);
    }

    @Command(name = "stats", mixinStandardHelpOptions = true,
            description = "Collect per-group neuron statistics of a dataset (.npy + JSON); resumes from its checkpoint after an interruption.")
    static final class Stats implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        ModelOptions model;
        @Option(names = "--dataset", required = true, description = "JSONL dataset")
        Path dataset;
        @Option(names = "--out", required = true, description = "output directory (statistics/ and checkpoint/)")
        Path out;
        @Option(names = "--group-by", defaultValue = "modality", description = "modality, or label:<name> (e.g. label:language) (default: ${DEFAULT-VALUE})")
        String groupBy;
        @Option(names = "--hook", defaultValue = "ffn.act", description = "hook point: ffn.act, ffn.gate, ffn.out (default: ${DEFAULT-VALUE})")
        String hook;
        @Option(names = "--checkpoint-every", defaultValue = "10", description = "samples between checkpoints (default: ${DEFAULT-VALUE})")
        int checkpointEvery;
        @Option(names = "--parallel", defaultValue = "1", description = "samples decoded together, one sequence each; --ctx is shared among them (default: ${DEFAULT-VALUE})")
        int parallel;
        @Option(names = "--statistics", split = ",", description = "what to collect, of count, count_abs, sum, sum_sq, sum_abs, max, min "
                + "(default: all; max and min read the activations through taps, the rest are reduced in the graph)")
        List<String> statistics;

        @Override
        public Integer call() {
            Dataset data = Dataset.load(dataset);
            TokenGrouping g = grouping(groupBy, data);
            java.util.Set<org.neuronscope.stats.Statistic> what = StatsExperiment.Params.DEFAULTS.statistics();
            if (statistics != null) {
                what = java.util.EnumSet.noneOf(org.neuronscope.stats.Statistic.class);
                for (String name : statistics) {
                    org.neuronscope.stats.Statistic st;
                    try {
                        st = org.neuronscope.stats.Statistic.valueOf(name.strip().toUpperCase(java.util.Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        st = null;
                    }
                    if (st == null || st == org.neuronscope.stats.Statistic.WEIGHTED_SUM) {
                        throw new NeuronScopeException("--statistics: unknown statistic '" + name + "' (count, count_abs, sum, sum_sq, sum_abs, max, min)");
                    }
                    what.add(st);
                }
            }
            StatsExperiment.Params p = new StatsExperiment.Params(HookPoint.parse(hook), what, checkpointEvery, parallel);
            Workbench.Setup setup = model.setup(parallel);
            try (Workbench wb = Workbench.open(setup);
                 NeuronStatistics s = StatsExperiment.run(wb, data, g, p, out, bar(spec.commandLine().getErr()))) {
                spec.commandLine().getOut().println("statistics of " + data.size() + " samples, groups " + s.groups() + ", tokens "
                        + Arrays.toString(java.util.stream.IntStream.range(0, s.groupCount()).mapToLong(s::tokens).toArray()));
                spec.commandLine().getOut().println("written to " + StatsExperiment.statisticsDir(out));
            }
            return 0;
        }
    }

    @Command(name = "select", mixinStandardHelpOptions = true,
            description = "Select neurons: entropy (LAPE/MMNeuron) or manu from statistics, miner from a model and dataset; writes a neuron set JSON.")
    static final class Select implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = "--method", required = true, description = "entropy, miner or manu")
        String method;
        @Option(names = "--out", required = true, description = "neuron set JSON file")
        Path out;
        @Option(names = "--stats", description = "statistics directory (entropy, manu)")
        Path stats;
        @Option(names = "--groups", split = ",", description = "entropy: the groups to compare (default: all base groups)")
        List<String> groups;
        @Option(names = "--top-rate", defaultValue = "0.01", description = "entropy: fraction selected (default: ${DEFAULT-VALUE})")
        double topRate;
        @Option(names = "--filter", defaultValue = "0.95", description = "entropy: filter percentile (default: ${DEFAULT-VALUE})")
        double filter;
        @Option(names = "--assign", defaultValue = "0.95", description = "entropy: assignment percentile (default: ${DEFAULT-VALUE})")
        double assign;
        @Option(names = "--forget", description = "manu: the forget group")
        String forget;
        @Option(names = "--retain", description = "manu: the retain group")
        String retain;
        @Option(names = "--alpha", defaultValue = "0.02", description = "manu: fraction pruned (default: ${DEFAULT-VALUE})")
        double alpha;
        @Option(names = "--variant", defaultValue = "CODE", description = "manu: CODE or PAPER (default: ${DEFAULT-VALUE})")
        Manu.Variant variant;
        @Mixin
        ModelOptions model;
        @Option(names = "--dataset", description = "miner: JSONL dataset; repeat it for several (scores are averaged per dataset, then over the datasets)")
        List<Path> dataset;
        @Option(names = "--modalities", split = ",", defaultValue = "text,image", description = "miner: modalities (default: ${DEFAULT-VALUE})")
        List<String> modalities;
        @Option(names = "--weights", defaultValue = "defaults",
                description = "miner: defaults (attn_k 0.5, mean 0.25, max 0.25), mean-max (0.5 each, no attention needed), or a list such as prob=0.2,mean=0.4,max=0.4,attn_k=0,attn_q=0 (default: ${DEFAULT-VALUE})")
        String weights;
        @Option(names = "--ratio", defaultValue = "0.02", description = "miner: budget as a fraction of all neurons (default: ${DEFAULT-VALUE})")
        double ratio;
        @Option(names = "--strategy", defaultValue = "LA_MU", description = "miner: LA_MU, ADAPTIVE, LU_MA, UNIFORM, RANDOM (default: ${DEFAULT-VALUE})")
        Miner.Strategy strategy;
        @Option(names = "--seed", defaultValue = "0", description = "miner: seed of the random strategy")
        long seed;

        @Override
        public Integer call() throws Exception {
            NeuronSet set = switch (method) {
                case "entropy" -> {
                    try (NeuronStatistics s = NeuronStatistics.load(requireStats());
                         NeuronStatistics base = s.subset(groups != null ? groups : baseGroups(s))) {
                        yield EntropySelection.select(base, new EntropySelection.Params(topRate, filter, assign));
                    }
                }
                case "manu" -> {
                    if (forget == null || retain == null) {
                        throw new NeuronScopeException("manu needs --forget and --retain groups of the statistics");
                    }
                    try (NeuronStatistics s = NeuronStatistics.load(requireStats())) {
                        yield Manu.select(s, s.groupIndex(forget), s, s.groupIndex(retain),
                                new Manu.Params(Manu.Params.DEFAULTS.weights(), variant, alpha), forget);
                    }
                }
                case "miner" -> {
                    if (dataset == null || dataset.isEmpty()) {
                        throw new NeuronScopeException("miner needs --model (and --mmproj) and --dataset");
                    }
                    List<Dataset> data = dataset.stream().map(Dataset::load).toList();
                    Miner.Weights w = minerWeights(weights);
                    boolean attention = w.attnK() != 0 || w.attnQ() != 0;
                    try (Workbench wb = Workbench.open(model.setup())) {
                        Miner.Aggregator agg = MinerExperiment.collect(wb, data, modalities, attention, bar(spec.commandLine().getErr()));
                        yield Miner.select(agg, "ffn.act", new Miner.Params(w, ratio, strategy, seed));
                    }
                }
                default -> throw new NeuronScopeException("--method must be entropy, miner or manu, got " + method);
            };
            set.save(out);
            if (set.size() > 0) {
                String name = out.getFileName().toString();
                Path png = out.resolveSibling((name.endsWith(".json") ? name.substring(0, name.length() - 5) : name) + "-layers.png");
                Charts.neuronsPerLayer(set, set.method() + ": neurons per layer", png);
                spec.commandLine().getOut().println("chart: " + png);
            }
            for (String g : set.groupNames()) {
                spec.commandLine().getOut().println(set.describe(g));
            }
            set.overlaps().forEach((pair, o) -> spec.commandLine().getOut().printf("overlap %s: %d shared (Jaccard %.3f)%n", pair, o.shared(), o.jaccard()));
            spec.commandLine().getOut().println("written to " + out);
            return 0;
        }

        private Path requireStats() {
            if (stats == null) {
                throw new NeuronScopeException(method + " needs --stats <directory written by 'neuronscope stats'>");
            }
            return StatsExperiment.statisticsDir(stats).toFile().isDirectory() ? StatsExperiment.statisticsDir(stats) : stats;
        }

        /** defaults, mean-max, or metric=weight pairs (metrics not named weigh 0). */
        static Miner.Weights minerWeights(String spec) {
            switch (spec) {
                case "defaults":
                    return Miner.Weights.DEFAULTS;
                case "mean-max":
                    return Miner.Weights.MEAN_MAX;
                default:
                    break;
            }
            java.util.Map<String, Double> w = new java.util.HashMap<>();
            for (String part : spec.split(",")) {
                String[] kv = part.split("=", 2);
                String k = kv[0].strip().toLowerCase(java.util.Locale.ROOT);
                if (kv.length != 2 || !List.of("prob", "mean", "max", "attn_k", "attn_q").contains(k)) {
                    throw new NeuronScopeException("--weights must be defaults, mean-max or metric=weight pairs of prob, mean, max, attn_k, attn_q; got "
                            + spec);
                }
                try {
                    w.put(k, Double.parseDouble(kv[1].strip()));
                } catch (NumberFormatException e) {
                    throw new NeuronScopeException("--weights: '" + kv[1] + "' is not a number (in " + spec + ")");
                }
            }
            return new Miner.Weights(w.getOrDefault("prob", 0.0), w.getOrDefault("mean", 0.0), w.getOrDefault("max", 0.0),
                    w.getOrDefault("attn_k", 0.0), w.getOrDefault("attn_q", 0.0));
        }

        private static List<String> baseGroups(NeuronStatistics s) {
            List<String> g = new ArrayList<>(s.groups());
            g.removeAll(ModalityGrouping.DERIVED.keySet());
            return g;
        }
    }

    @Command(name = "ablate", mixinStandardHelpOptions = true,
            description = "Evaluate a dataset with a neuron set switched off (or set, or kept alone) and with a matched random set; tables, charts and an HTML report.")
    static final class Ablate implements Callable<Integer> {
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
        @Option(names = "--mode", defaultValue = "DEACTIVATE",
                description = "DEACTIVATE, SET, SCALE, COMPLEMENTARY, or MINIMUM (MINER's: each layer's smallest observed activation, from --stats) (default: ${DEFAULT-VALUE})")
        String mode;
        @Option(names = "--stats", description = "MINIMUM: statistics directory with MIN (written by 'neuronscope stats')")
        Path stats;
        @Option(names = "--value", defaultValue = "0", description = "the value for SET and SCALE")
        float value;
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
            Dataset data = Dataset.load(dataset);
            NeuronSet s = NeuronSet.load(set);
            List<String> g = groups == null ? s.groupNames() : groups;
            NeuronSet random = RandomBaseline.matching(s, seed, true);
            Function<Sample, String> groupOf = groupBy.equals("media") ? AblationExperiment.BY_MEDIA
                    : groupBy.startsWith("label:") ? sample -> String.valueOf(sample.label(groupBy.substring(6)))
                    : null;
            if (groupOf == null) {
                throw new NeuronScopeException("--group-by must be 'media' or 'label:<name>', got " + groupBy);
            }
            List<AblationExperiment.Condition> conditions;
            String m = mode.toUpperCase(java.util.Locale.ROOT);
            if (m.equals("MINIMUM")) {
                if (stats == null) {
                    throw new NeuronScopeException("--mode MINIMUM needs --stats <directory written by 'neuronscope stats'>");
                }
                Path dir = StatsExperiment.statisticsDir(stats).toFile().isDirectory() ? StatsExperiment.statisticsDir(stats) : stats;
                double[] minima;
                try (NeuronStatistics observed = NeuronStatistics.load(dir)) {
                    if (!observed.has(org.neuronscope.stats.Statistic.MIN)) {
                        throw new NeuronScopeException(dir + " holds no MIN statistic");
                    }
                    minima = org.neuronscope.methods.InterventionMask.layerMinima(observed);
                }
                conditions = List.of(AblationExperiment.Condition.setToMinimum(s.method() + " minimum", s, g, minima),
                        AblationExperiment.Condition.setToMinimum("random minimum", random, g, minima));
            } else {
                Interventions.Mode im;
                try {
                    im = Interventions.Mode.valueOf(m);
                } catch (IllegalArgumentException e) {
                    throw new NeuronScopeException("--mode must be DEACTIVATE, SET, SCALE, COMPLEMENTARY or MINIMUM, got " + mode);
                }
                conditions = List.of(
                        new AblationExperiment.Condition(s.method() + " " + m.toLowerCase(java.util.Locale.ROOT), s, g, im, value),
                        new AblationExperiment.Condition("random " + m.toLowerCase(java.util.Locale.ROOT), random, g, im, value));
            }
            MetricTable table;
            Workbench.Setup setup = model.setup(parallel);
            try (Workbench wb = Workbench.open(setup)) {
                table = AblationExperiment.run(wb, data, conditions, groupOf, maxTokens, parallel, bar(spec.commandLine().getErr()));
            }
            Files.createDirectories(out);
            Files.writeString(out.resolve("table.txt"), table.toText(4));
            Files.writeString(out.resolve("table.csv"), table.toCsv());
            Path dir = out.resolve("report");
            HtmlReport html = new HtmlReport("NeuronScope ablation: " + set.getFileName());
            html.paragraph("Dataset " + dataset + ", model " + model.model + (model.mmproj != null ? " + " + model.mmproj : "")
                    + "; groups " + g + ", mode " + mode + ", random seed " + seed + ".");
            html.table(table.toText(4));
            html.image(dir, Charts.neuronsPerLayer(s, "Neurons per layer", dir.resolve("layers.png")), "neurons per layer per group");
            for (String metric : table.metrics()) {
                html.image(dir, Charts.ablationDeltas(table, metric, metric + ": change vs no intervention", dir.resolve(metric + ".png")), metric);
            }
            Path report = html.write(dir.resolve("index.html"));
            spec.commandLine().getOut().println(table.toText(4));
            spec.commandLine().getOut().println("report: " + report);
            return 0;
        }
    }

    @Command(name = "demo", mixinStandardHelpOptions = true,
            description = "Plant image-specific neurons in a synthetic model, find them again with the entropy method and MINER, and ablate them against a random set.")
    static final class DemoCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = "--work", defaultValue = "neuronscope-demo", description = "working directory (default: ${DEFAULT-VALUE})")
        Path work;
        @Option(names = "--samples", defaultValue = "8", description = "image questions, and as many text questions (default: ${DEFAULT-VALUE})")
        int samples;
        @Option(names = "--audio", defaultValue = "0", description = "audio questions (generated noise clips); > 0 also plants audio neurons (default: ${DEFAULT-VALUE})")
        int audio;
        @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0: all cores)")
        int threads;
        @Option(names = "--vocab", description = "llama.cpp's models/ggml-vocab-qwen2.gguf (default: from the build's llama.cpp tree)")
        Path vocab;

        @Override
        public Integer call() {
            if (samples <= 0 || audio < 0) {
                throw new NeuronScopeException("--samples must be positive and --audio not negative, got " + samples + " and " + audio);
            }
            Path v = vocab != null ? vocab
                    : Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
            if (!Files.isRegularFile(v)) {
                throw new NeuronScopeException("tokenizer file not found: " + v + " (build the project first, or pass --vocab)");
            }
            int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
            Demo.Result r = Demo.run(work, v, samples, audio, t, bar(spec.commandLine().getErr()));
            spec.commandLine().getOut().printf("%-34s %10s %10s%n", "method", "precision", "recall");
            r.precisionRecall().forEach((m, pr) -> spec.commandLine().getOut().printf("%-34s %10.3f %10.3f%n", m, pr[0], pr[1]));
            spec.commandLine().getOut().println();
            spec.commandLine().getOut().println(r.ablation().toText(4));
            spec.commandLine().getOut().println("report: " + r.report().toAbsolutePath());
            spec.commandLine().getOut().println("done in " + format(r.elapsed()));
            return 0;
        }
    }
}
