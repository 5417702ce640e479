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

    private static void emit(int level, String line) {
        if (line.isBlank()) {
            return;
        }
        if (level == neuronscope_h.GGML_LOG_LEVEL_ERROR()) {
            lastError = line.strip();
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
