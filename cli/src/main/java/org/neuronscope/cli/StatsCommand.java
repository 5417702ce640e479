package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.media.TokenGrouping;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/** {@code neuronscope stats}: per-group neuron statistics of a dataset, resumable. */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = "Collect per-group neuron statistics of a dataset (.npy + JSON); resumes from its checkpoint after an interruption.")
final class StatsCommand implements java.util.concurrent.Callable<Integer> {
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
    @Option(names = "--hook", defaultValue = "ffn.act", description = "hook point: ffn.pre, ffn.act, ffn.post, ffn.up, ffn.down (MANU's gate_proj, up_proj and down_proj outputs are ffn.pre, ffn.up and ffn.down); encoder modules: ffn.pre, ffn.act, ffn.post, and resid.post (the vision and audio layers' outputs) (default: ${DEFAULT-VALUE})")
    HookPoint hook;
    @Option(names = "--checkpoint-every", defaultValue = "10", description = "samples between checkpoints (default: ${DEFAULT-VALUE})")
    int checkpointEvery;
    @Option(names = "--parallel", defaultValue = "0", description = "at most this many samples decoded together, one sequence each, "
            + "packed into full batches; a group ends where the next sample would not fit in the same batch (--batch) beside it. "
            + "0: as many as --checkpoint-every (at most 32, a divisor of it); 1: one sample per decode (default: ${DEFAULT-VALUE})")
    int parallel;
    @Option(names = "--statistics", split = ",", description = "what to collect, of count, count_abs, sum, sum_sq, sum_abs, max, min "
            + "(default: all; max and min read the activations through taps, the rest are reduced in the graph)")
    List<Statistic> statistics;

    /** Which entries of a sample count for its label's group. */
    enum TokenPolicy { ALL, TEXT }

    @Option(names = "--tokens", description = "label groupings: which entries of a sample count for its group: TEXT (its text only, "
            + "as LAPE counts a language's own tokens) or ALL (chat-template and media entries too) (default: TEXT for label:<name>; "
            + "modality groups every entry by its modality)")
    TokenPolicy tokens;

    @Option(names = "--module", defaultValue = "language", description = "whose neurons: language, or an encoder module of the "
            + "projector (vision, audio, projector: its MLP); encoder modules need --mmproj and --group-by label:<name>, and every "
            + "row (patch, audio frame, projector token) of a sample's media counts for its label (default: ${DEFAULT-VALUE})")
    String module;

    /** Samples decoded together by default: the largest divisor of --checkpoint-every up to 32 (a checkpoint ends a group). */
    static int packing(int checkpointEvery) {
        for (int n = Math.min(32, Math.max(1, checkpointEvery)); n > 1; n--) {
            if (checkpointEvery % n == 0) {
                return n;
            }
        }
        return 1;
    }

