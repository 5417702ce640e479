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

    /** Fixed colours of the modality groups, so that "image" is the same colour in every chart. */
    private static final Map<String, Color> FIXED = Map.of("text", PALETTE[0], "image", PALETTE[1], "audio", PALETTE[2], "video", PALETTE[3],
            "special", PALETTE[4]);
    /** Any other series name: a colour on first use, the same in every later chart of this JVM. */
    private static final Map<String, Color> ASSIGNED = new java.util.concurrent.ConcurrentHashMap<>();
    private static final java.util.concurrent.atomic.AtomicInteger NEXT = new java.util.concurrent.atomic.AtomicInteger();

    private Charts() {
    }

    /** The colour of a series (a group, a condition) in every chart: fixed for the modalities, assigned on first use otherwise. */
    public static Color colour(String name) {
        Color c = FIXED.get(name);
        if (c != null) {
            return c;
        }
        return ASSIGNED.computeIfAbsent(name, k -> {
            int i = NEXT.getAndIncrement();
            Color base = PALETTE[(5 + i) % PALETTE.length]; // after the modalities' colours
            return i < PALETTE.length - 5 ? base : base.darker();
        });
    }

    /**
     * Round axis ticks covering [min, max] and 0: steps of 1, 2, 2.5 or 5 times a power of ten, about
     * {@code target} of them.
     */
    static double[] ticks(double min, double max, int target) {
        return ticks(min, max, target, true);
    }

    /**
     * Round axis ticks covering [min, max], and 0 if {@code withZero} (bars start at 0; a line chart
     * of values far from 0, such as entropies near log|V|, would be flattened by it).
     */
    static double[] ticks(double min, double max, int target, boolean withZero) {
        double lo = withZero ? Math.min(0, min) : min;
        double hi = withZero ? Math.max(0, max) : max;
        if (hi == lo) {
            hi = lo + 1;
        }
        double raw = (hi - lo) / Math.max(1, target);
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag * 10;
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        }
        long first = (long) Math.floor(lo / step + 1e-9);
        long last = (long) Math.ceil(hi / step - 1e-9);
        double[] t = new double[(int) (last - first + 1)];
        for (int i = 0; i < t.length; i++) {
            t[i] = (first + i) * step;
            if (Math.abs(t[i]) < step * 1e-9) {
                t[i] = 0; // an exact zero, not -0 or 1e-17
            }
        }
        return t;
    }

    /** A tick's label: as few decimals as its step needs. */
    static String tickLabel(double v, double step) {
        return new java.math.BigDecimal(v).setScale(Math.max(0, (int) -Math.floor(Math.log10(step)) + 1), java.math.RoundingMode.HALF_EVEN)
                .stripTrailingZeros().toPlainString();
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

    /**
     * For one metric: per sample group, one bar per condition: its change from the baseline; where the
     * table has a 95 % interval for the condition's value, an error bar shows it, shifted by the
     * baseline's value (the baseline's own uncertainty is not in it).
     */
    public static Path ablationDeltas(MetricTable table, String metric, String title, Path png) {
        List<String> groups = table.groups();
        Map<String, double[]> series = new LinkedHashMap<>();
        Map<String, double[][]> intervals = new LinkedHashMap<>();
        for (String run : table.runs()) {
            if (run.equals(table.baseline())) {
                continue;
            }
            double[] v = new double[groups.size()];
            double[][] iv = new double[groups.size()][];
            for (int i = 0; i < groups.size(); i++) {
                MetricTable.Cell c = table.cell(run, groups.get(i), metric);
                v[i] = c == null ? 0 : table.delta(run, groups.get(i), metric);
                MetricTable.Cell b = table.cell(table.baseline(), groups.get(i), metric);
                if (c != null && b != null && c.hasInterval()) {
                    iv[i] = new double[] {c.low() - b.value(), c.high() - b.value()};
                }
            }
            series.put(run, v);
            intervals.put(run, iv);
        }
        return bars(title, "sample group", "Δ " + metric + " vs " + table.baseline(), groups, series, intervals, png);
    }

    /** A grouped bar chart: categories along x, one coloured bar per series in each. */
    public static Path bars(String title, String xLabel, String yLabel, List<String> categories, Map<String, double[]> series, Path png) {
        return bars(title, xLabel, yLabel, categories, series, Map.of(), png);
    }

    /**
     * A grouped bar chart with error bars: {@code intervals.get(series)[category]} is {low, high} or
     * null (no bar). Each series has {@link #colour its colour}; the y axis has round ticks and 0.
     */
    public static Path bars(String title, String xLabel, String yLabel, List<String> categories, Map<String, double[]> series,
                            Map<String, double[][]> intervals, Path png) {
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
        for (double[][] iv : intervals.values()) {
            for (double[] lh : iv) {
                if (lh != null) {
                    min = Math.min(min, lh[0]);
                    max = Math.max(max, lh[1]);
                }
            }
        }
        double[] ticks = ticks(min, max, 5);
        double tickStep = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
        min = ticks[0];
        max = ticks[ticks.length - 1];
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = begin(img, title, left, true);
        try {
            int plotW = width - left - right;
            int plotH = height - top - bottom;
            double range = max - min;
            int zeroY = top + (int) Math.round(plotH * (max / range));
            g.setColor(new Color(0xDDDDDD));
            for (double v : ticks) {
                int y = top + (int) Math.round(plotH * ((max - v) / range));
                g.drawLine(left, y, left + plotW, y);
                g.setColor(Color.DARK_GRAY);
                g.drawString(tickLabel(v, tickStep), 8, y + 4);
                g.setColor(new Color(0xDDDDDD));
            }
            int nCat = Math.max(1, categories.size());
            int nSer = Math.max(1, series.size());
            double slot = (double) plotW / nCat;
            double barW = Math.max(2, (slot - 10) / nSer);
            int s = 0;
            for (var e : series.entrySet()) {
                Color colour = colour(e.getKey());
                g.setColor(colour);
                double[] v = e.getValue();
                double[][] iv = intervals.get(e.getKey());
                for (int c = 0; c < v.length && c < nCat; c++) {
                    int x = (int) Math.round(left + c * slot + 5 + s * barW);
                    int y = top + (int) Math.round(plotH * ((max - Math.max(v[c], 0)) / range));
                    int h = (int) Math.round(plotH * (Math.abs(v[c]) / range));
                    g.fillRect(x, v[c] >= 0 ? y : zeroY, (int) Math.ceil(barW) - 1, Math.max(h, v[c] == 0 ? 0 : 1));
                    if (iv != null && c < iv.length && iv[c] != null) {
                        int cx = x + (int) (barW / 2);
                        int yLow = top + (int) Math.round(plotH * ((max - iv[c][0]) / range));
                        int yHigh = top + (int) Math.round(plotH * ((max - iv[c][1]) / range));
                        g.setColor(Color.BLACK);
                        g.drawLine(cx, yLow, cx, yHigh);
                        g.drawLine(cx - 3, yLow, cx + 3, yLow);
                        g.drawLine(cx - 3, yHigh, cx + 3, yHigh);
                        g.setColor(colour);
                    }
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

    /**
     * A heat map: {@code values[row][column]} as colours from white (the minimum) to dark blue (the
     * maximum); NaN cells grey. Rows run bottom to top (layer 0 at the bottom), columns left to right.
     */
    public static Path heatMap(String title, String xLabel, String yLabel, double[][] values, Path png) {
        int rows = values.length;
        int cols = rows == 0 ? 0 : values[0].length;
        int cell = Math.max(2, Math.min(24, 900 / Math.max(1, cols)));
        int cellH = Math.max(4, Math.min(24, 480 / Math.max(1, rows)));
        int left = 70, top = 40, right = 110, bottom = 50;
        int width = Math.max(480, left + cols * cell + right);
        int height = top + rows * cellH + bottom;
        double[] range = finiteRange(java.util.Arrays.asList(values));
        double min = range[0], max = range[1];
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = begin(img, title, left, false);
        try {
            for (int r = 0; r < rows; r++) {
                int y = top + (rows - 1 - r) * cellH;
                for (int c = 0; c < cols; c++) {
                    g.setColor(shade(values[r][c], min, max));
                    g.fillRect(left + c * cell, y, cell, cellH);
                }
                if (rows <= 40 || r % Math.max(1, rows / 20) == 0) {
                    g.setColor(Color.DARK_GRAY);
                    g.drawString(Integer.toString(r), left - 24, y + cellH / 2 + 4);
                }
            }
            for (int c = 0; c < cols; c += Math.max(1, cols / 16)) {
                g.setColor(Color.DARK_GRAY);
                g.drawString(Integer.toString(c), left + c * cell, top + rows * cellH + 14);
            }
            g.drawString(xLabel, left + Math.max(0, cols * cell / 2 - 30), height - 12);
            g.drawString(yLabel, 8, top - 8);
            int lx = width - right + 20;
            int legend = Math.max(20, rows * cellH);
            for (int i = 0; i < legend; i++) {
                g.setColor(shade(max - (max - min) * i / (double) legend, min, max));
                g.fillRect(lx, top + i, 14, 1);
            }
            g.setColor(Color.BLACK);
            g.drawString(tick(max, max - min), lx + 18, top + 8);
            g.drawString(tick(min, max - min), lx + 18, top + legend);
        } finally {
            g.dispose();
        }
        return writePng(img, png);
    }

    /**
     * Lines over a shared x axis 0..n-1 (one per series, in {@link #colour its colour}; NaN points
     * skipped); the y axis has round ticks around the values' range.
     */
    public static Path lines(String title, String xLabel, String yLabel, Map<String, double[]> series, Path png) {
        int width = 720, height = 420, left = 70, right = 160, top = 40, bottom = 50;
        int n = series.values().stream().mapToInt(v -> v.length).max().orElse(0);
        double[] span = finiteRange(series.values());
        double[] ticks = ticks(span[0], span[1], 5, false);
        double tickStep = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
        double min = ticks[0], max = ticks[ticks.length - 1];
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = begin(img, title, left, true);
        try {
            int plotW = width - left - right, plotH = height - top - bottom;
            double range = max - min;
            for (double v : ticks) {
                int y = top + (int) Math.round(plotH * ((max - v) / range));
                g.setColor(new Color(0xDDDDDD));
                g.drawLine(left, y, left + plotW, y);
                g.setColor(Color.DARK_GRAY);
                g.drawString(tickLabel(v, tickStep), 8, y + 4);
            }
            double dx = n <= 1 ? 0 : (double) plotW / (n - 1);
            for (int i = 0; i < n; i += Math.max(1, n / 16)) {
                g.drawString(Integer.toString(i), (int) Math.round(left + i * dx) - 3, top + plotH + 16);
            }
            int s = 0;
            for (var e : series.entrySet()) {
                g.setColor(colour(e.getKey()));
                g.setStroke(new BasicStroke(2f));
                double[] v = e.getValue();
                int px = -1, py = -1;
                for (int i = 0; i < v.length; i++) {
                    if (Double.isNaN(v[i])) {
                        px = -1;
                        continue;
                    }
                    int x = (int) Math.round(left + i * dx);
                    int y = top + (int) Math.round(plotH * ((max - v[i]) / range));
                    if (px >= 0) {
                        g.drawLine(px, py, x, y);
                    }
                    g.fillOval(x - 3, y - 3, 6, 6);
                    px = x;
                    py = y;
                }
                g.fillRect(width - right + 15, top + 18 * s, 12, 12);
                g.setColor(Color.BLACK);
                g.drawString(e.getKey(), width - right + 32, top + 18 * s + 11);
                s++;
            }
            g.setColor(Color.BLACK);
            g.setStroke(new BasicStroke(1f));
            g.drawLine(left, top + plotH, left + plotW, top + plotH);
            g.drawLine(left, top, left, top + plotH);
            g.drawString(xLabel, left + plotW / 2 - 20, height - 14);
            g.drawString(yLabel, left, top - 6);
        } finally {
            g.dispose();
        }
        return writePng(img, png);
    }

    /**
     * {min, max} of the finite values of the rows (NaN and infinities skipped); a range of width 1
     * around the value (or [0, 1]) when there is at most one distinct value, so that scales never
     * divide by zero.
     */
    static double[] finiteRange(java.util.Collection<double[]> rows) {
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (double[] r : rows) {
            for (double v : r) {
                if (Double.isFinite(v)) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
        }
        if (!(max > min)) {
            min = Double.isInfinite(min) ? 0 : min;
            max = min + 1;
        }
        return new double[] {min, max};
    }

    /** A tick label with as many decimals as the range needs to tell ticks apart. */
    private static String tick(double v, double range) {
        int decimals = range <= 0 ? 3 : Math.max(0, Math.min(8, (int) Math.ceil(-Math.log10(range / 4)) + 1));
        return String.format("%." + decimals + "f", v);
    }

    private static Color shade(double v, double min, double max) {
        if (Double.isNaN(v)) {
            return new Color(0xBBBBBB);
        }
        double t = Math.max(0, Math.min(1, (v - min) / (max - min)));
        return new Color((int) Math.round(255 - t * (255 - 0x08)), (int) Math.round(255 - t * (255 - 0x30)), (int) Math.round(255 - t * (255 - 0x6B)));
    }

    /** The graphics of a chart: a white background, the title at {@code left}, then the plain 11-point font. */
    static Graphics2D begin(BufferedImage img, String title, int left, boolean antialias) {
        Graphics2D g = img.createGraphics();
        if (antialias) {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        }
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, left, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        return g;
    }

    static Path writePng(BufferedImage img, Path png) {
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            ImageIO.write(img, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write chart " + png + ": " + e.getMessage(), e);
        }
        return png;
    }
}
