package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.Charts;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.UnlearnExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.methods.Manu;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code neuronscope unlearn}: MANU end to end — statistics, scores, pruning (iterated), a pruned GGUF, and the evaluation. */
@Command(name = "unlearn", mixinStandardHelpOptions = true,
        description = "Unlearn with MANU: collect forget/retain statistics, prune the top-scoring neurons (optionally in iterations), "
                + "write the pruned GGUF, and evaluate both sets before and after against a matched random pruning.")
final class UnlearnCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    ModelOptions model;
    @Option(names = "--forget", required = true, description = "JSONL dataset of what to forget")
    Path forget;
    @Option(names = "--retain", required = true, description = "JSONL dataset of what to keep")
    Path retain;
    @Option(names = "--iterations", defaultValue = "1", description = "collect -> score -> prune rounds, each cutting --alpha again (default: ${DEFAULT-VALUE})")
    int iterations;
    @Option(names = "--alpha", defaultValue = "0.02", description = "fraction of all neurons pruned per iteration (default: ${DEFAULT-VALUE})")
    double alpha;
    @Option(names = "--variant", defaultValue = "CODE", description = "CODE or PAPER score (default: ${DEFAULT-VALUE})")
    Manu.Variant variant;
    @Option(names = "--cut", defaultValue = "EXACT", description = "EXACT or REFERENCE (int(alpha·L·N), ties included) (default: ${DEFAULT-VALUE})")
    Manu.Cut cut;
    @Option(names = "--no-retain-cap", description = "collect the whole retain set (MANU's code uses as many retain samples as forget samples)")
    boolean noRetainCap;
    @Option(names = "--multimodal-only", description = "score samples with media only as given (MANU's code also scores them as their text alone "
            + "and prunes the union of both cuts)")
    boolean multimodalOnly;
    @Option(names = "--no-answers", description = "statistics prompts without the reference answers (MANU's code collects over question and answer)")
    boolean noAnswers;
    @Option(names = "--max-tokens", defaultValue = "16", description = "greedy answer length for samples with references (default: ${DEFAULT-VALUE})")
    int maxTokens;
    @Option(names = "--random-seed", defaultValue = "2024", description = "seed of the retain subset and of the random pruning (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--out", required = true, description = "output directory (pruned.gguf, pruned-set.json, table.txt, table.csv, report/)")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a file; give a directory");
        }
        CliSupport.checkWritableDirectory(out, "--out"); // before hours of collection, as stats and ablate do
        Dataset f = Dataset.load(forget);
        Dataset r = Dataset.load(retain);
        var params = new UnlearnExperiment.Params(new Manu.Params(Manu.Params.DEFAULTS.weights(), variant, alpha, cut), iterations,
                !noRetainCap, !noAnswers, !multimodalOnly, maxTokens, seed);
        UnlearnExperiment.Result result;
        try (Workbench wb = Workbench.open(model.setup())) {
            result = UnlearnExperiment.run(wb, f, r, params, out, CliSupport.bar(spec.commandLine().getErr()));
        }
        Files.writeString(out.resolve("table.txt"), result.table().toText(4));
        Files.writeString(out.resolve("table.csv"), result.table().toCsv());
        Path dir = out.resolve("report");
        HtmlReport html = new HtmlReport("NeuronScope unlearning: " + forget.getFileName());
        html.paragraph("Model " + model.model() + (model.mmproj() != null ? " + " + model.mmproj() : "") + "; forget " + forget + " (" + f.size()
                + " samples), retain " + retain + " (" + r.size() + "); MANU " + variant + ", alpha " + alpha + " per iteration, " + iterations
                + " iteration(s), cut " + cut + "; " + result.pruned().size() + " neurons pruned " + result.perIteration()
                + "; random pruning seed " + seed + ". Rows: none = before, manu = after, random = a matched random pruning.");
        html.table(result.table().toText(4));
        html.image(dir, Charts.neuronsPerLayer(result.pruned(), "Pruned neurons per layer", dir.resolve("layers.png")), "pruned neurons per layer");
        for (String metric : result.table().metrics()) {
            html.image(dir, Charts.ablationDeltas(result.table(), metric, metric + ": change vs before", dir.resolve(metric + ".png")), metric);
        }
        Path report = html.write(dir.resolve("index.html"));
        var o = spec.commandLine().getOut();
        o.println(result.table().toText(4));
        o.println("pruned " + result.pruned().size() + " neurons " + result.perIteration() + " -> " + result.prunedModel());
        o.println("report: " + report);
        return 0;
    }
}
