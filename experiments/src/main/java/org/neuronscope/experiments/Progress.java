package org.neuronscope.experiments;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * Progress of a long task with rate and ETA: reported to a listener on every step (a command line
 * draws a bar) and logged through slf4j at most every few seconds.
 */
public final class Progress {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);
    private static final long LOG_EVERY_NANOS = 5_000_000_000L;

    /** Receives every update. */
    @FunctionalInterface
    public interface Listener {
        Listener NONE = (task, done, total, rate, eta) -> { };

        void update(String task, long done, long total, double perSecond, Duration eta);
    }

    private final String task;
    private final long total;
    private final Listener listener;
    private final long start = System.nanoTime();
    private final long startDone;
    private long lastLog = start;
    private long done;

    /** A task of {@code total} steps of which {@code alreadyDone} were done before (a resumed run). */
    public Progress(String task, long total, long alreadyDone, Listener listener) {
        this.task = task;
        this.total = total;
        this.done = alreadyDone;
        this.startDone = alreadyDone;
        this.listener = listener == null ? Listener.NONE : listener;
        this.listener.update(task, done, total, 0, Duration.ZERO);
    }

    public void step() {
        done++;
        long now = System.nanoTime();
        double seconds = (now - start) / 1e9;
        double rate = seconds > 0 ? (done - startDone) / seconds : 0;
        Duration eta = rate > 0 ? Duration.ofMillis((long) ((total - done) / rate * 1000)) : Duration.ZERO;
        listener.update(task, done, total, rate, eta);
        if (now - lastLog >= LOG_EVERY_NANOS || done == total) {
            lastLog = now;
            LOG.info("{}: {}/{} ({} /s, ETA {} s)", task, done, total, String.format("%.2f", rate), eta.toSeconds());
        }
    }

    public long done() {
        return done;
    }
}
