package org.neuronscope.collect;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.internal.NativeHandle;
import org.neuronscope.methods.Miner;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MINER's reference attention (docs/METHODS.md §2, "Deviations and gaps"): the unmasked attn.probs
 * tap against llama.cpp's own attention, and the collector's reference attn_k/attn_q against a
 * transcription of the reference code's loops ({@code utils/func.py:96-108}) over the taps.
 */
class MinerReferenceAttentionTest {
    private static final SessionParams TWO = SessionParams.defaults().withContextSize(128).withBatchSize(64).withUbatchSize(64)
            .withThreads(2).withFlashAttention(SessionParams.FlashAttention.OFF).withMaxSequences(2);

    private static Batch prompt(int n, int seq) {
        Batch b = Batch.ofTokens(n);
        for (int i = 0; i < n; i++) {
            b.add(300 + 41 * i, i, seq, i == n - 1);
        }
        return b;
    }

    /** A[layer][i*n + j]: the unmasked tap of sequence 1's queries after sequence 0 filled cells 0..n-1. */
    static float[][] unmasked(Session session, int n) {
        int layers = session.hooks().layers();
        float[][] a = new float[layers][n * n];
        try (Batch first = prompt(n, 0); Batch second = prompt(n, 1)) {
            session.clearMemory();
            session.decode(first);
            session.hooks().setAttentionUnmasked(n);
            try (HookScope scope = session.hooks().openScope()) {
                scope.tap(HookPoint.ATTN_PROBS, -1, (p, layer, data, w, rows, idx) -> {
                    assertEquals(n, w);
                    for (int r = 0; r < rows; r++) {
                        java.lang.foreign.MemorySegment.copy(data, ValueLayout.JAVA_FLOAT, (long) r * w * 4, a[layer], idx[r] * n, n);
                    }
                });
                session.decode(second);
            } finally {
                session.hooks().setAttentionUnmasked(0);
            }
        }
        return a;
    }

    /** The model's own attn.probs of one decode of the prompt into sequence 0 (first n cells of each row), causal or not. */
    static float[][] ownProbabilities(Session session, int n, boolean causal) {
        int layers = session.hooks().layers();
        float[][] a = new float[layers][n * n];
        session.clearMemory();
        if (!causal) {
            NativeHandle.of(session).exclusive("causal off", c -> { neuronscope_h.llama_set_causal_attn(c, false); return null; });
        }
        try (Batch b = prompt(n, 0); HookScope scope = session.hooks().openScope()) {
            scope.tap(HookPoint.ATTN_PROBS, -1, (p, layer, data, w, rows, idx) -> {
                for (int r = 0; r < rows; r++) {
                    java.lang.foreign.MemorySegment.copy(data, ValueLayout.JAVA_FLOAT, (long) r * w * 4, a[layer], idx[r] * n, n);
                }
            });
            session.decode(b);
        } finally {
            if (!causal) {
                NativeHandle.of(session).exclusive("causal on", c -> { neuronscope_h.llama_set_causal_attn(c, true); return null; });
            }
        }
        return a;
    }

