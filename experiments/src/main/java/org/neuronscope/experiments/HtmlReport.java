package org.neuronscope.experiments;


import org.neuronscope.NeuronScopeException;

import java.io.UncheckedIOException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/** A self-contained HTML page of headings, paragraphs, preformatted tables and chart images. */
public final class HtmlReport {
    private final StringBuilder body = new StringBuilder();
    private final String title;

    public HtmlReport(String title) {
        this.title = title;
    }

    public HtmlReport heading(String text) {
        body.append("<h2>").append(escape(text)).append("</h2>\n");
        return this;
    }

    public HtmlReport paragraph(String text) {
        body.append("<p>").append(escape(text)).append("</p>\n");
        return this;
    }

    /** Monospaced text, e.g. a table from {@code MetricTable.toText()}. */
    public HtmlReport table(String text) {
        body.append("<pre>").append(escape(text)).append("</pre>\n");
        return this;
    }

    /**
     * A metric table as an HTML table (one row per group and metric, a column per run and its change
     * to the baseline, intervals in brackets): cells wrap, so wide tables stay readable without
     * scrolling or hidden columns.
     */
    public HtmlReport metricTable(org.neuronscope.eval.MetricTable table, int decimals) {
        String base = table.baseline();
        List<String> header = new java.util.ArrayList<>(List.of("group", "metric"));
        for (String r : table.runs()) {
            header.add(r);
            if (!r.equals(base)) {
                header.add("Δ " + r);
            }
        }
        body.append("<div class=\"wide\"><table>\n<tr>");
        header.forEach(h -> body.append("<th>").append(escape(h)).append("</th>"));
        body.append("</tr>\n");
        String fmt = "%." + decimals + "f";
        for (String g : table.groups()) {
            for (String m : table.metrics()) {
                boolean any = table.runs().stream().anyMatch(r -> table.cell(r, g, m) != null);
                if (!any) {
                    continue;
                }
                body.append("<tr><td>").append(escape(g)).append("</td><td>").append(escape(m)).append("</td>");
                for (String r : table.runs()) {
                    org.neuronscope.eval.MetricTable.Cell c = table.cell(r, g, m);
                    String v = c == null ? "-" : c.hasInterval()
                            ? String.format(java.util.Locale.ROOT, fmt + " [" + fmt + ", " + fmt + "]", c.value(), c.low(), c.high())
                            : String.format(java.util.Locale.ROOT, fmt, c.value());
                    body.append("<td>").append(escape(v)).append("</td>");
                    if (!r.equals(base)) {
                        double d = c == null ? Double.NaN : table.delta(r, g, m);
                        body.append("<td>").append(Double.isNaN(d) ? "-" : escape(String.format(java.util.Locale.ROOT, "%+" + fmt.substring(1), d)))
                                .append("</td>");
                    }
                }
                body.append("</tr>\n");
            }
        }
        body.append("</table></div>\n");
        return this;
    }

    /** A neuron set's neurons per layer and group, with the union, headed by its module and hook point ({@link NeuronTables}). */
    public HtmlReport neuronTable(org.neuronscope.methods.NeuronSet set) {
        body.append("<h3>").append(escape(NeuronTables.title(set))).append("</h3>\n<div class=\"wide\"><table>\n<tr>");
        NeuronTables.header(set).forEach(h -> body.append("<th>").append(escape(h)).append("</th>"));
        body.append("</tr>\n");
        for (long[] r : NeuronTables.rows(set)) {
            body.append("<tr><td>").append(r[0] < 0 ? "all" : Long.toString(r[0])).append("</td>");
            for (int i = 1; i < r.length; i++) {
                body.append("<td>").append(r[i]).append("</td>");
            }
            body.append("</tr>\n");
        }
        body.append("</table></div>\n");
        return this;
    }

    /** A link to a file (raw data: .csv, .json, .npy), relative to the report's directory. */
    public HtmlReport link(Path reportDir, Path file, String text) {
        String rel = reportDir.toAbsolutePath().normalize().relativize(file.toAbsolutePath().normalize()).toString().replace('\\', '/');
        body.append("<p><a href=\"").append(escape(rel)).append("\">").append(escape(text)).append("</a></p>\n");
        return this;
    }

    /** An image, referenced relative to the report's directory. */
    public HtmlReport image(Path reportDir, Path png, String caption) {
        String rel = reportDir.toAbsolutePath().relativize(png.toAbsolutePath()).toString().replace('\\', '/');
        body.append("<figure><img src=\"").append(escape(rel)).append("\" alt=\"").append(escape(caption)).append("\"><figcaption>")
                .append(escape(caption)).append("</figcaption></figure>\n");
        return this;
    }

    public Path write(Path html) {
        String page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + escape(title) + "</title>\n"
                + "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}pre{background:#f6f6f6;padding:1em;"
                + "overflow-x:auto}figure{margin:1em 0}img{max-width:100%;box-sizing:border-box;border:1px solid #ddd}"
                + "table{border-collapse:collapse;font-size:0.9em;width:100%}th,td{border:1px solid #ddd;padding:0.25em 0.5em;"
                + "white-space:normal;overflow-wrap:anywhere;text-align:right;vertical-align:top}th{background:#f0f0f0}"
                + "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left;overflow-wrap:normal}</style></head><body>\n<h1>" + escape(title)
                + "</h1>\n<p>" + escape(ZonedDateTime.now().format(DateTimeFormatter.RFC_1123_DATE_TIME)) + "</p>\n" + body + "</body></html>\n";
        try {
            Files.createDirectories(html.toAbsolutePath().getParent());
            Files.writeString(html, page, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write report " + html + ": " + e.getMessage(), e);
        }
        return html;
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
