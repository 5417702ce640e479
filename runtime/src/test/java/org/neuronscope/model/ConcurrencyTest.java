package org.neuronscope.model;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several threads on one session: a decode is held in flight deterministically by a tap listener
 * that waits on a latch, and everything another thread (or the listener itself) does meanwhile is
 * either refused with an exception or waits for the decode to end. Before these guards the same
 * sequences ended the JVM (SIGABRT in ggml's CPU ops, SIGSEGV in llama_decode after a close).
 */
class ConcurrencyTest {
    private Model model;
    private Session session;
    private HookScope scope;
    private final CountDownLatch inDecode = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    /** Runs inside the held decode, on the decoding thread, before it waits (null: nothing). */
    private final AtomicReference<Runnable> insideTap = new AtomicReference<>();
    private final AtomicReference<Throwable> insideTapFailure = new AtomicReference<>();

    @BeforeEach
    void open() {
        model = Model.load(SyntheticFixtures.tiny("llama"));
        session = model.newSession(SessionParams.defaults().withContextSize(128).withBatchSize(32).withThreads(2));
        scope = session.hooks().openScope();
        scope.tap(HookPoint.FFN_ACT, 0, (point, layer, data, width, tokens, index) -> {
            if (inDecode.getCount() == 0) {
                return; // only the first decode is held
            }
            Runnable r = insideTap.get();
            if (r != null) {
                try {
                    r.run();
                } catch (Throwable t) {
                    insideTapFailure.set(t);
                }
            }
            inDecode.countDown();
            if (!release.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the test never released the decode");
            }
        });
    }

    @AfterEach
    void close() {
        release.countDown();
        model.close();
    }

    private static Batch prompt(int n) {
        Batch b = Batch.ofTokens(32);
        for (int i = 0; i < n; i++) {
            b.add(1 + i, i, 0, i == n - 1);
        }
        return b;
    }

    /** Starts a decode on a new thread and returns once it is held inside the tap listener. */
    private Thread heldDecode(Batch batch, AtomicReference<Throwable> failure) throws InterruptedException {
        Thread t = new Thread(() -> {
            try {
                session.decode(batch);
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "decoder-under-test");
        t.start();
        assertTrue(inDecode.await(30, TimeUnit.SECONDS), "the decode reached the tap");
        return t;
    }

    /** Waits until {@code t} blocks (on the session's lock), proving it waits instead of returning. */
    private static void awaitBlocked(Thread t) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
            assertTrue(t.isAlive(), t.getName() + " ended instead of waiting");
            assertTrue(System.nanoTime() < until, t.getName() + " never blocked");
            Thread.sleep(1);
        }
    }

    @Test
    void aSecondConcurrentDecodeIsRefusedNamingTheSessionAndTheThread() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (Batch first = prompt(4); Batch second = prompt(3)) {
            Thread decoder = heldDecode(first, failure);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> session.decode(second));
            assertTrue(e.getMessage().contains("session #") && e.getMessage().contains(model.path().getFileName().toString()),
                    "names the session: " + e.getMessage());
            assertTrue(e.getMessage().contains("decoder-under-test") && e.getMessage().contains("decode"),
                    "names the thread holding it and what it does: " + e.getMessage());
            // every other exclusive use is refused too, and changing the hooks (reads wait instead)
            assertThrows(IllegalStateException.class, () -> session.clearMemory());
            assertThrows(IllegalStateException.class, () -> session.removeTokens(0, 0, -1));
            assertThrows(IllegalStateException.class, () -> session.hooks().setPortableReductions(true));
            // the batch llama.cpp reads cannot change or be freed under it, from any thread
            assertThrows(IllegalStateException.class, () -> first.add(7, 4, 0, true));
            assertThrows(IllegalStateException.class, first::clear);
            assertThrows(IllegalStateException.class, () -> first.setOutput(0, true));
            assertThrows(IllegalStateException.class, first::close);
            release.countDown();
            decoder.join();
            assertNull(failure.get(), "the held decode completed");
            assertEquals(model.vocabularySize(), session.logitsArray(3).length);
            session.decode(second.clear().add(9, 4, 0, true)); // the session serves the next thread afterwards
            first.add(7, 4, 0, true); // and the batch can change again
        }
    }

    @Test
    void closeFromAnotherThreadWaitsForTheDecodeInFlight() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (Batch batch = prompt(4)) {
            Thread decoder = heldDecode(batch, failure);
            Thread closer = new Thread(session::close, "closer");
            closer.start();
            awaitBlocked(closer);
            assertTrue(session.isOpen(), "not freed while llama_decode runs");
            release.countDown();
            decoder.join();
            closer.join();
            assertNull(failure.get(), "the decode finished normally");
            assertFalse(session.isOpen());
            assertFalse(scope.isOpen(), "the session's close closed its scopes");
            assertThrows(IllegalStateException.class, () -> session.decode(batch));
        }
    }

    @Test
    void modelCloseFromAnotherThreadWaitsForTheDecodeInFlight() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (Batch batch = prompt(4)) {
            Thread decoder = heldDecode(batch, failure);
            Thread closer = new Thread(model::close, "closer");
            closer.start();
            awaitBlocked(closer);
            assertTrue(model.isOpen() && session.isOpen());
            release.countDown();
            decoder.join();
            closer.join();
            assertNull(failure.get());
            assertFalse(model.isOpen());
            assertFalse(session.isOpen());
        }
    }

    @Test
    void aHookScopeClosedFromAnotherThreadWaitsBeforeFreeingWhatTheGraphReads() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        HookScope counting = session.hooks().openScope();
        counting.tokenWeights(1).setGroups(new int[32]);
        Accumulator sums = counting.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
        try (Batch batch = prompt(4)) {
            Thread decoder = heldDecode(batch, failure);
            Thread closer = new Thread(counting::close, "scope-closer");
            closer.start();
            awaitBlocked(closer);
            assertTrue(counting.isOpen(), "its token weights and accumulators are still in the graph");
            release.countDown();
            decoder.join();
            closer.join();
            assertNull(failure.get());
            assertFalse(counting.isOpen());
            assertThrows(IllegalStateException.class, () -> sums.get(0, 0, 0), "the accumulator died with its scope");
            session.decode(batch.clear().add(3, 4, 0, true));
        }
    }

    @Test
    void aTapListenerCannotCloseOrReconfigureTheDecodeItRunsIn() throws Exception {
        HookScope other = session.hooks().openScope();
        other.tokenWeights(1).setGroups(new int[32]);
        Accumulator sums = other.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
        AtomicReference<Throwable> closeScope = new AtomicReference<>();
        AtomicReference<Throwable> closeSession = new AtomicReference<>();
        AtomicReference<Throwable> decodeAgain = new AtomicReference<>();
        try (Batch batch = prompt(4); Batch nested = prompt(2)) {
            insideTap.set(() -> {
                closeScope.set(assertThrows(IllegalStateException.class, other::close));
                closeSession.set(assertThrows(IllegalStateException.class, session::close));
                decodeAgain.set(assertThrows(IllegalStateException.class, () -> session.decode(nested)));
                assertThrows(IllegalStateException.class, batch::close);
            });
            release.countDown(); // do not hold: the listener runs on this thread
            session.decode(batch);
            assertNull(insideTapFailure.get(), () -> "inside the listener: " + insideTapFailure.get());
            assertTrue(closeScope.get().getMessage().contains("tap listener"), closeScope.get().getMessage());
            assertTrue(decodeAgain.get().getMessage().contains("tap listener"), decodeAgain.get().getMessage());
            assertInstanceOf(IllegalStateException.class, closeSession.get());
            assertTrue(other.isOpen() && session.isOpen(), "nothing was freed under the decode");
            assertTrue(sums.isLive(), "the reduction is still attached");
            other.close();
            session.clearMemory();
            session.decode(nested);
        }
    }
}
