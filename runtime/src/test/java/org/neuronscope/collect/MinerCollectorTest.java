package org.neuronscope.collect;

import org.neuronscope.hooks.HookScope;

import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;

import org.junit.jupiter.api.Test;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.TokenWeights;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.ValueLayout;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MINER's per-sample inputs computed in Java from taps, against the in-graph reductions of the same
 * prompt: activation counts and sums with one-hot groups, and the attention-weighted sums with the
 * attention weights (from an attn.probs tap) given to the graph as token weights.
 */
class MinerCollectorTest {
    @Test
    void perSampleMetricsAgreeWithInGraphReductions() {
        int n = 30;
        int[] modality = new int[n];
        for (int i = 0; i < n; i++) {
            modality[i] = i < 10 ? 0 : i < 25 ? 1 : -1; // text, image, then special tokens
        }
        SessionParams params = SessionParams.defaults().withContextSize(128).withBatchSize(64).withThreads(2)
                .withFlashAttention(SessionParams.FlashAttention.OFF);
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2vl")); Session session = model.newSession(params);
             HookScope hooks = session.hooks().openScope(); Batch batch = Batch.ofTokens(n)) {
            for (int i = 0; i < n; i++) {
                batch.add(500 + 37 * i, i, 0, i == n - 1);
            }
            MinerCollector collector = new MinerCollector(List.of("text", "image"), true);
            Miner.SampleStatistics sample = collector.collect(session, batch, modality);
            int layers = model.layerCount();
            int width = hooks.hooks().width(HookPoint.FFN_ACT, 0);

            // 1. counts and sums: one-hot groups in the graph
            TokenWeights w = hooks.tokenWeights(2);
            w.setGroups(modality);
            Accumulator count = hooks.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);
            Accumulator sum = hooks.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
            session.clearMemory();
            session.decode(batch);
            for (int l = 0; l < layers; l++) {
                for (int m = 0; m < 2; m++) {
                    for (int k = 0; k < width; k++) {
                        assertEquals(count.get(l, m, k), sample.activations().get(Statistic.COUNT, l, m, k), "count " + l + "/" + m + "/" + k);
                        assertEquals(sum.get(l, m, k), sample.activations().get(Statistic.SUM, l, m, k), 1e-4, "sum " + l + "/" + m + "/" + k);
                    }
                }
            }
            assertEquals(10, sample.activations().tokens(0));
            assertEquals(15, sample.activations().tokens(1));

            // 2. attention: w_k from an attn.probs tap, then Σ_j w_k[j]·a[j] in the graph, per layer
            hooks.close();
            float[][][] probs = new float[layers][n][];
            try (HookScope attention = session.hooks().openScope()) {
                attention.tap(HookPoint.ATTN_PROBS, -1, (p, layer, data, width2, rows, idx) -> {
                    for (int r = 0; r < rows; r++) {
                        probs[layer][idx[r]] = data.asSlice((long) r * width2 * 4, (long) width2 * 4).toArray(ValueLayout.JAVA_FLOAT);
                    }
                });
                session.clearMemory();
                session.decode(batch);
            }
            for (int l = 0; l < layers; l++) {
                try (HookScope weightedSums = session.hooks().openScope()) {
                    TokenWeights tw = weightedSums.tokenWeights(2);
                    for (int j = 0; j < n; j++) {
                        if (modality[j] < 0) {
                            continue;
                        }
                        double wk = 0;
                        for (int i = 0; i < n; i++) {
                            if (modality[i] == modality[j]) {
                                wk += probs[l][i][j];
                            }
                        }
                        tw.set(j, modality[j], (float) wk);
                    }
                    Accumulator weighted = weightedSums.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
                    session.clearMemory();
                    session.decode(batch);
                    for (int m = 0; m < 2; m++) {
                        for (int k = 0; k < width; k++) {
                            assertEquals(weighted.get(l, m, k), sample.attnK().get(Statistic.WEIGHTED_SUM, l, m, k), 1e-4,
                                    "attn_k layer " + l + " modality " + m + " neuron " + k);
                        }
                    }
                }
            }

