package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.collect.LensCollector.Positions;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.LensExperiment;
import org.neuronscope.experiments.LensReport;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.hooks.LensSpec;
import org.neuronscope.media.TokenGrouping;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;

/** {@code neuronscope lens}: the logit lens of a dataset, by layer and position or token group; resumable. */
@Command(name = "lens", mixinStandardHelpOptions = true,
        description = "Decode the residual stream after each layer with the model's own output norm and unembedding (logit lens), "
                + "in the graph: top-k tokens and entropy per (layer, position), mean entropy per (layer, token group). "
                + "Writes <out>/lens (.npy + lens.json) and <out>/lens/report.html; resumes an interrupted run.")
final class LensCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    ModelOptions model;
    @Option(names = "--dataset", required = true, description = "JSONL dataset")
    Path dataset;
    @Option(names = "--out", required = true, description = "output directory (lens/)")
    Path out;
    @Option(names = "--group-by", defaultValue = "modality", description = "token groups: modality, or label:<name> (default: ${DEFAULT-VALUE})")
    String groupBy;
    @Option(names = "--layers", defaultValue = "all", description = "layers to lens: all, or a comma list such as 0,4,8 or a range 0-11 (default: ${DEFAULT-VALUE})")
    String layers;
    @Option(names = "--positions", defaultValue = "all",
            description = "which prompt entries: all, last, or group:<name> (e.g. group:image) (default: ${DEFAULT-VALUE})")
    String positions;
    @Option(names = "--top-k", defaultValue = "10", description = "top tokens per (layer, position) (default: ${DEFAULT-VALUE})")
    int topK;
    @Option(names = "--target", defaultValue = "-1", description = "a token id whose probability is reported per row and averaged per group (-1: none)")
    int target;
    @Option(names = "--checkpoint-every", defaultValue = "10", description = "samples between rewrites of the output (default: ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Override
    public Integer call() {
        LensSpec ls = LensSpec.DEFAULT.withLayers(parseLayers(layers)).withTopK(topK).withTarget(target).withGroups(true);
        Positions pos;
        String group = null;
        if (positions.equals("all")) {
            pos = Positions.ALL;
        } else if (positions.equals("last")) {
            pos = Positions.LAST;
        } else if (positions.startsWith("group:") && positions.length() > "group:".length()) {
            pos = Positions.GROUP;
            group = positions.substring("group:".length());
        } else {
            throw new IllegalArgumentException("--positions must be all, last or group:<name>, got '" + positions + "'");
        }
        Dataset data = Dataset.load(dataset);
        TokenGrouping g = CliSupport.grouping(groupBy, data, false); // a label group holds all of its samples' positions, as the lens reads them
        if (group != null && !g.groupNames().contains(group)) {
            throw new IllegalArgumentException("--positions " + positions + ": no token group '" + group + "'; --group-by " + groupBy
                    + " gives " + g.groupNames());
        }
        LensExperiment.Params p = new LensExperiment.Params(ls, pos, group, checkpointEvery);
        try (Workbench wb = Workbench.open(model.setup())) {
            LensExperiment.Result r = LensExperiment.run(wb, data, g, p, out, CliSupport.bar(spec.commandLine().getErr()));
            Path dir = LensExperiment.lensDir(out);
            Path html = dir.resolve("report.html");
            LensReport.addTo(new HtmlReport("Logit lens of " + wb.model().path().getFileName() + " on " + data.name()), dir, dir,
                    r, wb.model().layerCount()).write(html);
            spec.commandLine().getOut().println("lens of " + r.samples() + " samples, " + r.rows() + " rows (layers "
                    + (ls.allLayers() ? "all" : Arrays.toString(ls.layers())) + ", top-" + topK + ")");
            spec.commandLine().getOut().println("written to " + dir + " (report: " + html + ")");
        }
        return 0;
    }

    /** "all", "0,4,8", "0-11" or a mix ("0-3,8"): strictly ascending layers; empty = all. */
    static int[] parseLayers(String s) {
        if (s.equals("all")) {
            return new int[0];
        }
        java.util.TreeSet<Integer> set = new java.util.TreeSet<>();
        for (String part : s.split(",")) {
            String t = part.trim();
            try {
                int dash = t.indexOf('-', 1);
                if (dash > 0) {
                    int a = Integer.parseInt(t.substring(0, dash));
                    int b = Integer.parseInt(t.substring(dash + 1));
                    if (a > b) {
                        throw new IllegalArgumentException("--layers: empty range " + t);
                    }
                    for (int i = a; i <= b; i++) {
                        set.add(i);
                    }
                } else {
                    set.add(Integer.parseInt(t));
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--layers must be all, or layer numbers and ranges such as 0,4,8-11; got '" + s + "'");
            }
        }
        if (set.first() < 0) {
            throw new IllegalArgumentException("--layers: negative layer " + set.first());
        }
        return set.stream().mapToInt(Integer::intValue).toArray();
    }
}
