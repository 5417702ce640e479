package org.neuronscope.cli;

import org.neuronscope.collect.Pooling;
import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.ProbeCharts;
import org.neuronscope.experiments.ProbeExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.probe.LayerProbe;
import org.neuronscope.probe.LinearProbe;
import org.neuronscope.probe.Representations;
import org.neuronscope.testkit.PlantedProbeModels;

import java.nio.file.Path;
import java.util.List;

/**
 * The demo's probing part: the planted probe model (a class readable from the last token only from
 * layer 3 of 6), a generated dataset of two classes, representations pooled in the graph (last token
 * and mean over all tokens), and a logistic probe per layer with its shuffled-label control.
 */
final class DemoProbe {
    static final String[] WORDS = {"cat", "dog"};
    static final int K = 3;

    /** The probe reports (last, then mean) and the chart of the last-token probe. */
    record Result(LayerProbe.Report last, LayerProbe.Report mean, Path lastChart, Path meanChart) {
    }

    private DemoProbe() {
    }

    /** Runs it under {@code work}/probe with the llama vocabulary {@code llamaVocab} (llama.cpp's ggml-vocab-llama-spm.gguf). */
    static Result run(Path work, Path llamaVocab, int samples, int threads, Progress.Listener listener) {
        Path dir = work.resolve("probe");
        // the demo starts over: representations of an earlier demo (another sample count) would be refused, not reused
        deleteRecursively(ProbeExperiment.representationsDir(dir));
        deleteRecursively(ProbeExperiment.checkpointDir(dir));
        Path model = PlantedProbeModels.write(PlantedProbeModels.Spec.tiny(llamaVocab, K, PlantedProbeModels.spmTokens(llamaVocab, WORDS)),
                dir.resolve("model"));
        Dataset data = Dataset.of("planted-probe", PlantedProbeModels.samples(samples, 9, WORDS, false));
        Representations reps;
        try (Workbench wb = Workbench.open(new Workbench.Setup(model, ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(512).withBatchSize(128).withThreads(threads).withMaxSequences(4),
                ProjectorParams.defaults(), PromptFormat.raw()))) {
            reps = ProbeExperiment.collect(wb, data, new ProbeExperiment.Params(List.of(Pooling.last(), Pooling.mean()), 40, 4), dir, listener);
        }
        LayerProbe.Params params = LayerProbe.Params.defaults(LinearProbe.Kind.LOGISTIC);
        LayerProbe.Report last = ProbeExperiment.probe(reps, "last", "class", params, dir.resolve("probe-last"), listener);
        LayerProbe.Report mean = ProbeExperiment.probe(reps, "mean", "class", params, dir.resolve("probe-mean"), listener);
        return new Result(last, mean, dir.resolve("probe-last").resolve("report").resolve("probe.png"),
                dir.resolve("probe-mean").resolve("report").resolve("probe.png"));
    }

    private static void deleteRecursively(Path p) {
        if (!java.nio.file.Files.exists(p)) {
            return;
        }
        try (var walk = java.nio.file.Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(q);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot remove " + p + ": " + e.getMessage(), e);
        }
    }

    /** The section of the demo's report. */
    static void section(HtmlReport html, Path reportDir, Result r) {
        html.heading("Layer-wise probing on a planted model");
        html.paragraph("A 6-layer llama-style model in which the class of a prompt (the word 'cat' or 'dog' somewhere before the end) "
                + "is, by construction, absent from the last token's residual stream below layer " + K + " and written into it by layer "
                + K + "'s attention. A logistic probe per layer (5-fold cross-validation) on the last token finds chance below layer " + K
                + " and perfect accuracy from it; on the mean over all tokens, which include the class word itself, every layer reads it. "
                + "The red line is the same probe on shuffled labels.");
        Path a = ProbeCharts.scoreByLayer(r.last(), "Probe on the last token", reportDir.resolve("probe-last.png"));
        html.image(reportDir, a, "last token: accuracy by layer, with the shuffled-label control");
        html.table(r.last().table());
        Path b = ProbeCharts.scoreByLayer(r.mean(), "Probe on the mean over all tokens", reportDir.resolve("probe-mean.png"));
        html.image(reportDir, b, "mean over all tokens: accuracy by layer");
        html.table(r.mean().table());
    }
}
