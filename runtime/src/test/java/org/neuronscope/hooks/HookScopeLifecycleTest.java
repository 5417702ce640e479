package org.neuronscope.hooks;

import org.neuronscope.HookPoint;
import org.neuronscope.collect.StatisticsCollector;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticFixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Configuring and reconfiguring hooks does not grow memory: 10,000 scopes (token weights, two
 * reductions, a mask, a tap) and 2,000 collectors opened and closed on one session. The FFN is
 * 4096 wide, so one cycle allocates about 600 KB: a leak of even a tenth of that per cycle would
 * add 300 MB, against the 48 MB of slack allowed for the JVM's own growth.
 */
class HookScopeLifecycleTest {
    private static final long SLACK_BYTES = 48L << 20;

    @Test
    void tenThousandConfigureCyclesKeepNativeMemoryFlat() throws IOException {
        Path file = SyntheticFixtures.model("wide-ffn-llama",
                ModelSpec.tiny("llama", SyntheticFixtures.vocabFor("llama")).toBuilder().feedForward(4096).build());
        try (Model model = Model.load(file);
             Session session = model.newSession(SessionParams.defaults().withContextSize(64).withBatchSize(16).withThreads(2))) {
            Hooks hooks = session.hooks();
            long perCycle = cycle(session, hooks, 0);
            long before = 0;
            for (int i = 1; i <= 10_000; i++) {
                cycle(session, hooks, i);
                if (i == 1_000) {
                    System.gc();
                    before = residentBytes();
                }
            }
            System.gc();
            long growth = residentBytes() - before;
            assertTrue(hooks.openScopes().isEmpty(), "every scope was closed");
            assertTrue(growth < SLACK_BYTES, "resident memory grew by " + (growth >> 20) + " MB over 9,000 cycles of "
                    + (perCycle >> 10) + " KB each");

            for (int i = 0; i < 2_000; i++) {
                try (StatisticsCollector c = StatisticsCollector.start(session, HookPoint.FFN_ACT, List.of("a", "b"),
                        EnumSet.of(Statistic.SUM, Statistic.COUNT), 0f, 0f)) {
                    if (i == 500) {
                        System.gc();
                        before = residentBytes();
                    }
                }
            }
            System.gc();
            growth = residentBytes() - before;
            assertTrue(hooks.openScopes().isEmpty(), "every collector closed its scope");
            assertTrue(growth < SLACK_BYTES, "resident memory grew by " + (growth >> 20) + " MB over 1,500 collectors");
        }
    }

    /** One configuration, used for a decode every 500th time; returns the bytes its buffers take. */
    private static long cycle(Session session, Hooks hooks, int i) {
        int width = hooks.uniformWidth(HookPoint.FFN_ACT);
        try (HookScope scope = hooks.openScope()) {
            scope.tokenWeights(3);
            Accumulator sum = scope.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
            scope.reduce(HookPoint.FFN_POST, Statistic.COUNT, 0.1f);
            scope.mask(HookPoint.FFN_ACT, i % hooks.layers()).deactivate(i % width);
            scope.tap(HookPoint.RESID_POST, 0, (point, layer, data, w, n, batchIndex) -> { });
            if (i % 500 == 0) {
                session.clearMemory();
                try (Batch b = Batch.ofTokens(4)) {
                    for (int t = 0; t < 4; t++) {
                        b.add(10 + t, t, 0, t == 3);
                    }
                    session.decode(b);
                }
                assertTrue(sum.segment().byteSize() > 0);
            }
            return (long) hooks.layers() * width * 3 * Double.BYTES * 2 + (long) hooks.layers() * width * 2 * Float.BYTES;
        }
    }

    @Test
    void aClosedScopeRefusesUseAndFreesItsBuffers() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Session session = model.newSession(SessionParams.defaults().withContextSize(64).withBatchSize(16).withThreads(2))) {
            HookScope scope = session.hooks().openScope();
            scope.tokenWeights(1);
            Accumulator acc = scope.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
            scope.close();
            scope.close(); // idempotent
            assertThrows(IllegalStateException.class, () -> scope.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f));
            assertThrows(IllegalStateException.class, acc::toArray, "the accumulator's memory went with its scope");
            assertEquals(List.of(), session.hooks().openScopes());
        }
    }

    private static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
