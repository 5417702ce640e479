package org.neuronscope.experiments;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.methods.NeuronSet;

import java.io.UncheckedIOException;
import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Grouped bar charts as PNG files (Java2D, headless): neurons per layer per group, ablation deltas. */
public final class Charts {
    private static final Color[] PALETTE = {new Color(0x4C72B0), new Color(0xDD8452), new Color(0x55A868), new Color(0xC44E52),
        new Color(0x8172B3), new Color(0x937860), new Color(0xDA8BC3), new Color(0x8C8C8C)};

    private Charts() {
    }

    /** Selected neurons per layer, one bar per group of the set. */
    public static Path neuronsPerLayer(NeuronSet set, String title, Path png) {
        List<String> categories = new ArrayList<>();
        for (int l = 0; l < set.layers(); l++) {
            categories.add(Integer.toString(l));
        }
        Map<String, double[]> series = new LinkedHashMap<>();
        for (String g : set.groupNames()) {
            int[] c = set.perLayerCounts(g);
            double[] v = new double[c.length];
            for (int i = 0; i < c.length; i++) {
                v[i] = c[i];
            }
            series.put(g, v);
        }
        return bars(title, "layer", "neurons", categories, series, png);
    }

    /** For one metric: per sample group, one bar per condition: its change from the baseline. */
    public static Path ablationDeltas(MetricTable table, String metric, String title, Path png) {
        List<String> groups = table.groups();
        Map<String, double[]> series = new LinkedHashMap<>();
        for (String run : table.runs()) {
            if (run.equals(table.baseline())) {
                continue;
            }
            double[] v = new double[groups.size()];
            for (int i = 0; i < groups.size(); i++) {
                v[i] = table.cell(run, groups.get(i), metric) == null ? 0 : table.delta(run, groups.get(i), metric);
            }
            series.put(run, v);
        }
        return bars(title, "sample group", "Δ " + metric + " vs " + table.baseline(), groups, series, png);
    }

    /** A grouped bar chart: categories along x, one coloured bar per series in each. */
    public static Path bars(String title, String xLabel, String yLabel, List<String> categories, Map<String, double[]> series, Path png) {
        int width = Math.max(640, 120 + categories.size() * Math.max(60, 18 * series.size() + 20));
        int height = 420;
        int left = 70;
        int right = 150;
        int top = 40;
        int bottom = 60;
        double min = 0;
        double max = 0;
        for (double[] v : series.values()) {
            for (double x : v) {
                min = Math.min(min, x);
                max = Math.max(max, x);
            }
        }
        if (max == min) {
            max = min + 1;
        }
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.drawString(title, left, 24);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            int plotW = width - left - right;
            int plotH = height - top - bottom;
            double range = max - min;
            int zeroY = top + (int) Math.round(plotH * (max / range));
            g.setColor(new Color(0xDDDDDD));
            for (int t = 0; t <= 4; t++) {
                double v = min + range * t / 4;
                int y = top + (int) Math.round(plotH * ((max - v) / range));
                g.drawLine(left, y, left + plotW, y);
                g.setColor(Color.DARK_GRAY);
                g.drawString(String.format(Math.abs(range) >= 10 ? "%.0f" : "%.3g", v), 8, y + 4);
                g.setColor(new Color(0xDDDDDD));
            }
            int nCat = Math.max(1, categories.size());
            int nSer = Math.max(1, series.size());
            double slot = (double) plotW / nCat;
            double barW = Math.max(2, (slot - 10) / nSer);
            int s = 0;
            for (var e : series.entrySet()) {
                g.setColor(PALETTE[s % PALETTE.length]);
                double[] v = e.getValue();
                for (int c = 0; c < v.length && c < nCat; c++) {
                    int x = (int) Math.round(left + c * slot + 5 + s * barW);
                    int y = top + (int) Math.round(plotH * ((max - Math.max(v[c], 0)) / range));
                    int h = (int) Math.round(plotH * (Math.abs(v[c]) / range));
                    g.fillRect(x, v[c] >= 0 ? y : zeroY, (int) Math.ceil(barW) - 1, Math.max(h, v[c] == 0 ? 0 : 1));
                }
                g.fillRect(width - right + 15, top + 18 * s, 12, 12);
                g.setColor(Color.BLACK);
                g.drawString(e.getKey(), width - right + 32, top + 18 * s + 11);
                s++;
            }
            g.setColor(Color.BLACK);
            g.setStroke(new BasicStroke(1f));
            g.drawLine(left, zeroY, left + plotW, zeroY);
            g.drawLine(left, top, left, top + plotH);
            for (int c = 0; c < categories.size(); c++) {
                g.drawString(categories.get(c), (int) Math.round(left + c * slot + slot / 2 - 4 * categories.get(c).length() / 2.0), top + plotH + 16);
            }
            g.drawString(xLabel, left + plotW / 2 - 20, height - 18);
            g.drawString(yLabel, left, top - 6);
        } finally {
            g.dispose();
        }
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            ImageIO.write(img, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write chart " + png + ": " + e.getMessage(), e);
        }
        return png;
    }
}
