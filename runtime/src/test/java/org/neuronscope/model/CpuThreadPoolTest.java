package org.neuronscope.model;

import org.neuronscope.testkit.SyntheticFixtures;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sessions attach a ggml CPU thread pool by default (issue 19). The pool changes who runs the work,
 * not how it is split: ggml partitions every op by thread index, so with the same thread count the
 * results are bit-identical to a session without a pool, for prompt batches and one-token steps
 * alike. Closing sessions returns the pools' threads.
 */
class CpuThreadPoolTest {

    /** Logits of a 24-token prompt (every position) and of 16 greedy one-token steps after it. */
    private static List<float[]> run(Model model, boolean pool) {
        SessionParams p = SessionParams.defaults().withContextSize(128).withBatchSize(32).withThreads(2).withCpuThreadPool(pool);
        List<float[]> out = new ArrayList<>();
        try (Session s = model.newSession(p); Batch batch = Batch.ofTokens(32)) {
            SplittableRandom rng = new SplittableRandom(3);
            for (int i = 0; i < 24; i++) {
                batch.add(rng.nextInt(model.vocabularySize()), i, 0, true);
            }
            s.decode(batch);
            for (int i = 0; i < 24; i++) {
                out.add(s.logitsArray(i));
            }
            for (int step = 0; step < 16; step++) {
                float[] last = out.getLast();
                int next = 0;
                for (int t = 1; t < last.length; t++) {
                    next = last[t] > last[next] ? t : next;
                }
                batch.clear();
                batch.add(next, 24 + step, 0, true);
                s.decode(batch);
                out.add(s.logitsArray(0));
            }
        }
        return out;
    }

    @Test
    void aPoolGivesBitIdenticalLogitsForPromptsAndSteps() {
        for (String arch : List.of("llama", "qwen2")) {
            try (Model model = Model.load(SyntheticFixtures.tiny(arch))) {
                List<float[]> with = run(model, true);
                List<float[]> without = run(model, false);
                assertEquals(without.size(), with.size());
                for (int i = 0; i < with.size(); i++) {
                    assertArrayEquals(without.get(i), with.get(i), arch + ": logits of output " + i + " differ with a thread pool");
                }
            }
        }
    }

    @Test
    void closedSessionsReturnTheirPoolsThreads() throws IOException {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"))) {
            SessionParams p = SessionParams.defaults().withContextSize(64).withBatchSize(16).withThreads(4);
            run(model, true); // the first session may start threads that stay (ggml's and the JVM's)
            long before = threads();
            for (int i = 0; i < 30; i++) {
                try (Session s = model.newSession(p); Batch b = Batch.ofTokens(4)) {
                    b.add(1, 0, 0, true);
                    s.decode(b);
                }
            }
            long after = threads();
            // a leaked pool of 4 threads per session would add ~90 threads (3 workers each)
            assertTrue(after - before < 10, "threads before " + before + ", after 30 sessions " + after);
        }
    }

    @Test
    void moreThreadsThanGgmlAllowsAreRefusedInJava() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SessionParams.defaults().withThreads(513));
        assertTrue(e.getMessage().contains("at most 512"), e.getMessage());
    }

    private static long threads() throws IOException {
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.count();
        }
    }
}
