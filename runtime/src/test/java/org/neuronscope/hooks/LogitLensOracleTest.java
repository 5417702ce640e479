package org.neuronscope.hooks;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticFixtures;
import org.neuronscope.testkit.SyntheticModels;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The logit lens against independent oracles, on every architecture (tied and untied output) in F32
 * and on llama (untied) and qwen2 (tied) in F16: at the last layer it equals the softmax of the model's own logits; at every layer it
 * equals a brute-force Java computation (RMS output norm and unembedding, weights read from the GGUF
 * with GgufFile, applied to the resid.post tap of the same decode); group means equal the means of
 * the brute-force entropies and target probabilities; selecting the last token gives that token's row.
 */
class LogitLensOracleTest {
    private static final int TOKENS = 45;
    private static final int GROUPS = 3;
    private static final int K = 10;
    private static final double TOL = 1e-4;

    static Stream<Arguments> models() {
        // every architecture in F32; F16 on an untied (llama) and a tied (qwen2) output
        return Stream.concat(SyntheticFixtures.ARCHITECTURES.stream().map(a -> Arguments.of(a, GgmlType.F32)),
                Stream.of(Arguments.of("llama", GgmlType.F16), Arguments.of("qwen2", GgmlType.F16)));
    }

    /** A tiny model whose output norm is not all ones (so the norm weight counts in the oracle). */
    private static Path model(String arch, GgmlType type) {
        ModelSpec spec = ModelSpec.tiny(arch, SyntheticFixtures.vocabFor(arch)).withWeightType(type);
        Path out = SyntheticFixtures.directory().resolve("lens-" + arch + "-" + type + ".gguf");
        if (out.toFile().isFile()) {
            return out;
        }
        return SyntheticModels.write(spec, out, (tensor, row, values) -> {
            if (tensor.name().equals("output_norm.weight")) {
                for (int i = 0; i < values.length; i++) {
                    values[i] = 1f + 0.5f * (float) Math.sin(0.7 * i + 0.3);
                }
            }
        });
    }

    private static SessionParams params() {
        return SessionParams.defaults().withContextSize(256).withBatchSize(64).withUbatchSize(16).withThreads(2);
    }

