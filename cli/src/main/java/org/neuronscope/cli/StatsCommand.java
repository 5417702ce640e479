package org.neuronscope.cli;

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
    @Option(names = "--hook", defaultValue = "ffn.act", description = "hook point: ffn.pre, ffn.act, ffn.post, ffn.up, ffn.down (MANU's gate_proj, up_proj and down_proj outputs are ffn.pre, ffn.up and ffn.down) (default: ${DEFAULT-VALUE})")
    HookPoint hook;
    @Option(names = "--checkpoint-every", defaultValue = "10", description = "samples between checkpoints (default: ${DEFAULT-VALUE})")
    int checkpointEvery;
    @Option(names = "--parallel", defaultValue = "1", description = "samples decoded together, one sequence each; --ctx is shared among them (default: ${DEFAULT-VALUE})")
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

    @Override
    public Integer call() {
        CliSupport.checkWritableDirectory(out, "--out");
        Dataset data = Dataset.load(dataset);
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
        StatsExperiment.Params p = new StatsExperiment.Params(hook, what, checkpointEvery, parallel);
        try (Workbench wb = Workbench.open(model.setup(parallel));
             NeuronStatistics s = StatsExperiment.run(wb, data, g, p, out, CliSupport.bar(spec.commandLine().getErr()))) {
            spec.commandLine().getOut().println("statistics of " + data.size() + " samples, tokens per group: "
                    + IntStream.range(0, s.groupCount()).mapToObj(i -> s.groups().get(i) + "=" + s.tokens(i)).collect(Collectors.joining(", ")));
            spec.commandLine().getOut().println("written to " + StatsExperiment.statisticsDir(out));
        }
        return 0;
    }
}