    @Override
    public Integer call() {
        CliSupport.checkWritableDirectory(out, "--out");
        Dataset data = Dataset.load(dataset);
        org.neuronscope.Module mod;
        try {
            mod = org.neuronscope.Module.parse(module);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--module: " + e.getMessage());
        }
        if (mod.isEncoder()) {
            return encoderStatistics(data, mod);
        }
        boolean byLabel = CliSupport.labelName(groupBy) != null;
        if (tokens != null && !byLabel) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tokens applies to --group-by label:<name>; "
                    + "--group-by modality gives every entry the group of its modality");
        }
        TokenPolicy policy = tokens != null ? tokens : TokenPolicy.TEXT;
        TokenGrouping g = CliSupport.grouping(groupBy, data, policy == TokenPolicy.TEXT);
        if (byLabel) {
            spec.commandLine().getOut().println(policy == TokenPolicy.TEXT
                    ? "tokens: text entries only (chat-template, special and media entries are not counted; --tokens all counts them)"
                    : "tokens: all entries (chat template and media included; --tokens text counts the text alone)");
        }
        Set<Statistic> what = statistics == null ? StatsExperiment.Params.DEFAULTS.statistics() : EnumSet.copyOf(statistics);
        if (parallel < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--parallel must be 0 (as many as --checkpoint-every) or positive, not "
                    + parallel);
        }
        int together = parallel == 0 ? packing(checkpointEvery) : parallel;
        StatsExperiment.Params p = new StatsExperiment.Params(hook, what, checkpointEvery, together);
        try (Workbench wb = Workbench.open(model.setup(together));
             NeuronStatistics s = StatsExperiment.run(wb, data, g, p, out, CliSupport.bar(spec.commandLine().getErr()))) {
            spec.commandLine().getOut().println("statistics of " + data.size() + " samples, tokens per group: "
                    + IntStream.range(0, s.groupCount()).mapToObj(i -> s.groups().get(i) + "=" + s.tokens(i)).collect(Collectors.joining(", ")));
            spec.commandLine().getOut().println("written to " + StatsExperiment.statisticsDir(out));
        }
        return 0;
    }

    /** Statistics of an encoder module's neurons, one group per label value (no checkpoint: encodes are short). */
    private int encoderStatistics(Dataset data, org.neuronscope.Module mod) {
        String label = CliSupport.labelName(groupBy);
        if (label == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--module " + mod.id() + " needs --group-by label:<name>: "
                    + "an encoder sees media items, each of which counts for its sample's label");
        }
        if (tokens != null || parallel > 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tokens and --parallel apply to the language model only");
        }
        List<HookPoint> points = java.util.Arrays.asList(org.neuronscope.Module.encoderPoints(mod));
        if (!points.contains(hook)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--hook " + hook + ": the " + mod.id() + " module has "
                    + points.stream().map(HookPoint::id).collect(Collectors.joining(", ")));
        }
        List<String> groups = data.samples().stream().map(x -> x.label(label)).filter(java.util.Objects::nonNull).distinct().sorted().toList();
        if (groups.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "no sample of " + dataset + " has the label '" + label + "'");
        }
        Set<Statistic> what = EnumSet.copyOf(statistics == null ? StatsExperiment.Params.DEFAULTS.statistics() : statistics);
        if (statistics == null) {
            what.remove(Statistic.MAX); // the default: everything the graph reduces (LAPE's and MANU's inputs)
            what.remove(Statistic.MIN);
        } else if (what.contains(Statistic.MAX) || what.contains(Statistic.MIN)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--statistics: max and min are not collected for encoder modules");
        }
        try (Workbench wb = Workbench.open(model.setup(1))) {
            if (wb.projector() == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--module " + mod.id() + " needs --mmproj (the projector whose encoder it hooks)");
            }
            int items = 0;
            try (org.neuronscope.media.EncoderStatisticsCollector c = new org.neuronscope.media.EncoderStatisticsCollector(wb.projector(), mod, hook,
                    groups, what, 0f, org.neuronscope.methods.Manu.FREQ_THRESHOLD)) {
                for (org.neuronscope.eval.Sample x : data.samples()) {
                    String g = x.label(label);
                    if (g == null) {
                        continue;
                    }
                    List<org.neuronscope.media.Media> media = new java.util.ArrayList<>();
                    if (mod != org.neuronscope.Module.AUDIO) {
                        x.images().forEach(f -> media.add(org.neuronscope.media.Media.image(f)));
                    }
                    if (mod != org.neuronscope.Module.VISION) {
                        x.audio().forEach(f -> media.add(org.neuronscope.media.Media.audio(f)));
                    }
                    for (org.neuronscope.media.Media m : media) {
                        c.add(m, g);
                        items++;
                    }
                }
                if (items == 0) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "no sample of " + dataset + " has media for the " + mod.id() + " module");
                }
                try (NeuronStatistics s = c.statistics()) {
                    s.save(StatsExperiment.statisticsDir(out));
                    spec.commandLine().getOut().println("statistics of " + mod.pointName(hook) + " over " + items + " media items, rows per group: "
                            + IntStream.range(0, s.groupCount()).mapToObj(i -> s.groups().get(i) + "=" + s.tokens(i)).collect(Collectors.joining(", ")));
                    spec.commandLine().getOut().println("written to " + StatsExperiment.statisticsDir(out));
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("could not write the statistics to " + out, e);
        }
        return 0;
    }
}
