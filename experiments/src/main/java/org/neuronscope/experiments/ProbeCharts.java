package org.neuronscope.experiments;

import org.neuronscope.probe.LayerProbe;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

/**
 * The probe's chart (PNG, Java2D, headless): the held-out score by layer with its 95 % interval as a
 * band, the shuffled-label control, and for a class label the majority-class rate as a dashed line.
 */
public final class ProbeCharts {
    private static final Color SCORE = new Color(0x4C72B0);
    private static final Color BAND = new Color(0x4C72B0 | 0x40000000, true);
    private static final Color CONTROL = new Color(0xC44E52);
    private static final Color CHANCE = new Color(0x8C8C8C);

    private ProbeCharts() {
    }

    public static Path scoreByLayer(LayerProbe.Report report, String title, Path png) {
        List<LayerProbe.LayerResult> rs = report.layers();
        int width = Math.max(640, 100 + 28 * rs.size());
        int height = 420;
        int left = 70;
        int right = 170;
        int top = 40;
        int bottom = 60;
        double min = 0;
        double max = 1;
        for (LayerProbe.LayerResult r : rs) {
            min = Math.min(min, Math.min(r.low(), r.controlScore()));
            max = Math.max(max, r.high());
        }
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Charts.begin(img, title, left, true);
        try {
            int plotW = width - left - right;
            int plotH = height - top - bottom;
            double lo = min;
            double range = max - min;
            java.util.function.DoubleUnaryOperator yOf = v -> top + plotH * (1 - (v - lo) / range);
            java.util.function.IntToDoubleFunction xOf = i -> left + (rs.size() == 1 ? plotW / 2.0 : plotW * (double) i / (rs.size() - 1));
            for (int t = 0; t <= 4; t++) {
                double v = min + range * t / 4;
                int y = (int) Math.round(yOf.applyAsDouble(v));
                g.setColor(new Color(0xDDDDDD));
                g.drawLine(left, y, left + plotW, y);
                g.setColor(Color.DARK_GRAY);
                g.drawString(String.format(java.util.Locale.ROOT, "%.2f", v), 8, y + 4);
            }
            Path2D band = new Path2D.Double();
            for (int i = 0; i < rs.size(); i++) {
                double x = xOf.applyAsDouble(i);
                double y = yOf.applyAsDouble(rs.get(i).high());
                if (i == 0) {
                    band.moveTo(x, y);
                } else {
                    band.lineTo(x, y);
                }
            }
            for (int i = rs.size() - 1; i >= 0; i--) {
                band.lineTo(xOf.applyAsDouble(i), yOf.applyAsDouble(rs.get(i).low()));
            }
            band.closePath();
            g.setColor(BAND);
            g.fill(band);
            if (report.metric().equals("accuracy")) {
                g.setColor(CHANCE);
                g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
                int y = (int) Math.round(yOf.applyAsDouble(report.chance()));
                g.drawLine(left, y, left + plotW, y);
            }
            line(g, rs, xOf, yOf, false, SCORE);
            line(g, rs, xOf, yOf, true, CONTROL);
            g.setStroke(new BasicStroke(1f));
            g.setColor(Color.BLACK);
            g.drawLine(left, top + plotH, left + plotW, top + plotH);
            g.drawLine(left, top, left, top + plotH);
            int step = Math.max(1, rs.size() / 16);
            for (int i = 0; i < rs.size(); i += step) {
                String label = Integer.toString(rs.get(i).layer());
                g.drawString(label, (int) Math.round(xOf.applyAsDouble(i) - 3 * label.length()), top + plotH + 16);
            }
            g.drawString("layer", left + plotW / 2 - 12, height - 18);
            g.drawString(report.metric() + " (held out)", left, top - 6);
            String[] names = {report.metric() + " (95% interval)", "shuffled-label control", report.metric().equals("accuracy") ? "majority class" : null};
            Color[] colours = {SCORE, CONTROL, CHANCE};
            for (int i = 0; i < names.length; i++) {
                if (names[i] != null) {
                    g.setColor(colours[i]);
                    g.fillRect(width - right + 15, top + 18 * i, 12, 12);
                    g.setColor(Color.BLACK);
                    g.drawString(names[i], width - right + 32, top + 18 * i + 11);
                }
            }
        } finally {
            g.dispose();
        }
        return Charts.writePng(img, png);
    }

    private static void line(Graphics2D g, List<LayerProbe.LayerResult> rs, java.util.function.IntToDoubleFunction xOf,
                             java.util.function.DoubleUnaryOperator yOf, boolean control, Color colour) {
        g.setColor(colour);
        g.setStroke(new BasicStroke(2f));
        Path2D p = new Path2D.Double();
        for (int i = 0; i < rs.size(); i++) {
            double v = control ? rs.get(i).controlScore() : rs.get(i).score();
            double x = xOf.applyAsDouble(i);
            double y = yOf.applyAsDouble(Double.isNaN(v) ? 0 : v);
            if (i == 0) {
                p.moveTo(x, y);
            } else {
                p.lineTo(x, y);
            }
            g.fillOval((int) Math.round(x) - 3, (int) Math.round(y) - 3, 6, 6);
        }
        g.draw(p);
    }
}
