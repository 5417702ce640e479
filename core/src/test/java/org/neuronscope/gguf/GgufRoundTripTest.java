package org.neuronscope.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelParams;
import org.neuronscope.testing.SyntheticFixtures;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufRoundTripTest {
    @Test
    void everyValueTypeAndTensorTypeReadsBackIdentically(@TempDir Path tmp) {
        GgufWriter w = new GgufWriter();
        w.put("u8", GgufValue.of(GgufValueType.UINT8, 200L));
        w.put("i8", GgufValue.of(GgufValueType.INT8, -100L));
        w.put("u16", GgufValue.of(GgufValueType.UINT16, 60000L));
        w.put("i16", GgufValue.of(GgufValueType.INT16, -30000L));
        w.put("u32", GgufValue.of(GgufValueType.UINT32, 4_000_000_000L));
        w.put("i32", GgufValue.of(GgufValueType.INT32, -2_000_000_000L));
        w.put("u64", GgufValue.of(GgufValueType.UINT64, Long.MAX_VALUE));
        w.put("i64", GgufValue.of(GgufValueType.INT64, Long.MIN_VALUE));
        w.put("f32", GgufValue.ofFloat32(3.25f));
        w.put("f64", GgufValue.of(GgufValueType.FLOAT64, Math.PI));
        w.put("bool", GgufValue.ofBool(true));
        w.put("str", GgufValue.ofString("héllo ✓"));
        w.put("arr.str", GgufValue.ofArray(GgufValueType.STRING, new String[] {"a", "", "ç"}));
        w.put("arr.i32", GgufValue.ofArray(GgufValueType.INT32, new long[] {1, -2, 3}));
        w.put("arr.f32", GgufValue.ofArray(GgufValueType.FLOAT32, new float[] {1.5f, -2f}));
        w.put("arr.f64", GgufValue.ofArray(GgufValueType.FLOAT64, new double[] {1e300}));
        w.put("arr.bool", GgufValue.ofArray(GgufValueType.BOOL, new boolean[] {true, false}));
        w.put("arr.arr", GgufValue.ofArray(GgufValueType.ARRAY, new GgufValue[] {
                GgufValue.ofArray(GgufValueType.UINT8, new long[] {1, 2}), GgufValue.ofArray(GgufValueType.STRING, new String[] {"x"})}));
        float[][] values = new float[4][64];
        SplittableRandom rng = new SplittableRandom(7);
        for (float[] row : values) {
            for (int i = 0; i < row.length; i++) {
                row[i] = (float) rng.nextGaussian() * 3;
            }
        }
        for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0}) {
            w.addTensor("t." + t, t, new long[] {64, 2, 2}, (r, out) -> System.arraycopy(values[(int) r], 0, out, 0, 64));
        }
        Path file = tmp.resolve("all.gguf");
        w.write(file);

        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(3, f.version());
            assertEquals(GgufValue.of(GgufValueType.UINT8, 200L), f.metadata().get("u8"));
            assertEquals(-100L, f.getLong("i8"));
            assertEquals(60000L, f.getLong("u16"));
            assertEquals(-30000L, f.getLong("i16"));
            assertEquals(4_000_000_000L, f.getLong("u32"));
            assertEquals(-2_000_000_000L, f.getLong("i32"));
            assertEquals(Long.MAX_VALUE, f.getLong("u64"));
            assertEquals(Long.MIN_VALUE, f.getLong("i64"));
            assertEquals(3.25, f.getDouble("f32"));
            assertEquals(Math.PI, f.getDouble("f64"));
            assertEquals(GgufValue.ofBool(true), f.metadata().get("bool"));
            assertEquals("héllo ✓", f.getString("str"));
            assertArrayEquals(new String[] {"a", "", "ç"}, f.getStringArray("arr.str"));
            assertArrayEquals(new long[] {1, -2, 3}, (long[]) f.metadata().get("arr.i32").value());
            assertArrayEquals(new float[] {1.5f, -2f}, (float[]) f.metadata().get("arr.f32").value());
            assertArrayEquals(new double[] {1e300}, (double[]) f.metadata().get("arr.f64").value());
            assertArrayEquals(new boolean[] {true, false}, (boolean[]) f.metadata().get("arr.bool").value());
            assertEquals(GgufValue.ofArray(GgufValueType.ARRAY, new GgufValue[] {
                    GgufValue.ofArray(GgufValueType.UINT8, new long[] {1, 2}), GgufValue.ofArray(GgufValueType.STRING, new String[] {"x"})}),
                    f.metadata().get("arr.arr"));
            for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0}) {
                TensorInfo info = f.tensor("t." + t);
                assertArrayEquals(new long[] {64, 2, 2}, info.shape());
                assertEquals(0, (f.dataStart() + info.offset()) % 32, "alignment");
                ByteBuffer data = f.tensorData(info.name()).asByteBuffer();
                for (int r = 0; r < 4; r++) {
                    float[] back = Quantization.decodeRow(t, data, 64);
                    float[] expected = reference(t, values[r]);
                    assertArrayEquals(expected, back, 0f, t + " row " + r);
                }
            }
        }
    }

    /** An independent F16 / Q8_0 round trip (ggml's quantize_row_q8_0_ref, dequantize_row_q8_0). */
    private static float[] reference(GgmlType t, float[] x) {
        float[] y = new float[x.length];
        switch (t) {
            case F32 -> System.arraycopy(x, 0, y, 0, x.length);
            case F16 -> {
                for (int i = 0; i < x.length; i++) {
                    y[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < x.length; b += 32) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) {
                        amax = Math.max(amax, Math.abs(x[b + j]));
                    }
                    float d = amax / 127;
                    float id = d == 0 ? 0 : 1 / d;
                    float dStored = Float.float16ToFloat(Float.floatToFloat16(d));
                    for (int j = 0; j < 32; j++) {
                        int q = Math.round(x[b + j] * id);
                        y[b + j] = dStored * q;
                    }
                }
            }
            default -> throw new AssertionError();
        }
        return y;
    }

    @Test
    void llamaCppVocabularyFilesAreReadConsistently() throws Exception {
        Path vocab = SyntheticFixtures.vocabFor("qwen2");
        try (GgufFile f = GgufFile.open(vocab)) {
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            assertTrue(tokens.length > 150_000, "qwen2 has ~151k tokens");
            assertEquals("qwen2", f.architecture());
            assertEquals(tokens.length, ((long[]) f.metadata().get("tokenizer.ggml.token_type").value()).length);
        }
    }

    @Test
    void aWrittenModelLoadsInLlamaCppAndReadsBackIdentically(@TempDir Path tmp) throws Exception {
        ModelSpec spec = ModelSpec.tiny("qwen2", SyntheticFixtures.vocabFor("qwen2")).withWeightType(GgmlType.Q8_0);
        Path a = SyntheticModels.write(spec, tmp.resolve("a.gguf"));
        Path b = SyntheticModels.write(spec, tmp.resolve("b.gguf"));
        Path c = SyntheticModels.write(spec.withSeed(43), tmp.resolve("c.gguf"));
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "same seed, same bytes");
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(c)), "other seed, other bytes");
        try (Model model = Model.load(a); GgufFile f = GgufFile.open(a)) {
            assertEquals(spec.layers(), model.layerCount());
            assertEquals(spec.embedding(), model.embeddingSize());
            assertEquals(f.getStringArray("tokenizer.ggml.tokens").length, model.vocabularySize());
            assertEquals("qwen2", model.architecture());
            // llama.cpp's own reading of the metadata agrees with the Java reader
            assertEquals(String.valueOf(spec.feedForward()), model.metadata("qwen2.feed_forward_length").orElseThrow());
            assertEquals(GgmlType.Q8_0, f.tensor("blk.0.ffn_up.weight").type());
        }
        // an edit that zeroes rows leaves every other byte alone
        Path z = tmp.resolve("z.gguf");
        GgufEdits.zeroRows(a, z, Map.of("blk.1.ffn_up.weight", new int[] {3}));
        try (GgufFile fa = GgufFile.open(a); GgufFile fz = GgufFile.open(z)) {
            for (TensorInfo t : fa.tensors().values()) {
                byte[] da = fa.tensorData(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                byte[] dz = fz.tensorData(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                if (!t.name().equals("blk.1.ffn_up.weight")) {
                    assertArrayEquals(da, dz, t.name());
                    continue;
                }
                long rb = t.rowBytes();
                for (int i = 0; i < da.length; i++) {
                    boolean inRow = i >= 3 * rb && i < 4 * rb;
                    assertEquals(inRow ? 0 : da[i], dz[i], "byte " + i);
                }
            }
            assertEquals(fa.metadata(), fz.metadata());
        }
        try (Model model = Model.load(z, ModelParams.defaults())) {
            assertEquals(spec.layers(), model.layerCount());
        }
    }
}
