package org.neuronscope.collect;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Sample;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.media.Modality;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.TextPrompts;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.SyntheticFixtures;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pooled representations from the in-graph weighted sum at resid.post against a brute-force Java
 * computation over the raw resid.post taps of the same decode (last entry; mean over all entries;
 * mean over the text entries), on the fused CPU pass and the portable path; several prompts in one
 * pass against one at a time (to float rounding without flash attention, to F16 rounding with it).
 */
class RepresentationCollectorTest {
    static final String[] TEXTS = {
        "<|im_start|>user\nThe quick brown fox jumps over the lazy dog.<|im_end|>",
        "A short one.",
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat colour is the sky on a clear day?<|im_end|>\n<|im_start|>assistant\n",
    };

    static Stream<Arguments> architecturesAndPaths() {
        return Stream.of("qwen2", "llama").flatMap(a -> Stream.of(Arguments.of(a, false, false), Arguments.of(a, true, false),
                Arguments.of(a, false, true)));
    }

    @ParameterizedTest(name = "{0}, portable {1}, flash attention {2}")
    @MethodSource("architecturesAndPaths")
    void pooledEqualsBruteForceOverTaps(String architecture, boolean portable, boolean flashAttention) {
        SessionParams params = SessionParams.defaults().withContextSize(256).withBatchSize(64).withMaxSequences(3).withThreads(2)
                .withFlashAttention(flashAttention ? SessionParams.FlashAttention.ON : SessionParams.FlashAttention.OFF);
        try (Model m = Model.load(SyntheticFixtures.tiny(architecture)); Session s = m.newSession(params)) {
            s.hooks().setPortableReductions(portable);
            TextPrompts source = new TextPrompts(m, PromptFormat.raw());
            List<Pooling> poolings = List.of(Pooling.last(), Pooling.mean(), Pooling.mean(Modality.TEXT));
            int layers = s.hooks().layers();
            int width = s.hooks().width(HookPoint.RESID_POST, 0);
            List<double[][]> single = new ArrayList<>();
            try (RepresentationCollector c = RepresentationCollector.open(s, poolings, 3)) {
                assertEquals(width, c.width());
                for (String text : TEXTS) {
                    try (Prompt p = source.ofText(text, true)) {
                        assertTrue(p.length() <= 64, "one decode: batch index = entry");
                        double[][] rows = new double[layers * p.length()][];
                        try (HookScope taps = s.hooks().openScope()) {
                            taps.tap(HookPoint.RESID_POST, -1, (point, layer, data, w, n, batchIndex) -> {
                                for (int i = 0; i < n; i++) {
                                    float[] row = data.asSlice((long) i * w * Float.BYTES, (long) w * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
                                    rows[layer * p.length() + batchIndex[i]] = Arrays.stream(toDoubles(row)).toArray();
                                }
                            });
                            double[][] pooled = c.pool(null, p);
                            single.add(pooled);
                            boolean[] isText = new boolean[p.length()];
                            int textCount = 0;
                            for (int e = 0; e < p.length(); e++) {
                                isText[e] = p.modality(e) == Modality.TEXT;
                                textCount += isText[e] ? 1 : 0;
                            }
                            assertTrue(textCount > 0);
                            for (int l = 0; l < layers; l++) {
                                for (int j = 0; j < width; j++) {
                                    double last = rows[l * p.length() + p.length() - 1][j];
                                    double mean = 0;
                                    double textMean = 0;
                                    double scale = 1e-6;
                                    for (int e = 0; e < p.length(); e++) {
                                        double v = rows[l * p.length() + e][j];
                                        mean += v / p.length();
                                        textMean += isText[e] ? v / textCount : 0;
                                        scale = Math.max(scale, Math.abs(v));
                                    }
                                    assertEquals(last, pooled[0][l * width + j], 1e-5 * scale, "last, layer " + l + " dim " + j);
                                    assertEquals(mean, pooled[1][l * width + j], 1e-5 * scale, "mean, layer " + l + " dim " + j);
                                    assertEquals(textMean, pooled[2][l * width + j], 1e-5 * scale, "mean:text, layer " + l + " dim " + j);
                                }
                            }
                        }
                    }
                }
                // all three prompts in one pass, one sequence each, as one at a time
                List<Prompt> prompts = new ArrayList<>();
                try {
                    for (String text : TEXTS) {
                        prompts.add(source.ofText(text, true));
                    }
                    List<Sample> none = Arrays.asList(new Sample[TEXTS.length]);
                    List<double[][]> together = c.poolAll(none, prompts);
                    for (int i = 0; i < TEXTS.length; i++) {
                        for (int q = 0; q < poolings.size(); q++) {
                            if (flashAttention) {
                                // packed micro-batches are long enough for ggml's tiled flash-attention kernel,
                                // a short prompt alone takes the one-row kernel, which accumulates V in F16:
                                // the two agree to F16 rounding, not to float rounding
                                double err = 0;
                                double norm = 0;
                                for (int x = 0; x < layers * width; x++) {
                                    double want = single.get(i)[q][x];
                                    err += (want - together.get(i)[q][x]) * (want - together.get(i)[q][x]);
                                    norm += want * want;
                                }
                                // (measured: 0 on qwen2, whose heads are too narrow for the tiled kernel, 1.2e-6 on
                                // llama; llama.cpp's own flash-attention tests allow 5e-4; attention leaking between
                                // packed sequences would not stay this close)
                                assertTrue(err / norm < 1e-4, "prompt " + i + " pooling " + q + ": normalised squared error " + err / norm);
                            } else {
                                for (int x = 0; x < layers * width; x++) {
                                    double want = single.get(i)[q][x];
                                    assertEquals(want, together.get(i)[q][x], 1e-4 * Math.max(1, Math.abs(want)), "prompt " + i + " pooling " + q);
                                }
                            }
                        }
                    }
                } finally {
                    prompts.forEach(Prompt::close);
                }
            }
            // a pooling without tokens is a clear error naming the sample and the pooling
            try (Prompt p = source.ofText("no image here", true);
                 RepresentationCollector ci = RepresentationCollector.open(s, List.of(Pooling.mean(Modality.IMAGE)), 1)) {
                var e = assertThrows(IllegalArgumentException.class, () -> ci.pool(Sample.text("q7", "no image here", List.of()), p));
                assertTrue(e.getMessage().contains("sample q7 has no tokens for pooling mean:image"), e.getMessage());
            }
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