            // 3. the default MINER weights (attention included) now select
            Miner.Aggregator agg = new Miner.Aggregator(layers, width, List.of("text", "image"));
            agg.add("synthetic", sample);
            NeuronSet set = Miner.select(agg, HookPoint.FFN_ACT, Miner.Params.DEFAULTS);
            int k = (int) Math.round(0.02 * layers * width);
            assertEquals(Math.round(k / 2.0), set.size("image"));
            assertTrue(set.size("text") > 0);
        }
    }

    /**
     * The prompt path (several decodes, micro-batches of 8) against the single-batch path on the same
     * text prompt: every MINER input agrees; then an image prompt yields image inputs.
     */
    @Test
    void promptsOverManyDecodesAgreeWithOneBatch() {
        SessionParams one = SessionParams.defaults().withContextSize(256).withBatchSize(128).withUbatchSize(128).withThreads(2)
                .withFlashAttention(SessionParams.FlashAttention.OFF);
        SessionParams many = one.withBatchSize(16).withUbatchSize(8);
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2vl"))) {
            org.neuronscope.media.TextPrompts texts = new org.neuronscope.media.TextPrompts(model, org.neuronscope.media.PromptFormat.chat());
            org.neuronscope.eval.Sample sample = new org.neuronscope.eval.Sample("s", "Name three rivers of Europe and one of Asia, please.",
                    "You are terse.", List.of(), List.of(), List.of(), List.of(), List.of(), -1, java.util.Map.of());
            try (org.neuronscope.media.Prompt prompt = texts.prepare(sample)) {
                int n = prompt.length();
                int[] modality = new int[n];
                for (int i = 0; i < n; i++) {
                    modality[i] = prompt.modality(i) == org.neuronscope.media.Modality.TEXT ? 0 : 1;
                }
                Miner.SampleStatistics reference;
                try (Session session = model.newSession(one); HookScope hooks = session.hooks().openScope(); Batch batch = Batch.ofTokens(n)) {
                    int[] tokens = model.tokenizer().tokenize(org.neuronscope.media.PromptFormat.chat().format(model.tokenizer(), sample, null), false, true);
                    assertEquals(n, tokens.length);
                    for (int i = 0; i < n; i++) {
                        batch.add(tokens[i], i, 0, i == n - 1);
                    }
                    reference = new MinerCollector(List.of("text", "special"), true).collect(session, batch, modality);
                }
                Miner.SampleStatistics split;
                try (Session session = model.newSession(many); HookScope hooks = session.hooks().openScope()) {
                    split = new MinerCollector(List.of("text", "special"), true).collect(session, prompt, modality);
                }
                for (int l = 0; l < model.layerCount(); l++) {
                    for (int m = 0; m < 2; m++) {
                        assertEquals(reference.activations().tokens(m), split.activations().tokens(m));
                        for (int k = 0; k < reference.activations().neurons(); k++) {
                            String at = l + "/" + m + "/" + k;
                            assertEquals(reference.activations().get(Statistic.COUNT, l, m, k), split.activations().get(Statistic.COUNT, l, m, k), 1.0, "count " + at);
                            assertEquals(reference.activations().get(Statistic.SUM, l, m, k), split.activations().get(Statistic.SUM, l, m, k), 1e-3, "sum " + at);
                            assertEquals(reference.activations().get(Statistic.MAX, l, m, k), split.activations().get(Statistic.MAX, l, m, k), 1e-4, "max " + at);
                            assertEquals(reference.attnK().get(Statistic.WEIGHTED_SUM, l, m, k), split.attnK().get(Statistic.WEIGHTED_SUM, l, m, k), 1e-3, "attn_k " + at);
                            assertEquals(reference.attnQ().get(Statistic.WEIGHTED_SUM, l, m, k), split.attnQ().get(Statistic.WEIGHTED_SUM, l, m, k), 1e-3, "attn_q " + at);
                        }
                    }
                }
            }
        }
    }

    /** A union group (special_text) measures exactly what one group holding all its tokens measures. */
    @Test
    void unionGroupsEqualRelabelledGroups() {
        SessionParams params = SessionParams.defaults().withContextSize(256).withBatchSize(32).withUbatchSize(16).withThreads(2)
                .withFlashAttention(SessionParams.FlashAttention.OFF);
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2vl")); Session session = model.newSession(params);
             HookScope hooks = session.hooks().openScope()) {
            org.neuronscope.media.TextPrompts texts = new org.neuronscope.media.TextPrompts(model, org.neuronscope.media.PromptFormat.chat());
            org.neuronscope.eval.Sample sample = org.neuronscope.eval.Sample.text("u", "Why is the sky blue at noon but red at dusk?", List.of());
            try (org.neuronscope.media.Prompt prompt = texts.prepare(sample)) {
                int n = prompt.length();
                int[] modality = new int[n];
                int[] one = new int[n];
                for (int i = 0; i < n; i++) {
                    modality[i] = prompt.modality(i) == org.neuronscope.media.Modality.TEXT ? 0 : 1;
                }
                MinerCollector withUnion = new MinerCollector(List.of("text", "special"), true,
                        java.util.Map.of("special_text", List.of("text", "special")));
                assertEquals(List.of("text", "special", "special_text"), withUnion.groups());
                Miner.SampleStatistics a = withUnion.collect(session, prompt, modality);
                Miner.SampleStatistics b = new MinerCollector(List.of("special_text"), true).collect(session, prompt, one);
                assertEquals(n, a.activations().tokens(2));
                assertEquals(a.activations().tokens(0) + a.activations().tokens(1), a.activations().tokens(2));
                for (int l = 0; l < model.layerCount(); l++) {
                    for (int k = 0; k < a.activations().neurons(); k++) {
                        for (Statistic st : List.of(Statistic.COUNT, Statistic.SUM, Statistic.MAX)) {
                            assertEquals(b.activations().get(st, l, 0, k), a.activations().get(st, l, 2, k), 1e-9, st + " " + l + "/" + k);
                        }
                        assertEquals(b.attnK().get(Statistic.WEIGHTED_SUM, l, 0, k), a.attnK().get(Statistic.WEIGHTED_SUM, l, 2, k), 1e-9);
                        assertEquals(b.attnQ().get(Statistic.WEIGHTED_SUM, l, 0, k), a.attnQ().get(Statistic.WEIGHTED_SUM, l, 2, k), 1e-9);
                    }
                }
            }
        }
    }
}
