package org.neuronscope.spark;

import org.neuronscope.experiments.Workbench;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The per-JVM model cache of the executors: one {@link Workbench} (model, projector, session) per
 * {@link JobSetup}, opened by the first task that needs it and reused by every later task and
 * partition in the same JVM. A session serves one decode at a time, so tasks of one executor take
 * turns on it (a lock): give each executor one task slot ({@code spark.task.cpus} = executor cores,
 * or one GPU per task) and use the decode's threads instead. Closed when the JVM exits.
 */
public final class Workbenches {
    private static final Logger LOG = LoggerFactory.getLogger(Workbenches.class);
    private static final Map<JobSetup, Entry> OPEN = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    static {
        // at exit, close what no task is using: a decode in flight is not waited for (the process ends anyway)
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeAll(false), "neuronscope-workbenches"));
    }

    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock();
        Workbench workbench;
    }

    private Workbenches() {
    }

    /** Runs {@code action} on this JVM's workbench of {@code setup}, opening it on first use; one action at a time per setup. */
    public static <T> T with(JobSetup setup, Function<Workbench, T> action) {
        Entry e = OPEN.computeIfAbsent(setup, k -> new Entry());
        e.lock.lock();
        try {
            if (e.workbench == null) {
                long t0 = System.nanoTime();
                e.workbench = Workbench.open(setup.toSetup());
                LOADS.incrementAndGet();
                LOG.info("loaded {} in this JVM ({} ms)", setup.model(), (System.nanoTime() - t0) / 1_000_000);
            }
            return action.apply(e.workbench);
        } finally {
            e.lock.unlock();
        }
    }

    /** How many models this JVM has loaded so far (a test reads it to see that tasks reuse the model). */
    public static int loads() {
        return LOADS.get();
    }

    /** Closes every cached workbench of this JVM, waiting for the tasks that use them. */
    public static void closeAll() {
        closeAll(true);
    }

    private static void closeAll(boolean wait) {
        for (Entry e : OPEN.values()) {
            if (wait) {
                e.lock.lock();
            } else if (!e.lock.tryLock()) {
                continue;
            }
            try {
                if (e.workbench != null) {
                    e.workbench.close();
                    e.workbench = null;
                }
            } catch (RuntimeException ex) {
                LOG.warn("closing a workbench: {}", ex.toString());
            } finally {
                e.lock.unlock();
            }
        }
        OPEN.clear();
    }
}
