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
    @Option(names = "--encoder", defaultValue = "auto", description = "with --mmproj, also prune an encoder's units (MANU's code prunes the "
            + "vision encoder's fc1 for image+text samples): auto (vision if both sets have images, else audio if both have audio), "
            + "vision, audio or none; writes pruned-mmproj.gguf (default: ${DEFAULT-VALUE})")
    String encoder;
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
        org.neuronscope.Module enc = encoderModule(f, r);
        var params = new UnlearnExperiment.Params(new Manu.Params(Manu.Params.DEFAULTS.weights(), variant, alpha, cut), iterations,
                !noRetainCap, !noAnswers, !multimodalOnly, maxTokens, seed, enc);
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
                + "; random pruning seed " + seed + ". Rows: none = before, manu = after, random = a matched random pruning."
                + (result.prunedEncoder() != null ? " The " + enc.id() + " encoder: " + result.prunedEncoder().size() + " units pruned ("
                + result.prunedProjector().getFileName() + "), applied with the language model's in both the manu and the random rows." : ""));
        html.table(result.table().toText(4));
        html.image(dir, Charts.neuronsPerLayer(result.pruned(), "Pruned neurons per layer", dir.resolve("layers.png")), "pruned neurons per layer");
        for (String metric : result.table().metrics()) {
            html.image(dir, Charts.ablationDeltas(result.table(), metric, metric + ": change vs before", dir.resolve(metric + ".png")), metric);
        }
        Path report = html.write(dir.resolve("index.html"));
        var o = spec.commandLine().getOut();
        o.println(result.table().toText(4));
        o.println("pruned " + result.pruned().size() + " neurons " + result.perIteration() + " -> " + result.prunedModel());
        if (result.prunedEncoder() != null) {
            o.println("pruned " + result.prunedEncoder().size() + " " + enc.id() + " encoder units -> " + result.prunedProjector());
        }
        o.println("report: " + report);
        return 0;
    }

    /** --encoder: none, vision, audio, or auto (what the forget set's media are; nothing without --mmproj). */
    private org.neuronscope.Module encoderModule(Dataset f, Dataset r) {
        String e = encoder.strip().toLowerCase(java.util.Locale.ROOT);
        switch (e) {
            case "none":
                return null;
            case "auto":
                if (model.mmproj() == null) {
                    return null;
                }
                // MANU scores encoder units of the forget set's media against the retain set's: both need them
                if (f.stream().anyMatch(x -> !x.images().isEmpty()) && r.stream().anyMatch(x -> !x.images().isEmpty())) {
                    return org.neuronscope.Module.VISION;
                }
                if (f.stream().anyMatch(x -> !x.audio().isEmpty()) && r.stream().anyMatch(x -> !x.audio().isEmpty())) {
                    return org.neuronscope.Module.AUDIO;
                }
                spec.commandLine().getOut().println("--encoder auto: no medium in both sets, so the encoder is not pruned");
                return null;
            case "vision":
            case "audio":
                if (model.mmproj() == null) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--encoder " + e + " needs --mmproj (the projector to prune)");
                }
                return org.neuronscope.Module.parse(e);
            default:
                throw new CommandLine.ParameterException(spec.commandLine(), "--encoder must be auto, vision, audio or none, got " + encoder);
        }
    }
}
