package org.neuronscope.cli;

import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.TokenGrouping;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** What several commands share: the progress bar, durations, token groupings, statistics paths. */
final class CliSupport {
    private CliSupport() {
    }

    /** A progress bar on stderr: done/total, rate, ETA. */
    static Progress.Listener bar(PrintWriter err) {
        long[] last = {0};
        return (task, done, total, rate, eta) -> {
            long now = System.nanoTime();
            if (done != total && now - last[0] < 200_000_000L) {
                return; // redraw at most five times a second
            }
            last[0] = now;
            int width = 30;
            int filled = total == 0 ? width : (int) (width * done / total);
            err.printf("\r%-7s [%s%s] %d/%d %.1f/s ETA %s ", task, "#".repeat(filled), ".".repeat(width - filled), done, total, rate, format(eta));
            if (done == total) {
                err.println();
            }
        };
    }

    static String format(Duration d) {
        long s = d.toSeconds();
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }

    /** The name of a {@code --group-by label:<name>}, or null when the grouping is not by a label. */
    static String labelName(String groupBy) {
        return groupBy.startsWith("label:") ? groupBy.substring("label:".length()) : null;
    }

    /** {@code modality} or {@code label:<name>}. */
    static TokenGrouping grouping(String groupBy, Dataset data) {
        if (groupBy.equals("modality")) {
            return new ModalityGrouping();
        }
        String label = labelName(groupBy);
        if (label != null) {
            List<String> values = data.labelValues(label);
            if (values.isEmpty()) {
                throw new IllegalArgumentException("no sample of " + data.name() + " has the label '" + label + "'");
            }
            return new LabelGrouping(label, values, false);
        }
        throw new IllegalArgumentException("--group-by must be 'modality' or 'label:<name>', got " + groupBy);
    }

    /** The statistics directory of a 'neuronscope stats' output directory, or the directory itself. */
    static Path statisticsDir(Path statsOption) {
        Path inner = StatsExperiment.statisticsDir(statsOption);
        return Files.isDirectory(inner) ? inner : statsOption;
    }
}