    /**
     * On every synthetic architecture (none has a sliding-window layer, which is refused): (1) layer 0, whose input does not depend
     * on attention, equals llama.cpp's own non-causal attention (every row, future cells included); (2)
     * in every layer the last query's row equals the causal probabilities (it sees the whole prompt
     * anyway); (3) rows sum to 1 and put weight on future positions, which causal attention never does.
     */
    @Test
    void unmaskedTapIsTheNonCausalAttention() {
        int n = 24;
        for (String arch : SyntheticFixtures.ARCHITECTURES) { // the synthetic gemma3 has no sliding-window layer
            try (Model model = Model.load(SyntheticFixtures.tiny(arch)); Session session = model.newSession(TWO)) {
                float[][] u = unmasked(session, n);
                float[][] causal = ownProbabilities(session, n, true);
                float[][] open = ownProbabilities(session, n, false);
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        assertEquals(open[0][i * n + j], u[0][i * n + j], 2e-6, arch + " layer 0, query " + i + " key " + j);
                    }
                }
                for (int l = 0; l < u.length; l++) {
                    double future = 0;
                    for (int i = 0; i < n; i++) {
                        double sum = 0;
                        for (int j = 0; j < n; j++) {
                            sum += u[l][i * n + j];
                            if (j > i) {
                                future += u[l][i * n + j];
                                assertEquals(0f, causal[l][i * n + j], arch + ": causal attention has no future");
                            }
                        }
                        assertEquals(1.0, sum, 1e-5, arch + " layer " + l + " row " + i);
                    }
                    assertTrue(future > 0.5, arch + " layer " + l + ": attention to later positions " + future);
                    for (int j = 0; j < n; j++) {
                        assertEquals(causal[l][(n - 1) * n + j], u[l][(n - 1) * n + j], 2e-6, arch + " layer " + l + ": the last query, key " + j);
                    }
                }
            }
        }
    }

    /**
     * With one head the head mean is the head itself, so in every layer and row the causal probabilities
     * are the unmasked ones renormalised over the past: causal[i,j] = u[i,j] / Σ_{j'≤i} u[i,j'].
     */
    @Test
    void oneHeadCausalIsTheUnmaskedRenormalised() {
        int n = 20;
        Path file = SyntheticFixtures.model("llama-one-head", ModelSpec.tiny("llama", SyntheticFixtures.vocabFor("llama")).withWidths(64, 128, 1, 1));
        try (Model model = Model.load(file); Session session = model.newSession(TWO)) {
            float[][] u = unmasked(session, n);
            float[][] causal = ownProbabilities(session, n, true);
            for (int l = 0; l < u.length; l++) {
                for (int i = 0; i < n; i++) {
                    double past = 0;
                    for (int j = 0; j <= i; j++) {
                        past += u[l][i * n + j];
                    }
                    for (int j = 0; j <= i; j++) {
                        assertEquals(causal[l][i * n + j], u[l][i * n + j] / past, 2e-6, "layer " + l + " query " + i + " key " + j);
                    }
                }
            }
        }
    }

    /** A transcription of save_ISM_with_token_mask_in_one_layer's attention part (utils/func.py:96-108), torch op by op. */
    static double[][] referenceAttnMetrics(float[] attnScore, int n, float[][] output, boolean[] mask) {
        // attn_score = attn_score[mask, :][:, mask]; flat_tensor = tensor[mask]
        int[] t = java.util.stream.IntStream.range(0, n).filter(i -> mask[i]).toArray();
        int m = t.length;
        int width = output[0].length;
        double[][] a = new double[m][m];
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < m; c++) {
                a[r][c] = attnScore[t[r] * n + t[c]];
            }
        }
        // attn_k = F.softmax(attn_score, dim=0): over the rows of each column
        double[][] k = new double[m][m];
        for (int c = 0; c < m; c++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int r = 0; r < m; r++) {
                max = Math.max(max, a[r][c]);
            }
            double z = 0;
            for (int r = 0; r < m; r++) {
                z += Math.exp(a[r][c] - max);
            }
            for (int r = 0; r < m; r++) {
                k[r][c] = Math.exp(a[r][c] - max) / z;
            }
        }
        // attn_val_k = torch.sum(torch.matmul(attn_k.T, flat_tensor), dim=0)
        double[] valK = new double[width];
        for (int c = 0; c < m; c++) {          // row c of attn_k.T @ flat
            for (int x = 0; x < width; x++) {
                double s = 0;
                for (int r = 0; r < m; r++) {
                    s += k[r][c] * output[t[r]][x];
                }
                valK[x] += s;
            }
        }
        // attn_q = F.softmax(attn_score, dim=1): over the columns of each row
        double[][] q = new double[m][m];
        for (int r = 0; r < m; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < m; c++) {
                max = Math.max(max, a[r][c]);
            }
            double z = 0;
            for (int c = 0; c < m; c++) {
                z += Math.exp(a[r][c] - max);
            }
            for (int c = 0; c < m; c++) {
                q[r][c] = Math.exp(a[r][c] - max) / z;
            }
        }
        // attn_val_q = torch.sum(torch.matmul(attn_q, flat_tensor), dim=0)
        double[] valQ = new double[width];
        for (int r = 0; r < m; r++) {
            for (int x = 0; x < width; x++) {
                double s = 0;
                for (int c = 0; c < m; c++) {
                    s += q[r][c] * output[t[c]][x];
                }
                valQ[x] += s;
            }
        }
        return new double[][] {valK, valQ};
    }

    /** min_max_normalize (utils/func.py:64-70). */
    static double[] minMax(double[] v) {
        double lo = java.util.Arrays.stream(v).min().orElseThrow();
        double hi = java.util.Arrays.stream(v).max().orElseThrow();
        return java.util.Arrays.stream(v).map(x -> (x - lo) / (hi - lo)).toArray();
    }

    /**
     * The collector under the reference protocol against the transcription of the reference loops over
     * the taps (the unmasked attention above and a plain decode's ffn.act): the weighted sums per layer,
     * modality and neuron, and after min–max the metric stage 4 reads; a union group (special_text-like)
     * is measured over all its tokens.
     */
    @Test
    void collectorEqualsTheReferenceLoopsOverTheTaps() {
        int n = 30;
        int[] modality = new int[n];
        for (int i = 0; i < n; i++) {
            modality[i] = i < 10 ? 0 : i < 25 ? 1 : i < 28 ? 2 : -1; // text, image, special, then unmeasured tokens
        }
        List<String> names = List.of("text", "image", "special");
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2vl")); Session session = model.newSession(TWO)) {
            int layers = model.layerCount();
            MinerCollector collector = new MinerCollector(names, true, Map.of("special_text", List.of("text", "special")), Miner.Attention.REFERENCE);
            Miner.SampleStatistics sample;
            try (Batch batch = prompt(n, 0)) {
                sample = collector.collect(session, batch, modality);
            }
            float[][] u = unmasked(session, n);
            int width = session.hooks().width(HookPoint.FFN_ACT, 0);
            float[][][] act = new float[layers][n][];
            session.clearMemory();
            try (Batch b = prompt(n, 0); HookScope scope = session.hooks().openScope()) {
                scope.tap(HookPoint.FFN_ACT, -1, (p, layer, data, w, rows, idx) -> {
                    for (int r = 0; r < rows; r++) {
                        act[layer][idx[r]] = data.asSlice((long) r * w * 4, (long) w * 4).toArray(ValueLayout.JAVA_FLOAT);
                    }
                });
                session.decode(b);
            }
            List<String> groups = collector.groups();
            assertEquals(List.of("text", "image", "special", "special_text"), groups);
            for (int g = 0; g < groups.size(); g++) {
                boolean[] mask = new boolean[n];
                for (int i = 0; i < n; i++) {
                    mask[i] = g < 3 ? modality[i] == g : modality[i] == 0 || modality[i] == 2;
                }
                for (int l = 0; l < layers; l++) {
                    double[][] ref = referenceAttnMetrics(u[l], n, act[l], mask);
                    double[] gotK = new double[width];
                    double[] gotQ = new double[width];
                    for (int x = 0; x < width; x++) {
                        gotK[x] = sample.attnK().get(Statistic.WEIGHTED_SUM, l, g, x);
                        gotQ[x] = sample.attnQ().get(Statistic.WEIGHTED_SUM, l, g, x);
                        assertEquals(ref[0][x], gotK[x], 1e-4 * (1 + Math.abs(ref[0][x])), "attn_k " + groups.get(g) + " layer " + l + " neuron " + x);
                        assertEquals(ref[1][x], gotQ[x], 1e-4 * (1 + Math.abs(ref[1][x])), "attn_q " + groups.get(g) + " layer " + l + " neuron " + x);
                    }
                    double[] scoreK = Miner.sampleScore(sample, Miner.Metric.ATTN_K, groups.get(g));
                    double[] scoreQ = Miner.sampleScore(sample, Miner.Metric.ATTN_Q, groups.get(g));
                    double[] normK = minMax(ref[0]);
                    double[] normQ = minMax(ref[1]);
                    for (int x = 0; x < width; x++) {
                        assertEquals(normK[x], scoreK[l * width + x], 1e-4, "normalised attn_k " + groups.get(g) + " layer " + l);
                        assertEquals(normQ[x], scoreQ[l * width + x], 1e-4, "normalised attn_q " + groups.get(g) + " layer " + l);
                    }
                }
            }
            // the reference weights are not the specification's: the same collector with causal attention differs
            Miner.SampleStatistics spec;
            try (Batch batch = prompt(n, 0)) {
                spec = new MinerCollector(names, true, Map.of("special_text", List.of("text", "special"))).collect(session, batch, modality);
            }
            double diff = 0;
            for (int x = 0; x < width; x++) {
                diff = Math.max(diff, Math.abs(spec.attnK().get(Statistic.WEIGHTED_SUM, 1, 1, x) - sample.attnK().get(Statistic.WEIGHTED_SUM, 1, 1, x)));
            }
            assertTrue(diff > 1e-3, "reference and specification attn_k differ: " + diff);
            // the activation metrics do not depend on the attention protocol
            for (int x = 0; x < width; x++) {
                assertEquals(spec.activations().get(Statistic.SUM, 2, 0, x), sample.activations().get(Statistic.SUM, 2, 0, x), 1e-6);
            }
            close(sample);
            close(spec);
        }
    }

    /** A prompt over many decodes and micro-batches of 8 gives the reference metrics of the same prompt in one batch. */
    @Test
    void manyMicroBatchesAgreeWithOne() {
        SessionParams many = TWO.withBatchSize(16).withUbatchSize(8);
        int n = 30;
        int[] modality = new int[n];
        for (int i = 0; i < n; i++) {
            modality[i] = i % 3 == 0 ? 1 : 0;
        }
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"))) {
            MinerCollector collector = new MinerCollector(List.of("text", "image"), true, Map.of(), Miner.Attention.REFERENCE);
            Miner.SampleStatistics one;
            try (Session s = model.newSession(TWO); Batch b = prompt(n, 0)) {
                one = collector.collect(s, b, modality);
            }
            org.neuronscope.media.Prompt chunked = new org.neuronscope.media.Prompt() {
                public int length() { return n; }
                public int positionCount() { return n; }
                public org.neuronscope.media.Modality modality(int entry) { return org.neuronscope.media.Modality.TEXT; }
                public int decode(Session session, int seqId, int start, int[] groups, org.neuronscope.media.DecodeStep step) {
                    for (int from = 0; from < n; from += 13) { // decodes of 13, each split into micro-batches of 8 and 5
                        int to = Math.min(n, from + 13);
                        try (Batch b = Batch.ofTokens(to - from)) {
                            for (int i = from; i < to; i++) {
                                b.add(300 + 41 * i, start + i, seqId, i == n - 1);
                            }
                            step.decode(b, java.util.Arrays.copyOfRange(groups, from, to));
                        }
                    }
                    return start + n;
                }
                public int lastBatchIndex() { return (n - 1) % 13; }
                public void close() { }
            };
            Miner.SampleStatistics split;
            try (Session s = model.newSession(many)) {
                split = collector.collect(s, chunked, modality);
            }
            int width = one.activations().neurons();
            for (int l = 0; l < one.activations().layers(); l++) {
                for (int g = 0; g < 2; g++) {
                    for (int x = 0; x < width; x++) {
                        double a = one.attnK().get(Statistic.WEIGHTED_SUM, l, g, x);
                        assertEquals(a, split.attnK().get(Statistic.WEIGHTED_SUM, l, g, x), 1e-4 * (1 + Math.abs(a)), "attn_k " + l + "/" + g + "/" + x);
                        double b = one.attnQ().get(Statistic.WEIGHTED_SUM, l, g, x);
                        assertEquals(b, split.attnQ().get(Statistic.WEIGHTED_SUM, l, g, x), 1e-4 * (1 + Math.abs(b)), "attn_q " + l + "/" + g + "/" + x);
                    }
                }
            }
            close(one);
            close(split);
        }
    }

    /** Sessions that cannot hold the two copies are refused before any decode, naming what to change. */
    @Test
    void refusesSessionsWithoutRoom() {
        int n = 200; // llama.cpp rounds a context up to a multiple of 256 cells
        int[] modality = new int[n];
        MinerCollector collector = new MinerCollector(List.of("text"), true, Map.of(), Miner.Attention.REFERENCE);
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2"))) {
            try (Session one = model.newSession(TWO.withMaxSequences(1)); Batch b = prompt(n, 0)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> collector.collect(one, b, modality));
                assertTrue(e.getMessage().contains("2 sequences"), e.getMessage());
            }
            try (Session small = model.newSession(TWO.withContextSize(256)); Batch b = prompt(n, 0)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> collector.collect(small, b, modality));
                assertTrue(e.getMessage().contains("400 cells"), e.getMessage());
            }
            try (Session s = model.newSession(TWO)) {
                assertThrows(IllegalArgumentException.class, () -> s.hooks().setAttentionUnmasked(-1));
                // more cells than the cache holds for this decode: the decode fails and says why
                s.hooks().setAttentionUnmasked(1000);
                try (HookScope scope = s.hooks().openScope(); Batch b = prompt(8, 0)) {
                    scope.tap(HookPoint.ATTN_PROBS, 0, (p, layer, data, w, rows, idx) -> { });
                    NeuronScopeException e = assertThrows(NeuronScopeException.class, () -> s.decode(b));
                    assertNotNull(e.getMessage());
                    assertTrue(e.getMessage().contains("fewer KV cells"), e.getMessage());
                } finally {
                    s.hooks().setAttentionUnmasked(0);
                }
            }
        }
    }

    private static void close(Miner.SampleStatistics s) {
        s.activations().close();
        if (s.attnK() != null) {
            s.attnK().close();
            s.attnQ().close();
        }
    }
}
