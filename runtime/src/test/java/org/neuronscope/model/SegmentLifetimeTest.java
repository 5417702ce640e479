package org.neuronscope.model;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.LayerMask;
import org.neuronscope.hooks.TokenWeights;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every memory segment the library hands out dies with what it views: reading it later is an
 * {@link IllegalStateException}, never a read of freed native memory. (Before, a logits segment
 * kept past {@code Session.close()} and a tap segment kept past its callback read freed memory.)
 */
class SegmentLifetimeTest {
    private static SessionParams small(boolean embeddings) {
        return SessionParams.defaults().withContextSize(64).withBatchSize(16).withThreads(2).withEmbeddings(embeddings);
    }

    private static void assertDead(MemorySegment s, String what) {
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0), what + " is dead");
    }

    @Test
    void logitsDieWithTheNextDecodeAndWithTheSession() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Session session = model.newSession(small(false));
             Batch batch = Batch.ofTokens(16)) {
            session.decode(batch.add(3, 0, 0, true));
            MemorySegment first = session.logits(0);
            float v = first.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
            assertEquals(v, session.logitsArray(0)[0]);
            session.decode(batch.clear().add(4, 1, 0, true));
            assertDead(first, "the logits of the previous decode");
            MemorySegment second = session.logits(0);
            session.clearMemory();
            assertDead(second, "the logits after clearing the KV cache");
            session.decode(batch.clear().add(4, 0, 0, true));
            MemorySegment third = session.logits(0);
            session.close();
            assertDead(third, "the logits after the session's close");
        }
    }

    @Test
    void embeddingsDieWithTheSession() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Batch batch = Batch.ofTokens(16)) {
            Session session = model.newSession(small(true));
            session.decode(batch.add(3, 0, 0, true));
            MemorySegment e = session.embedding(0);
            assertEquals((long) model.embeddingSize() * Float.BYTES, e.byteSize());
            e.get(ValueLayout.JAVA_FLOAT, 0);
            model.close(); // closes the session too
            assertDead(e, "the embedding after the model's close");
        }
    }

    @Test
    void aTapSegmentIsValidOnlyDuringItsCallback() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Session session = model.newSession(small(false));
             Batch batch = Batch.ofTokens(16);
             HookScope scope = session.hooks().openScope()) {
            AtomicReference<MemorySegment> kept = new AtomicReference<>();
            float[] firstValue = new float[1];
            scope.tap(HookPoint.FFN_ACT, 0, (point, layer, data, width, tokens, index) -> {
                firstValue[0] = data.getAtIndex(ValueLayout.JAVA_FLOAT, 0); // fine inside
                kept.set(data);
            });
            session.decode(batch.add(3, 0, 0, true).add(5, 1, 0, true));
            assertDead(kept.get(), "a tap segment kept past its callback");
        }
    }

    @Test
    void hookMemoryDiesWithItsScope() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Session session = model.newSession(small(false))) {
            HookScope scope = session.hooks().openScope();
            TokenWeights w = scope.tokenWeights(2);
            Accumulator acc = scope.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
            LayerMask mask = scope.mask(HookPoint.FFN_ACT, 0);
            MemorySegment ws = w.segment();
            MemorySegment as = acc.segment();
            MemorySegment ms = mask.scaleSegment();
            MemorySegment sh = mask.shiftSegment();
            scope.close();
            assertDead(ws, "token weights");
            assertDead(as, "an accumulator");
            assertDead(ms, "a mask's scales");
            assertDead(sh, "a mask's shifts");
            assertThrows(IllegalStateException.class, () -> acc.get(0, 0, 0));
        }
    }

    @Test
    void statisticsAndGgufViewsDieWithTheirOwner() {
        NeuronStatistics stats = new NeuronStatistics(HookPoint.FFN_ACT, 2, 4, List.of("a"), EnumSet.of(Statistic.SUM), 0f, 0f);
        MemorySegment sums = stats.segment(Statistic.SUM);
        MemorySegment tokens = stats.tokenCounts();
        stats.close();
        assertDead(sums, "a statistics array");
        assertDead(tokens, "the token counts");

        GgufFile gguf = GgufFile.open(SyntheticFixtures.tiny("llama"));
        MemorySegment data = gguf.tensorData(gguf.tensors().keySet().iterator().next());
        gguf.close();
        assertDead(data, "tensor data of a closed GGUF file");
    }
}