    private static int[] prompt(Model model, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] t = new int[TOKENS];
        for (int i = 0; i < TOKENS; i++) {
            t[i] = 100 + rng.nextInt(Math.min(20000, model.vocabularySize() - 200));
        }
        return t;
    }

    private static int[] groups() {
        int[] g = new int[TOKENS];
        for (int i = 0; i < TOKENS; i++) {
            g[i] = i % 7 == 3 ? -1 : (i * 7 / 5) % GROUPS;
        }
        return g;
    }

    private static void decode(Session session, int[] tokens, boolean allLogits) {
        session.clearMemory();
        try (Batch batch = Batch.ofTokens(tokens.length)) {
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, allLogits || i == tokens.length - 1);
            }
            session.decode(batch);
        }
    }

    /** The model's head as the brute force reads it from the file. */
    private record Head(float[] norm, float[][] output, double eps, boolean f16) {
        static Head read(Path path) {
            try (GgufFile f = GgufFile.open(path)) {
                String arch = f.architecture();
                String out = f.containsTensor("output.weight") ? "output.weight" : "token_embd.weight";
                int vocab = (int) f.tensor(out).rows();
                float[][] w = new float[vocab][];
                for (int v = 0; v < vocab; v++) {
                    w[v] = f.row(out, v);
                }
                return new Head(f.row("output_norm.weight", 0), w, f.getFloat(arch + ".attention.layer_norm_rms_epsilon"),
                        f.tensor(out).type() == GgmlType.F16);
            }
        }

        /** softmax(W · (rms_norm(x) ⊙ g)); with F16 weights ggml rounds the activations to F16 first, so does this. */
        double[] lens(float[] x) {
            double ss = 0;
            for (float v : x) {
                ss += (double) v * v;
            }
            // ggml_rms_norm: float scale from a double-free sum in float; the difference is far below the tolerance
            float scale = (float) (1.0 / Math.sqrt(ss / x.length + eps));
            float[] h = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                h[i] = (x[i] * scale) * norm[i];
                if (f16) {
                    h[i] = Float.float16ToFloat(Float.floatToFloat16(h[i]));
                }
            }
            double[] logits = new double[output.length];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < output.length; v++) {
                double acc = 0;
                float[] row = output[v];
                for (int i = 0; i < h.length; i++) {
                    acc += (double) row[i] * h[i];
                }
                logits[v] = acc;
                max = Math.max(max, acc);
            }
            return softmax(logits, max);
        }
    }

    static double[] softmax(double[] logits, double max) {
        double z = 0;
        double[] p = new double[logits.length];
        for (int v = 0; v < p.length; v++) {
            p[v] = Math.exp(logits[v] - max);
            z += p[v];
        }
        for (int v = 0; v < p.length; v++) {
            p[v] /= z;
        }
        return p;
    }

    static double entropy(double[] p) {
        double h = 0;
        for (double v : p) {
            if (v > 0) {
                h -= v * Math.log(v);
            }
        }
        return h;
    }

    /** The lens row against a distribution: probabilities of its ids, entropy, target, and that its ids are a top-k. */
    static void assertMatches(LensRow r, double[] p, int target, String what) {
        assertEquals(K, r.topK(), what);
        double kth = Double.POSITIVE_INFINITY;
        for (int j = 0; j < K; j++) {
            int id = r.ids()[j];
            assertEquals(p[id], r.probs()[j], TOL, what + ": probability of rank " + j + " (token " + id + ")");
            if (j > 0) {
                assertTrue(r.probs()[j] <= r.probs()[j - 1], what + ": ranks not descending");
            }
            kth = Math.min(kth, p[id]);
        }
        // no token outside the top-k is clearly more probable than the k-th
        java.util.Set<Integer> ids = new java.util.HashSet<>();
        for (int id : r.ids()) {
            ids.add(id);
        }
        for (int v = 0; v < p.length; v++) {
            if (!ids.contains(v)) {
                assertTrue(p[v] <= kth + TOL, what + ": token " + v + " (p=" + p[v] + ") is missing from the top-" + K);
            }
        }
        assertEquals(entropy(p), r.entropy(), TOL, what + ": entropy");
        assertEquals(p[target], r.targetProb(), TOL, what + ": target probability");
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("models")
    void lensEqualsOwnLogitsAtTheLastLayerAndBruteForceEverywhere(String arch, GgmlType type) {
        Path path = model(arch, type);
        Head head = Head.read(path);
        try (Model model = Model.load(path);
             Session session = model.newSession(params());
             HookScope scope = session.hooks().openScope()) {
            int layers = model.layerCount();
            int[] tokens = prompt(model, 3);
            int[] group = groups();
            int target = tokens[TOKENS - 1];
            scope.tokenWeights(GROUPS).setGroups(group);
            Map<Long, LensRow> rows = new HashMap<>();
            Lens lens = scope.lens(LensSpec.DEFAULT.withTopK(K).withTarget(target).withGroups(true));
            lens.onRows(r -> assertEquals(null, rows.put(((long) r.layer() << 32) | r.batchEntry(), r), "a row delivered twice"));
            float[][][] taps = new float[layers][TOKENS][];
            scope.tap(HookPoint.RESID_POST, -1, (point, layer, data, width, n, index) -> {
                for (int i = 0; i < n; i++) {
                    taps[layer][index[i]] = data.asSlice((long) i * width * Float.BYTES, (long) width * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
                }
            });
            decode(session, tokens, true);
            assertEquals(layers * TOKENS, rows.size(), "one row per (layer, token)");

            // oracle 1: the last layer is the model's own output distribution
            for (int t = 0; t < TOKENS; t++) {
                float[] logits = session.logitsArray(t);
                double[] l = new double[logits.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < l.length; v++) {
                    l[v] = logits[v];
                    max = Math.max(max, l[v]);
                }
                assertMatches(rows.get(((long) (layers - 1) << 32) | t), softmax(l, max), target, arch + " last layer, token " + t);
            }
            // oracle 2: brute force over the tap at every layer (a subset of tokens: the vocabularies are large)
            double[][] entropySum = new double[layers][GROUPS];
            double[][] targetSum = new double[layers][GROUPS];
            int[] count = new int[GROUPS];
            for (int t = 0; t < TOKENS; t++) {
                if (group[t] >= 0) {
                    count[group[t]]++;
                }
            }
            for (int layer = 0; layer < layers; layer++) {
                for (int t = 0; t < TOKENS; t++) {
                    LensRow r = rows.get(((long) layer << 32) | t);
                    assertNotNull(r, "layer " + layer + " token " + t);
                    if (t % 4 == 0 || t == TOKENS - 1) {
                        assertMatches(r, head.lens(taps[layer][t]), target, arch + " " + type + " layer " + layer + ", token " + t);
                    }
                    if (group[t] >= 0) {
                        entropySum[layer][group[t]] += r.entropy();
                        targetSum[layer][group[t]] += r.targetProb();
                    }
                }
                // oracle 3: group means against the per-token rows
                for (int g = 0; g < GROUPS; g++) {
                    assertEquals(count[g], lens.groupWeight(layer, g), 1e-9, "weight of group " + g);
                    assertEquals(entropySum[layer][g] / count[g], lens.groupMeanEntropy(layer, g), TOL, "mean entropy, layer " + layer + " group " + g);
                    assertEquals(targetSum[layer][g] / count[g], lens.groupMeanTarget(layer, g), TOL, "mean target, layer " + layer + " group " + g);
                }
            }

            // the last token only, at two layers: the same rows
            Map<Long, LensRow> full = new HashMap<>(rows);
            rows.clear();
            scope.removeTap(HookPoint.RESID_POST, -1);
            Lens last = scope.lens(LensSpec.DEFAULT.withTopK(K).withTarget(target).withLayers(0, layers - 1));
            last.onRows(r -> rows.put(((long) r.layer() << 32) | r.batchEntry(), r));
            last.select(TOKENS - 1);
            assertTrue(!lens.isLive());
            decode(session, tokens, false);
            assertEquals(2, rows.size(), "last token at two layers");
            for (int layer : new int[] {0, layers - 1}) {
                LensRow a = rows.get(((long) layer << 32) | (TOKENS - 1));
                LensRow b = full.get(((long) layer << 32) | (TOKENS - 1));
                assertEquals(b.entropy(), a.entropy(), 1e-5);
                for (int j = 0; j < K; j++) {
                    assertEquals(b.probs()[j], a.probs()[j], 1e-5);
                }
            }
        }
    }

    @Test
    void badInputIsAClearError() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Session session = model.newSession(params());
             HookScope scope = session.hooks().openScope()) {
            int layers = model.layerCount();
            assertThrows(IndexOutOfBoundsException.class, () -> scope.lens(LensSpec.DEFAULT.withLayers(layers)));
            assertThrows(IllegalArgumentException.class, () -> LensSpec.DEFAULT.withLayers(2, 1));
            assertThrows(IllegalStateException.class, () -> scope.lens(LensSpec.DEFAULT.withGroups(true)), "groups need token weights");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> scope.lens(LensSpec.DEFAULT.withTarget(model.vocabularySize())));
            assertTrue(e.getMessage().contains("target"), e.getMessage());
            Lens lens = scope.lens(LensSpec.DEFAULT);
            assertThrows(IndexOutOfBoundsException.class, () -> lens.select(session.batchSize()));
            try (HookScope other = session.hooks().openScope()) {
                assertThrows(IllegalStateException.class, () -> other.lens(LensSpec.DEFAULT), "one lens per session");
            }
            // a listener that throws fails the decode with its exception, and the next decode works
            lens.onRows(r -> {
                throw new IllegalStateException("listener broke");
            });
            int[] tokens = prompt(model, 5);
            RuntimeException failure = assertThrows(RuntimeException.class, () -> decode(session, tokens, false));
            assertTrue(causeChain(failure).contains("listener broke"), causeChain(failure));
            List<LensRow> got = new java.util.ArrayList<>();
            lens.onRows(got::add);
            lens.select(TOKENS - 1);
            decode(session, tokens, false);
            assertEquals(layers, got.size());
        }
    }

    private static String causeChain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c).append(" <- ");
        }
        return sb.toString();
    }
}
