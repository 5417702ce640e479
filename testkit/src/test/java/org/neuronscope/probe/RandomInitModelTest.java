package org.neuronscope.probe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.TensorInfo;
import org.neuronscope.testkit.LlamaTree;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What {@link RandomInitModel} writes, tensor by tensor; the CLI test runs llama.cpp on it. */
class RandomInitModelTest {
    @TempDir
    Path tmp;

    @Test
    void sameShapesAndMetadataWithHuggingFaceInitialisation() throws Exception {
        for (String arch : new String[] {"qwen2", "llama", "gemma3"}) {
            Path in = SyntheticModels.write(ModelSpec.builder(arch, LlamaTree.vocab("llama-spm")).layers(2).build(), tmp.resolve(arch + ".gguf"));
            Path out = tmp.resolve(arch + "-random.gguf");
            RandomInitModel.Summary sum = RandomInitModel.write(in, out, 7, 0.02);
            assertFalse(sum.drawn().isEmpty());
            assertFalse(sum.ones().isEmpty());
            try (GgufFile a = GgufFile.open(in); GgufFile b = GgufFile.open(out)) {
                // every key of the original, unchanged, plus the control's own
                a.metadata().forEach((k, v) -> assertEquals(v, b.metadata().get(k), arch + ": metadata " + k));
                assertEquals("7", b.getString(RandomInitModel.SEED_KEY));
                assertEquals(0.02f, b.getFloat(RandomInitModel.STD_KEY));
                assertEquals(a.tensors().keySet(), b.tensors().keySet());
                for (TensorInfo t : a.tensors().values()) {
                    TensorInfo u = b.tensor(t.name());
                    assertArrayEquals(t.shape(), u.shape(), t.name());
                    assertEquals(t.type(), u.type(), t.name()); // the synthetic models are F32: written in their own type
                    String name = t.name();
                    if (sum.ones().contains(name)) {
                        assertTrue(name.contains("norm"), name);
                        for (long r = 0; r < t.rows(); r++) {
                            for (float v : b.row(name, r)) {
                                assertEquals(1f, v, name);
                            }
                        }
                    } else if (sum.zeros().contains(name)) {
                        assertTrue(name.endsWith(".bias"), name);
                        for (long r = 0; r < t.rows(); r++) {
                            for (float v : b.row(name, r)) {
                                assertEquals(0f, v, name);
                            }
                        }
                    } else if (sum.drawn().contains(name)) {
                        assertTrue(t.shape().length >= 2, name);
                        double s = 0;
                        double s2 = 0;
                        long n = 0;
                        double same = 0;
                        for (long r = 0; r < t.rows(); r++) {
                            float[] x = b.row(name, r);
                            float[] o = a.row(name, r);
                            for (int i = 0; i < x.length; i++) {
                                s += x[i];
                                s2 += (double) x[i] * x[i];
                                same += x[i] == o[i] ? 1 : 0;
                                n++;
                            }
                        }
                        double mean = s / n;
                        double sd = Math.sqrt(s2 / n - mean * mean);
                        // n >= 4096 draws: the sample sd is within 5 % of 0.02 and the mean within 5 standard errors of 0
                        assertEquals(0.02, sd, 0.02 * 0.05, name + " sd");
                        assertEquals(0.0, mean, 5 * 0.02 / Math.sqrt(n), name + " mean");
                        assertEquals(0.0, same, name + ": no weight kept");
                    } else {
                        assertTrue(sum.copied().contains(name), name);
                        assertEquals(a.tensorData(name).asByteBuffer(), b.tensorData(name).asByteBuffer(), name + " copied");
                    }
                }
            }
            // the same seed gives the same file; another seed other weights
            Path again = tmp.resolve(arch + "-again.gguf");
            RandomInitModel.write(in, again, 7, 0.02);
            assertEquals(-1, Files.mismatch(out, again));
            Path other = tmp.resolve(arch + "-other.gguf");
            RandomInitModel.write(in, other, 8, 0.02);
            try (GgufFile b = GgufFile.open(out); GgufFile c = GgufFile.open(other)) {
                String w = sum.drawn().getFirst();
                assertFalse(Arrays.equals(b.row(w, 0), c.row(w, 0)));
            }
        }
    }

    @Test
    void badArgumentsAreNamed() {
        Path in = SyntheticModels.write(ModelSpec.builder("llama", LlamaTree.vocab("llama-spm")).layers(1).build(), tmp.resolve("m.gguf"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RandomInitModel.write(in, tmp.resolve("o.gguf"), 0, 0)).getMessage()
                .contains("standard deviation"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RandomInitModel.write(in, in, 0, 0.02)).getMessage().contains("copy"));
    }
}
