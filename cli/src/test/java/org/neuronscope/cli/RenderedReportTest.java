package org.neuronscope.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.experiments.Charts;
import org.neuronscope.experiments.HtmlReport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rendered-report check can fail: a missing chart, a table that cannot wrap and a dead link are each caught. */
class RenderedReportTest {
    @TempDir
    Path dir;

    private Path chart() {
        Path png = dir.resolve("chart.png");
        RenderedReport.requireBrowser();
        Charts.lines("chart", "layer", "value", Map.of("a", new double[] {0.1, 0.5, 0.2}), png);
        return png;
    }

    @Test
    void aWellFormedReportPasses() throws Exception {
        Path csv = Files.writeString(dir.resolve("raw.csv"), "a,b\n1,2\n");
        Path html = new HtmlReport("ok").image(dir, chart(), "a chart").link(dir, csv, "raw").write(dir.resolve("index.html"));
        for (RenderedReport.View v : RenderedReport.check(html)) {
            assertTrue(v.images() == 1 && v.links().equals(List.of("raw.csv")), v.toString());
        }
    }

    @Test
    void aMissingChartFails() throws Exception {
        Path png = chart();
        Path html = new HtmlReport("broken").image(dir, png, "a chart").write(dir.resolve("index.html"));
        Files.delete(png);
        assertThrows(AssertionError.class, () -> RenderedReport.check(html));
    }

    @Test
    void aTableThatCannotWrapFails() throws Exception {
        Path png = chart();
        String cells = "<td style=\"white-space:nowrap\">" + "wide column ".repeat(30) + "</td>";
        Path html = Files.writeString(dir.resolve("index.html"), "<!DOCTYPE html><html><body style=\"max-width:1100px\">"
                + "<img src=\"chart.png\" style=\"width:100%\"><div><table><tr>" + cells + cells + "</tr></table></div></body></html>");
        assertTrue(Files.exists(png));
        assertThrows(AssertionError.class, () -> RenderedReport.check(html));
    }

    @Test
    void aDeadLinkFails() throws Exception {
        Path html = new HtmlReport("dead link").image(dir, chart(), "a chart").link(dir, dir.resolve("gone.npy"), "raw").write(dir.resolve("index.html"));
        assertThrows(AssertionError.class, () -> RenderedReport.check(html));
    }
}
