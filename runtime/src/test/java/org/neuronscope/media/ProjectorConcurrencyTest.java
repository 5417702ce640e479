package org.neuronscope.media;

import org.junit.jupiter.api.Test;
import org.neuronscope.model.Model;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A projector's mtmd context serves one thread at a time. A use is held in flight by a latch inside
 * the projector's exclusive use (the one every encode and every prompt tokenization runs in): a
 * second thread's tokenization is refused, naming the projector and the holding thread, and a close
 * waits for the use to end instead of freeing the context under it.
 */
class ProjectorConcurrencyTest {
    @Test
    void aSecondThreadIsRefusedAndCloseWaits() throws Exception {
        try (Model model = Model.load(MultimodalFixtures.visionModel())) {
            Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
            MultimodalPrompts prompts = new MultimodalPrompts(projector, PromptFormat.chat());
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = new Thread(() -> projector.exclusive("encode a media chunk", ctx -> {
                inside.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }), "encoder-under-test");
            holder.start();
            assertTrue(inside.await(30, TimeUnit.SECONDS));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> prompts.prepare(Projector.marker() + " what is this?", List.of(Media.image(MultimodalFixtures.testImage())), false));
            assertTrue(e.getMessage().contains("mmproj") || e.getMessage().contains("projector"), e.getMessage());
            assertTrue(e.getMessage().contains("encoder-under-test"), "names the holding thread: " + e.getMessage());

            Thread closer = new Thread(projector::close, "closer");
            closer.start();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (closer.getState() != Thread.State.WAITING && closer.getState() != Thread.State.TIMED_WAITING) {
                assertTrue(closer.isAlive() && System.nanoTime() < until, "the close waits");
                Thread.sleep(1);
            }
            assertTrue(projector.isOpen(), "not freed while in use");
            release.countDown();
            holder.join();
            closer.join();
            assertFalse(projector.isOpen());
            assertThrows(IllegalStateException.class,
                    () -> prompts.prepare(Projector.marker(), List.of(Media.image(MultimodalFixtures.testImage())), false));
        }
    }
}
