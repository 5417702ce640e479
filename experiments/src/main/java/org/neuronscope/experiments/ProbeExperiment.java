package org.neuronscope.experiments;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.neuronscope.HookPoint;
import org.neuronscope.collect.Pooling;
import org.neuronscope.collect.RepresentationCollector;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.Prompt;
import org.neuronscope.probe.LayerProbe;
import org.neuronscope.probe.Representations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code probe} experiment (Tao et al. 2024, docs/METHODS.md §5): pooled representations of
 * every sample at every layer, computed in the graph ({@link RepresentationCollector}) and saved
 * under {@code <out>/representations} (resumable from {@code <out>/checkpoint}); then a linear probe
 * per layer ({@link LayerProbe}) with its table, CSV, JSON and a report with the chart of the score
 * by layer beside the shuffled-label control.
 */
public final class ProbeExperiment {
    private static final Logger LOG = LoggerFactory.getLogger(ProbeExperiment.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param poolings         the poolings collected in the same pass
     * @param checkpointEvery  samples between checkpoints (a multiple of samplesPerDecode)
     * @param samplesPerDecode samples decoded together, one sequence each
     */
    public record Params(List<Pooling> poolings, int checkpointEvery, int samplesPerDecode) {
        public Params {
            if (poolings == null || poolings.isEmpty()) {
                throw new IllegalArgumentException("at least one pooling is required");
            }
            if (checkpointEvery <= 0 || samplesPerDecode <= 0 || checkpointEvery % samplesPerDecode != 0) {
                throw new IllegalArgumentException("checkpointEvery (" + checkpointEvery + ") must be a positive multiple of samplesPerDecode ("
                        + samplesPerDecode + ")");
            }
            poolings = List.copyOf(poolings);
        }

        public static Params of(List<Pooling> poolings) {
            return new Params(poolings, 50, 1);
        }
    }

    private ProbeExperiment() {
    }

    public static Path representationsDir(Path out) {
        return out.resolve("representations");
    }

    public static Path checkpointDir(Path out) {
        return out.resolve("checkpoint");
    }

    /**
     * Collects the pooled representations of {@code data} (or resumes a checkpoint under {@code out})
     * and saves them to {@link #representationsDir(Path)}; a finished run found there is read back.
     */
    public static Representations collect(Workbench wb, Dataset data, Params params, Path out, Progress.Listener listener) {
        List<String> names = params.poolings().stream().map(Pooling::name).toList();
        String dataset = StatsExperiment.datasetId(data);
        checkMedia(data, names);
        try {
            Path done = representationsDir(out);
            Representations reps = null;
            for (Path dir : List.of(done, checkpointDir(out))) {
                if (reps == null && Representations.isSavedIn(dir)) {
                    reps = Representations.read(dir);
                    check(reps, dir, names, dataset, wb);
                    LOG.info("resuming {} after {} of {} samples", dir, reps.size(), data.size());
                }
            }
            if (reps != null && reps.size() == data.size() && Representations.isSavedIn(done)) {
                return reps;
            }
            try (RepresentationCollector c = RepresentationCollector.open(wb.session(), params.poolings(), params.samplesPerDecode())) {
                if (reps == null) {
                    reps = new Representations(names, HookPoint.RESID_POST.id(), c.layers(), c.width(), data.size());
                    reps.metadata().put("dataset", dataset);
                    reps.metadata().put("model", wb.model().path().getFileName().toString());
                }
                Progress progress = new Progress("probe: representations", data.size(), reps.size(), listener);
                int step = params.samplesPerDecode();
                for (int i = reps.size(); i < data.size(); ) {
                    int end = Math.min(data.size(), i + step);
                    List<Sample> samples = data.samples().subList(i, end);
                    List<Prompt> prompts = new ArrayList<>();
                    try {
                        for (Sample s : samples) {
                            prompts.add(wb.prompts().prepare(s));
                        }
                        List<double[][]> pooled = c.poolAll(samples, prompts);
                        for (int j = 0; j < samples.size(); j++) {
                            reps.add(samples.get(j).id(), samples.get(j).labels(), pooled.get(j));
                            progress.step();
                        }
                    } finally {
                        prompts.forEach(Prompt::close);
                    }
                    i = end;
                    if (i % params.checkpointEvery() == 0 && i < data.size()) {
                        reps.save(checkpointDir(out));
                    }
                }
            }
            reps.save(done);
            deleteRecursively(checkpointDir(out));
            return reps;
        } catch (IOException e) {
            throw new UncheckedIOException("representations under " + out + ": " + e.getMessage(), e);
        }
    }

    /** A pooling over a media modality needs that medium in every sample: said before anything is decoded. */
    static void checkMedia(Dataset data, List<String> poolings) {
        for (Sample s : data.samples()) {
            for (String p : poolings) {
                boolean missing = switch (p) {
                    case "mean:image" -> s.images().isEmpty();
                    case "mean:audio" -> s.audio().isEmpty();
                    case "mean:video" -> s.video().isEmpty();
                    default -> false;
                };
                if (missing) {
                    throw new IllegalArgumentException("sample " + s.id() + " has no " + p.substring(5) + " tokens for pooling " + p
                            + " (it has no " + p.substring(5) + ")");
                }
            }
        }
    }

    private static void check(Representations reps, Path dir, List<String> poolings, String dataset, Workbench wb) {
        if (!reps.poolings().equals(poolings)) {
            throw new IllegalArgumentException(dir + " holds poolings " + reps.poolings() + ", this run asks for " + poolings
                    + "; remove it or use another output directory");
        }
        String had = reps.metadata().get("dataset");
        if (had != null && !had.equals(dataset)) {
            throw new IllegalArgumentException(dir + " was collected on dataset " + had + ", not " + dataset);
        }
        int layers = wb.hooks().layers();
        int width = wb.hooks().width(HookPoint.RESID_POST, 0);
        if (reps.layers() != layers || reps.width() != width) {
            throw new IllegalArgumentException(dir + " was collected on another model (" + reps.layers() + " layers x " + reps.width()
                    + "; this one " + layers + " x " + width + ")");
        }
    }

    /**
     * Probes one pooling for one label at every requested layer and writes, under {@code dir}:
     * {@code probe.txt} (the table), {@code probe.csv}, {@code probe.json} and {@code report/index.html}
     * with the chart {@code report/probe.png}.
     */
    public static LayerProbe.Report probe(Representations reps, String pooling, String label, LayerProbe.Params params, Path dir,
                                          Progress.Listener listener) {
        int[] layers = params.layers();
        Progress progress = new Progress("probe: layers", layers.length == 0 ? reps.layers() : layers.length, 0, listener);
        LayerProbe.Report report = LayerProbe.run(reps, pooling, label, params, l -> progress.step());
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("probe.txt"), report.table(), StandardCharsets.UTF_8);
            Files.writeString(dir.resolve("probe.csv"), report.csv(), StandardCharsets.UTF_8);
            java.util.Map<String, Object> json = new java.util.LinkedHashMap<>(report.toMap());
            json.put("model", reps.metadata().getOrDefault("model", ""));
            json.put("dataset", reps.metadata().getOrDefault("dataset", ""));
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("probe.json").toFile(), json);
            Path reportDir = dir.resolve("report");
            String title = "Probe of '" + label + "' (" + pooling + ", " + report.kind().id() + ")";
            Path png = ProbeCharts.scoreByLayer(report, title, reportDir.resolve("probe.png"));
            HtmlReport html = new HtmlReport("NeuronScope probe");
            section(html, reportDir, report, png, reps.metadata().getOrDefault("model", "?"));
            html.write(reportDir.resolve("index.html"));
        } catch (IOException e) {
            throw new UncheckedIOException("probe results under " + dir + ": " + e.getMessage(), e);
        }
        return report;
    }

    /** The report's probe section (also used by the demo). */
    public static void section(HtmlReport html, Path reportDir, LayerProbe.Report report, Path png, String model) {
        LayerProbe.LayerResult best = report.best();
        html.heading("Layer-wise probe of '" + report.label() + "' (" + report.pooling() + ")");
        html.paragraph(String.format(java.util.Locale.ROOT,
                "%s probe, %d samples, %d-fold cross-validation (seed %d), model %s. Best layer %d: %s %.3f [%.3f, %.3f], "
                        + "shuffled-label control %.3f, selectivity %.3f%s.", report.kind().id(), report.samples(), report.folds(), report.seed(), model,
                best.layer(), report.metric(), best.score(), best.low(), best.high(), best.controlScore(), best.selectivity(),
                report.metric().equals("accuracy") ? String.format(java.util.Locale.ROOT, "; majority-class rate %.3f", report.chance()) : ""));
        html.image(reportDir, png, report.metric() + " by layer, with the shuffled-label control");
        html.table(report.table());
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
