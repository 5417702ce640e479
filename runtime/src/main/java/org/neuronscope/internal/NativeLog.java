package org.neuronscope.internal;

import org.neuronscope.bindings.neuronscope_h;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;

/**
 * Routes llama.cpp's, ggml's and mtmd's log lines to slf4j (logger {@code llama.cpp}). Messages arrive
 * in pieces (a CONT level continues the previous one), so text is buffered up to each newline.
 */
final class NativeLog {
    private static final Logger LOG = LoggerFactory.getLogger("llama.cpp");
    private static final StringBuilder PENDING = new StringBuilder();
    private static int pendingLevel = neuronscope_h.GGML_LOG_LEVEL_INFO();
    private static volatile String lastError = "";
    /** Error lines logged on this thread while a {@link #capture()} is open (the log callback runs on the caller's thread). */
    private static final ThreadLocal<java.util.List<String>> CAPTURED = new ThreadLocal<>();

    private NativeLog() {
    }

    /** The upcall; must never throw (an exception here would abort the JVM). */
    static void log(int level, MemorySegment text, MemorySegment userData) {
        try {
            String piece = text.reinterpret(Long.MAX_VALUE).getString(0);
            synchronized (PENDING) {
                if (level != neuronscope_h.GGML_LOG_LEVEL_CONT()) {
                    pendingLevel = level;
                }
                PENDING.append(piece);
                int newline;
                while ((newline = PENDING.indexOf("\n")) >= 0) {
                    emit(pendingLevel, PENDING.substring(0, newline));
                    PENDING.delete(0, newline + 1);
                }
            }
        } catch (Throwable ignored) {
            // logging must not take the process down
        }
    }

    /** The last line logged at ERROR level by native code ("" if none): the reason behind a NULL return. */
    static String lastError() {
        synchronized (PENDING) {
            if (pendingLevel == neuronscope_h.GGML_LOG_LEVEL_ERROR() && !PENDING.isEmpty()) {
                return PENDING.toString().strip();
            }
        }
        return lastError;
    }

    /** Starts collecting the error lines native code logs on this thread; see {@link Capture#errors()}. */
    static Capture capture() {
        java.util.List<String> previous = CAPTURED.get();
        java.util.List<String> lines = new java.util.ArrayList<>();
        CAPTURED.set(lines);
        return new Capture(lines, previous);
    }

    /** The error lines of one native call, in order (llama.cpp logs the reason first, then "failed to load model"). */
    static final class Capture implements AutoCloseable {
        private final java.util.List<String> lines;
        private final java.util.List<String> previous;

        private Capture(java.util.List<String> lines, java.util.List<String> previous) {
            this.lines = lines;
            this.previous = previous;
        }

        /** The captured lines joined with "; ", including a pending unterminated one ("" if none). */
        String errors() {
            java.util.List<String> all = new java.util.ArrayList<>(lines);
            synchronized (PENDING) {
                if (pendingLevel == neuronscope_h.GGML_LOG_LEVEL_ERROR() && !PENDING.isEmpty()) {
                    all.add(PENDING.toString().strip());
                }
            }
            return String.join("; ", all);
        }

        @Override
        public void close() {
            if (previous == null) {
                CAPTURED.remove();
            } else {
                CAPTURED.set(previous);
            }
        }
    }

    private static void emit(int level, String line) {
        if (line.isBlank()) {
            return;
        }
        if (level == neuronscope_h.GGML_LOG_LEVEL_ERROR()) {
            lastError = line.strip();
            java.util.List<String> captured = CAPTURED.get();
            if (captured != null && captured.size() < 32) {
                captured.add(line.strip());
            }
            LOG.error(line);
        } else if (level == neuronscope_h.GGML_LOG_LEVEL_WARN()) {
            LOG.warn(line);
        } else if (level == neuronscope_h.GGML_LOG_LEVEL_INFO()) {
            LOG.debug(line); // llama.cpp is chatty at INFO: model loading prints hundreds of lines
        } else {
            LOG.trace(line);
        }
    }
}
