package org.neuronscope.model;

import org.junit.jupiter.api.Test;
import org.neuronscope.testkit.SyntheticFixtures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A context whose KV cache cannot fit the machine is refused before llama.cpp allocates it (before: 7 GB after 140 s for --ctx 2000000000). */
class ContextMemoryTest {
    @Test
    void aHugeContextIsRefusedUpFrontAndASmallOneOpens() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"))) {
            long perCell = Session.kvCacheBytes(model, 1);
            long headSize = model.embeddingSize() / model.headCount();
            assertEquals(2L * model.layerCount() * model.kvHeadCount() * headSize * 2, perCell, "K and V, F16, every layer");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.newSession(SessionParams.defaults().withContextSize(2_000_000_000).withThreads(2)));
            assertTrue(e.getMessage().contains("2000000000") && e.getMessage().contains("MiB"), e.getMessage());
            try (Session s = model.newSession(SessionParams.defaults().withContextSize(256).withBatchSize(16).withThreads(2))) {
                assertEquals(256, s.contextSize());
            }
        }
    }
}
