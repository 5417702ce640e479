package org.neuronscope.experiments;


import org.neuronscope.NeuronScopeException;

import java.io.UncheckedIOException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

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
                + "overflow-x:auto}figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}</style></head><body>\n<h1>" + escape(title)
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
