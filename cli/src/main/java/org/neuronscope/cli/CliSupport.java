package org.neuronscope.cli;

import org.neuronscope.eval.Dataset;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.TokenGrouping;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;

/** What several commands share: the progress bar, durations, token groupings, statistics paths. */
final class CliSupport {
    private CliSupport() {
    }

    /**
     * Checks at the start of a command that {@code dir} can be written (created if missing, a probe
     * file written and removed, some space free), so that a read-only or full output directory is
     * reported before hours of work rather than at the first checkpoint.
     */
    static void checkWritableDirectory(Path dir, String option) {
        try {
            java.nio.file.Files.createDirectories(dir);
            Path probe = java.nio.file.Files.createTempFile(dir, ".neuronscope-write-check", ".tmp");
            try {
                java.nio.file.Files.write(probe, new byte[4096]);
            } finally {
                java.nio.file.Files.deleteIfExists(probe);
            }
            long free = java.nio.file.Files.getFileStore(dir).getUsableSpace();
            if (free < (1L << 20)) {
                throw new java.io.UncheckedIOException(new java.io.IOException(option + " " + dir + ": no space left on the device ("
                        + free + " bytes free)"));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(option + " " + dir + " cannot be written: " + describe(e), e);
        }
    }

    /** A one-line description of an I/O failure: the file and the system's reason ("Read-only file system"). */
    static String describe(Throwable e) {
        if (e instanceof java.io.UncheckedIOException u && u.getCause() != null && (u.getMessage() == null || u.getMessage().equals(u.getCause().toString()))) {
            return describe(u.getCause());
        }
        if (e instanceof java.nio.file.FileSystemException f) {
            String reason = f.getReason() != null ? f.getReason()
                    : f instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : f instanceof java.nio.file.NoSuchFileException ? "no such file or directory"
                    : f instanceof java.nio.file.FileAlreadyExistsException ? "already exists" : f.getClass().getSimpleName();
            return (f.getFile() != null ? f.getFile() + ": " : "") + reason;
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    /** How progress is shown: a bar redrawn in place (a terminal), a line every few seconds (a log), or nothing. */
    enum ProgressStyle {
        BAR, LINES, NONE;

        /**
         * {@code -Dneuronscope.progress=bar|lines|none} (the {@code neuronscope} script passes bar when
         * stderr is a terminal, lines otherwise), else a bar when the JVM has an interactive console.
         */
        static ProgressStyle current() {
            String p = System.getProperty("neuronscope.progress");
            if (p != null) {
                try {
                    return valueOf(p.strip().toUpperCase(java.util.Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    return LINES;
                }
            }
            java.io.Console c = System.console();
            return c != null && c.isTerminal() ? BAR : LINES;
        }
    }

    /** Seconds between two progress lines in a log. */
    static final long LINE_EVERY_NANOS = 5_000_000_000L;
    /** Whether a bar has been drawn with no newline after it: whatever is printed next must start a new line. */
    private static final java.util.concurrent.atomic.AtomicBoolean OPEN_LINE = new java.util.concurrent.atomic.AtomicBoolean();

    /** Progress on stderr in the style of {@link ProgressStyle#current()}. */
    static Progress.Listener bar(PrintWriter err) {
        return progress(err, ProgressStyle.current(), System::nanoTime);
    }

    /** Ends a bar's line if one is open, so that an error or a result starts on its own line. */
    static void endLine(PrintWriter err) {
        if (OPEN_LINE.getAndSet(false)) {
            err.println();
        }
    }

    /** done/total, rate, ETA: a bar redrawn at most five times a second, or a line every {@link #LINE_EVERY_NANOS}. */
    static Progress.Listener progress(PrintWriter err, ProgressStyle style, java.util.function.LongSupplier clock) {
        long[] last = {Long.MIN_VALUE};
        return switch (style) {
            case NONE -> Progress.Listener.NONE;
            case BAR -> (task, done, total, rate, eta) -> {
                long now = clock.getAsLong();
                if (done != total && last[0] != Long.MIN_VALUE && now - last[0] < 200_000_000L) {
                    return;
                }
                last[0] = now;
                int width = 30;
                int filled = total == 0 ? width : (int) (width * done / total);
                err.printf("\r%-7s [%s%s] %d/%d %.1f/s ETA %s ", task, "#".repeat(filled), ".".repeat(width - filled), done, total, rate, format(eta));
                OPEN_LINE.set(true);
                if (done == total) {
                    endLine(err);
                }
                err.flush();
            };
            case LINES -> (task, done, total, rate, eta) -> {
                long now = clock.getAsLong();
                if (done != total && last[0] != Long.MIN_VALUE && now - last[0] < LINE_EVERY_NANOS) {
                    return;
                }
                last[0] = now;
                err.printf("%s: %d/%d (%d %%), %.1f/s, ETA %s%n", task, done, total, total == 0 ? 100 : 100 * done / total, rate, format(eta));
                err.flush();
            };
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

    /** {@code modality} or {@code label:<name>}, every entry of a sample counting ({@code textOnly} false) or its text alone. */
    static TokenGrouping grouping(String groupBy, Dataset data, boolean textOnly) {
        if (groupBy.equals("modality")) {
            return new ModalityGrouping();
        }
        String label = labelName(groupBy);
        if (label != null) {
            return new LabelGrouping(label, data.requireLabelValues(label), textOnly);
        }
        throw new IllegalArgumentException("--group-by must be 'modality' or 'label:<name>', got " + groupBy);
    }

    /** The statistics directory of a 'neuronscope stats' output directory, or the directory itself. */
    static Path statisticsDir(Path statsOption) {
        return StatsExperiment.statisticsDirOf(statsOption);
    }
}
