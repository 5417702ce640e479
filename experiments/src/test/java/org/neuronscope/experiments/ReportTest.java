package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.eval.Accuracy;
import org.neuronscope.eval.MetricTable;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Charts and HTML reports: round ticks through zero, one colour per name, error bars, tables that wrap, links. */
class ReportTest {
    @TempDir
    Path tmp;

    @Test
    void ticksAreRoundAndIncludeZero() {
        assertArrayEquals(new double[] {-0.2, 0, 0.2, 0.4, 0.6}, Charts.ticks(-0.03, 0.57, 5), 1e-12);
        assertArrayEquals(new double[] {0, 5, 10, 15, 20, 25}, Charts.ticks(0, 25, 5), 1e-12);
        assertArrayEquals(new double[] {0, 1, 2, 3}, Charts.ticks(0, 3, 5), 1e-12);
        assertArrayEquals(new double[] {-1, -0.75, -0.5, -0.25, 0}, Charts.ticks(-0.9, 0, 4), 1e-12);
        assertArrayEquals(new double[] {0, 0.2, 0.4, 0.6, 0.8, 1}, Charts.ticks(0, 0, 5), 1e-12); // nothing to show: 0..1
        assertArrayEquals(new double[] {11.4, 11.5, 11.6, 11.7, 11.8, 11.9}, Charts.ticks(11.43, 11.9, 5, false), 1e-9); // lines: no forced 0
        double[] t = Charts.ticks(0.031, 0.089, 5);
        assertEquals(0.0, t[0]);
        assertTrue(Arrays.stream(t).allMatch(v -> Math.abs(v / 0.02 - Math.round(v / 0.02)) < 1e-9), Arrays.toString(t));
        assertEquals("0.25", Charts.tickLabel(0.25, 0.25));
        assertEquals("0", Charts.tickLabel(0, 0.2));
        assertEquals("-0.2", Charts.tickLabel(-0.2, 0.2));
        assertEquals("15", Charts.tickLabel(15, 5));
    }

    @Test
    void everyNameKeepsItsColour() {
        assertEquals(Charts.colour("image"), Charts.colour("image"));
        assertNotEquals(Charts.colour("image"), Charts.colour("text"));
        assertEquals(Charts.colour("MINER deactivate"), Charts.colour("MINER deactivate"));
        assertNotEquals(Charts.colour("MINER deactivate"), Charts.colour("random deactivate"));
        assertNotEquals(Charts.colour("MINER deactivate"), Charts.colour("image"));
    }

    /** Line charts draw each series in its name's colour (the same "image" as in the bar charts), whatever the order. */
    @Test
    void lineChartsUseTheGroupColours() throws Exception {
        Map<String, double[]> series = new LinkedHashMap<>();
        series.put("audio", new double[] {1, 2, 3});
        series.put("image", new double[] {3, Double.NaN, 1});
        BufferedImage img = ImageIO.read(Charts.lines("groups", "layer", "entropy", series, tmp.resolve("lines.png")).toFile());
        for (String g : series.keySet()) {
            int rgb = Charts.colour(g).getRGB() & 0xFFFFFF;
            int n = 0;
            for (int x = 0; x < img.getWidth(); x++) {
                for (int y = 0; y < img.getHeight(); y++) {
                    n += (img.getRGB(x, y) & 0xFFFFFF) == rgb ? 1 : 0;
                }
            }
            assertTrue(n > 50, g + " drawn in its colour: " + n + " pixels");
        }
        assertArrayEquals(new double[] {1, 3}, Charts.finiteRange(series.values()), 0);
        assertArrayEquals(new double[] {0, 1}, Charts.finiteRange(List.of(new double[] {Double.NaN, Double.POSITIVE_INFINITY})), 0);
        assertArrayEquals(new double[] {2, 3}, Charts.finiteRange(List.of(new double[] {2, 2})), 0);
    }

    /** A condition whose accuracy has an interval gets an error bar: black pixels above its bar's top. */
    @Test
    void intervalsBecomeErrorBars() throws Exception {
        MetricTable t = new MetricTable();
        t.put("none", "image", "exact_match", new Accuracy(18, 20));
        t.put("ablated", "image", "exact_match", new Accuracy(6, 20));
        t.baseline("none");
        Path png = Charts.ablationDeltas(t, "exact_match", "exact match", tmp.resolve("em.png"));
        BufferedImage img = ImageIO.read(png.toFile());
        int black = 0;
        for (int x = 0; x < img.getWidth(); x++) {
            for (int y = 40; y < img.getHeight() - 60; y++) {
                if ((img.getRGB(x, y) & 0xFFFFFF) == 0) {
                    black++;
                }
            }
        }
        assertTrue(black > 100, "axes and an error bar drawn: " + black); // the axes alone are about 2 x plot size
        Map<String, double[]> series = new LinkedHashMap<>();
        series.put("ablated", new double[] {-0.6});
        Path plain = Charts.bars("no intervals", "g", "v", List.of("image"), series, tmp.resolve("plain.png"));
        assertTrue(Files.size(plain) > 500);
    }

    @Test
    void tablesWrapAndFilesAreLinked() throws Exception {
        MetricTable t = new MetricTable();
        for (String run : List.of("none", "a rather long condition name deactivate", "random deactivate")) {
            t.put(run, "image", "logit_change", 0.25);
            t.put(run, "text", "exact_match", new Accuracy(3, 4));
        }
        t.baseline("none");
        Path dir = tmp.resolve("report");
        Files.createDirectories(dir);
        Path csv = Files.writeString(tmp.resolve("table.csv"), t.toCsv());
        Path html = new HtmlReport("r").metricTable(t, 3).link(dir, csv, "table.csv (raw)").write(dir.resolve("index.html"));
        String page = Files.readString(html);
        assertTrue(page.contains("<th>Δ a rather long condition name deactivate</th>"), page);
        assertTrue(page.contains("<td>0.750 ["), page);
        assertTrue(page.contains("white-space:normal"), page);
        assertTrue(page.contains("<a href=\"../table.csv\">table.csv (raw)</a>"), page);
        assertEquals(2, page.split("<tr><td>", -1).length - 1, "one row per group and metric with values");
    }
}
