package org.neuronscope.collect;

import org.neuronscope.hooks.HookScope;

import org.neuronscope.stats.NeuronStatistics;

import org.neuronscope.stats.Statistic;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A collection stopped after a checkpoint and resumed (new model, session and hooks) equals an uninterrupted one, bit for bit. */
class StatisticsCollectorTest {
    static final int SAMPLES = 6;
    static final List<String> GROUPS = List.of("even", "odd");
    static final EnumSet<Statistic> STATS = EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.SUM_SQ, Statistic.MAX, Statistic.MIN);

    private static void run(StatisticsCollector c, int from, int to) {
        for (int s = from; s < to; s++) {
            int n = 10 + 3 * s;
            int[] groups = new int[n];
            try (Batch b = Batch.ofTokens(n)) {
                for (int i = 0; i < n; i++) {
                    b.add(300 + 17 * s + 11 * i, i, 0, i == n - 1);
                    groups[i] = i == 0 ? -1 : i % 2;
                }
                c.add(b, groups);
            }
        }
    }

    private static SessionParams params() {
        return SessionParams.defaults().withContextSize(128).withBatchSize(64).withThreads(2);
    }

    @Test
    void resumedCollectionEqualsUninterrupted(@TempDir Path tmp) throws Exception {
        Path modelFile = SyntheticFixtures.tiny("llama");
        double[][] whole = new double[STATS.size()][];
        long[] wholeTokens = new long[2];
        try (Model m = Model.load(modelFile); Session s = m.newSession(params()); HookScope h = s.hooks().openScope();
             StatisticsCollector c = StatisticsCollector.start(s, HookPoint.FFN_ACT, GROUPS, STATS, 0f, 0.1f)) {
            run(c, 0, SAMPLES);
            int k = 0;
            for (Statistic st : STATS) {
                whole[k++] = c.statistics().segment(st).toArray(ValueLayout.JAVA_DOUBLE);
            }
            wholeTokens[0] = c.statistics().tokens(0);
            wholeTokens[1] = c.statistics().tokens(1);
            c.statistics().close();
        }
        Path checkpoint = tmp.resolve("ckpt");
        try (Model m = Model.load(modelFile); Session s = m.newSession(params()); HookScope h = s.hooks().openScope();
             StatisticsCollector c = StatisticsCollector.start(s, HookPoint.FFN_ACT, GROUPS, STATS, 0f, 0.1f)) {
            run(c, 0, SAMPLES / 2);
            c.checkpoint(checkpoint);
            c.statistics().close();
        } // everything closed: as if the process had been killed after the checkpoint
        assertTrue(NeuronStatistics.isSavedIn(checkpoint));
        try (Model m = Model.load(modelFile); Session s = m.newSession(params()); HookScope h = s.hooks().openScope();
             StatisticsCollector c = StatisticsCollector.resume(s, checkpoint)) {
            assertEquals(SAMPLES / 2, c.samplesDone());
            run(c, (int) c.samplesDone(), SAMPLES);
            int k = 0;
            for (Statistic st : STATS) {
                assertArrayEquals(whole[k++], c.statistics().segment(st).toArray(ValueLayout.JAVA_DOUBLE), st + " after resume");
            }
            assertEquals(wholeTokens[0], c.statistics().tokens(0));
            assertEquals(wholeTokens[1], c.statistics().tokens(1));
            assertTrue(c.statistics().get(Statistic.MAX, 0, 1, 0) >= c.statistics().get(Statistic.MIN, 0, 1, 0));
            c.statistics().close();
        }
    }
}
