package org.neuronscope.experiments;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The lens section of a report: the layer × position heat map of the mean entropy (over samples, by
 * prompt entry) and the mean entropy of each token group by layer.
 */
public final class LensReport {
    private LensReport() {
    }

    /** Adds the lens section to {@code report}; the charts go to {@code chartDir}. */
    public static HtmlReport addTo(HtmlReport report, Path reportDir, Path chartDir, LensExperiment.Result r, int modelLayers) {
        report.heading("Logit lens");
        report.paragraph("The residual stream after each layer decoded with the model's own output norm and unembedding (computed in the graph): "
                + r.samples() + " samples, " + r.rows() + " (layer, entry) rows, top-" + r.topK() + (r.target() >= 0 ? ", target token " + r.target() : "")
                + ". Entropy in nats of the full softmax; a late drop marks the layer where the prediction forms.");
        double[][] heat = r.entropyByLayerAndEntry(modelLayers);
        if (heat.length > 0 && heat[0].length > 0) {
            Path png = Charts.heatMap("Lens entropy (nats) by layer and prompt entry", "prompt entry", "layer", heat, chartDir.resolve("lens-entropy-heatmap.png"));
            report.image(reportDir, png, "mean entropy per (layer, entry) over the samples");
        }
        Map<String, double[]> curves = new LinkedHashMap<>();
        for (int g = 0; g < r.groups().size(); g++) {
            double[] v = new double[modelLayers];
            Arrays.fill(v, Double.NaN);
            boolean any = false;
            for (int l : r.layers()) {
                v[l] = r.groupMeanEntropy(l, g);
                any |= !Double.isNaN(v[l]);
            }
            if (any) {
                curves.put(r.groups().get(g), v);
            }
        }
        if (!curves.isEmpty()) {
            Path png = Charts.lines("Mean lens entropy by layer, per token group", "layer", "entropy (nats)", curves, chartDir.resolve("lens-group-entropy.png"));
            report.image(reportDir, png, "weighted mean entropy of each group's lensed tokens, by layer");
            StringBuilder t = new StringBuilder(String.format("%-6s", "layer"));
            curves.keySet().forEach(k -> t.append(String.format(" %14s", k)));
            t.append('\n');
            for (int l : r.layers()) {
                t.append(String.format("%-6d", l));
                for (double[] v : curves.values()) {
                    t.append(String.format(" %14.4f", v[l]));
                }
                t.append('\n');
            }
            report.table(t.toString());
        }
        return report;
    }
}
