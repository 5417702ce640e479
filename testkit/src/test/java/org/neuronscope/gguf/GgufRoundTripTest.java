package org.neuronscope.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.NeuronScopeException;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufRoundTripTest {
    @TempDir
    Path tmp;

    @Test
    void everyValueTypeReadsBackWithItsType() {
        GgufValue nested = GgufValue.ofArray(GgufValueType.ARRAY, new GgufValue[] {
                GgufValue.ofArray(GgufValueType.UINT8, new long[] {1, 255}),
                GgufValue.ofArray(GgufValueType.ARRAY, new GgufValue[] {GgufValue.ofStringArray("deep")}),
                GgufValue.ofStringArray()});
        GgufWriter w = new GgufWriter()
                .put("u8", GgufValue.ofUint8(255))
                .put("i8", GgufValue.ofInt8(-128))
                .put("u16", GgufValue.ofUint16(65535))
                .put("i16", GgufValue.ofInt16(-32768))
                .put("u32", GgufValue.ofUint32(0xFFFF_FFFFL))
                .put("i32", GgufValue.ofInt32(Integer.MIN_VALUE))
                .put("u64", GgufValue.ofUint64(-1L)) // 2^64 - 1
                .put("i64", GgufValue.ofInt64(Long.MIN_VALUE))
                .put("f32", GgufValue.ofFloat32(-3.25e-7f))
                .put("f64", GgufValue.ofFloat64(Math.PI))
                .put("bool.t", GgufValue.ofBool(true))
                .put("bool.f", GgufValue.ofBool(false))
                .putString("str", "héllo ✓ \uD83D\uDE00")
                .putString("str.empty", "")
                .putStringArray("arr.str", "a", "", "ç")
                .put("arr.u8", GgufValue.ofArray(GgufValueType.UINT8, new long[] {0, 255}))
                .put("arr.i8", GgufValue.ofArray(GgufValueType.INT8, new long[] {-128, 127}))
                .put("arr.u16", GgufValue.ofArray(GgufValueType.UINT16, new long[] {65535}))
                .put("arr.i16", GgufValue.ofArray(GgufValueType.INT16, new long[] {-32768, 1}))
                .put("arr.u32", GgufValue.ofArray(GgufValueType.UINT32, new long[] {0xFFFF_FFFFL}))
                .putInt32Array("arr.i32", 1, -2, 3)
                .put("arr.u64", GgufValue.ofArray(GgufValueType.UINT64, new long[] {-1L, 7}))
                .put("arr.i64", GgufValue.ofArray(GgufValueType.INT64, new long[] {Long.MIN_VALUE, Long.MAX_VALUE}))
                .putFloat32Array("arr.f32", 1.5f, -2f, Float.MIN_VALUE)
                .put("arr.f64", GgufValue.ofArray(GgufValueType.FLOAT64, new double[] {1e300, -0.0}))
                .put("arr.bool", GgufValue.ofArray(GgufValueType.BOOL, new boolean[] {true, false, true}))
                .putInt32Array("arr.empty")
                .put("arr.arr", nested);
        Path file = tmp.resolve("values.gguf");
        w.write(file);

        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(3, f.version());
            assertEquals(w.metadata(), f.metadata(), "every value with its exact type");
            assertEquals(List.copyOf(w.metadata().keySet()), List.copyOf(f.keys()), "file order");
            assertEquals(255, f.getInt("u8"));
            assertEquals(-128, f.getInt("i8"));
            assertEquals(65535, f.getInt("u16"));
            assertEquals(-32768, f.getInt("i16"));
            assertEquals(0xFFFF_FFFFL, f.getLong("u32"));
            assertEquals(Integer.MIN_VALUE, f.getInt("i32"));
            assertEquals(Long.MIN_VALUE, f.getLong("i64"));
            assertEquals(-3.25e-7f, f.getFloat("f32"));
            assertEquals(Math.PI, f.getDouble("f64"));
            assertTrue(f.getBoolean("bool.t"));
            assertFalse(f.getBoolean("bool.f"));
            assertEquals("héllo ✓ \uD83D\uDE00", f.getString("str"));
            assertEquals("", f.getString("str.empty"));
            assertArrayEquals(new String[] {"a", "", "ç"}, f.getStringArray("arr.str"));
            assertArrayEquals(new long[] {0, 255}, f.getLongArray("arr.u8"));
            assertArrayEquals(new long[] {-128, 127}, f.getLongArray("arr.i8"));
            assertArrayEquals(new long[] {-32768, 1}, f.getLongArray("arr.i16"));
            assertArrayEquals(new long[] {-1L, 7}, f.getLongArray("arr.u64"));
            assertArrayEquals(new long[] {1, -2, 3}, f.getLongArray("arr.i32"));
            assertArrayEquals(new float[] {1.5f, -2f, Float.MIN_VALUE}, f.getFloatArray("arr.f32"));
            assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, -0.0f}, f.getFloatArray("arr.f64"));
            assertArrayEquals(new boolean[] {true, false, true}, (boolean[]) f.getArray("arr.bool").value());
            assertEquals(0, f.getArray("arr.empty").length());
            assertEquals(nested, f.getArray("arr.arr"));
            assertTrue(f.containsKey("u8"));
            assertFalse(f.containsKey("nope"));
            assertTrue(f.tensors().isEmpty());
        }
    }

    @Test
    void gettersRefuseTheWrongTypeAndMissingKeys() {
        Path file = tmp.resolve("getters.gguf");
        new GgufWriter().putString("s", "x").put("u64", GgufValue.ofUint64(-1L)).put("big", GgufValue.ofInt64(1L << 40))
                .putFloat32("f", 1f).putInt32Array("ints", 1).write(file);
        try (GgufFile f = GgufFile.open(file)) {
            assertThrows(NeuronScopeException.class, () -> f.getLong("s"));
            assertThrows(NeuronScopeException.class, () -> f.getString("f"));
            assertThrows(NeuronScopeException.class, () -> f.getFloat("s"), "integers and strings are not floats");
            assertThrows(NeuronScopeException.class, () -> f.getLong("f"), "floats are not integers");
            assertThrows(NeuronScopeException.class, () -> f.getLong("u64"), "2^64-1 does not fit a long");
            assertThrows(NeuronScopeException.class, () -> f.getInt("big"), "2^40 does not fit an int");
            assertThrows(NeuronScopeException.class, () -> f.getStringArray("ints"));
            assertThrows(NeuronScopeException.class, () -> f.getArray("s"));
            NeuronScopeException missing = assertThrows(NeuronScopeException.class, () -> f.getString("general.architecture"));
            assertTrue(missing.getMessage().contains("general.architecture"), missing.getMessage());
            assertThrows(NeuronScopeException.class, f::architecture);
            assertThrows(NeuronScopeException.class, () -> f.tensor("nope"));
            assertEquals(1L << 40, f.getLong("big"));
        }
    }

    /** The writer's bytes, checked against a file assembled here field by field from the GGUF specification. */
    @Test
    void writerLayoutMatchesTheSpecification() throws Exception {
        Path file = tmp.resolve("layout.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putUint32("n", 7)
                .addTensor("w", GgmlType.F32, new long[] {2, 2}, (r, v) -> { v[0] = r; v[1] = -r; })
                .addTensor("b", GgmlType.F16, new long[] {3}, (r, v) -> Arrays.fill(v, 1f))
                .write(file);

        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        Le le = new Le(expected);
        le.i32(0x46554747).i32(3).i64(2).i64(2);
        le.str("general.architecture").i32(8).str("llama");
        le.str("n").i32(4).i32(7);
        le.str("w").i32(2).i64(2).i64(2).i32(0).i64(0);
        le.str("b").i32(1).i64(3).i32(1).i64(32); // "w" takes 16 bytes, padded to 32
        le.padTo(32);
        le.f32(0).f32(0).f32(1).f32(-1).padTo(32);
        le.i16(0x3C00).i16(0x3C00).i16(0x3C00).padTo(32);
        assertArrayEquals(expected.toByteArray(), Files.readAllBytes(file));
    }

    @Test
    void floatTensorsMatchIndependentF16AndQ8_0References() {
        float[][] rows = new float[6][64];
        SplittableRandom rng = new SplittableRandom(7);
        for (float[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                row[i] = (float) rng.nextGaussian() * 3;
            }
        }
        // row 4: exact halfway cases for Q8_0 (d = 1, so x * id = x) that Math.round would round up
        rows[4][0] = 127;
        for (int i = 1; i < 32; i++) {
            rows[4][i] = (i % 2 == 0 ? -1 : 1) * (i / 2 + 0.5f);
        }
        // row 5: an all-zero block (d = 0), then tiny and F16-rounding-boundary values
        Arrays.fill(rows[5], 0, 32, 0f);
        for (int i = 32; i < 64; i++) {
            rows[5][i] = (float) ((1 + (i - 32) / 2048.0) * Math.pow(2, i % 5 - 2)) * (i % 3 == 0 ? -1 : 1);
        }
        rows[5][40] = 1e-8f; // F16 subnormal range
        rows[5][41] = 70000f; // F16 overflow: infinity

        GgufWriter w = new GgufWriter();
        for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0}) {
            w.addTensor("t." + t, t, new long[] {64, 3, 2}, (r, out) -> System.arraycopy(rows[(int) r], 0, out, 0, 64));
        }
        Path file = tmp.resolve("tensors.gguf");
        w.write(file);

        try (GgufFile f = GgufFile.open(file)) {
            for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0}) {
                TensorInfo info = f.tensor("t." + t);
                assertEquals(t, info.type());
                assertArrayEquals(new long[] {64, 3, 2}, info.shape());
                assertEquals(6, info.rows());
                assertEquals(6 * t.rowBytes(64), info.byteSize());
                assertEquals(0, (f.dataStart() + info.offset()) % 32, "aligned");
                for (int r = 0; r < 6; r++) {
                    float[] expected = switch (t) {
                        case F32 -> rows[r];
                        case F16 -> {
                            float[] y = new float[64];
                            for (int i = 0; i < 64; i++) {
                                y[i] = Reference.roundTripHalf(rows[r][i]);
                            }
                            yield y;
                        }
                        default -> Reference.q8_0(rows[r]);
                    };
                    assertArrayEquals(expected, f.row(info.name(), r), 0f, t + " row " + r);
                }
            }
            // the raw Q8_0 bytes of the halfway row: d = 1.0 (f16 0x3C00), q = roundf(x) away from zero
            MemorySegment q = f.tensorData("t.Q8_0").asSlice(4 * GgmlType.Q8_0.rowBytes(64), 34);
            assertEquals((short) 0x3C00, q.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
            assertEquals(127, q.get(ValueLayout.JAVA_BYTE, 2));
            assertEquals(1, q.get(ValueLayout.JAVA_BYTE, 3)); // 0.5 -> 1
            assertEquals(-2, q.get(ValueLayout.JAVA_BYTE, 4)); // -1.5 -> -2
            assertEquals(2, q.get(ValueLayout.JAVA_BYTE, 5)); // 1.5 -> 2
            assertEquals(-3, q.get(ValueLayout.JAVA_BYTE, 6)); // -2.5 -> -3 (Math.round would give -2)
            assertThrows(IllegalArgumentException.class, () -> f.tensorData("t.F32").set(ValueLayout.JAVA_BYTE, 0, (byte) 1),
                    "tensor views are read-only");
        }
    }

    @Test
    void encodedRawAndCopiedTensorsAreWrittenVerbatim() {
        byte[] q4 = new byte[2 * GgmlType.Q4_K.typeSize()];
        new SplittableRandom(3).nextBytes(q4);
        float[] big = new float[300_000]; // one row larger than the writer's 1 MiB buffer
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.5f;
        }
        Path a = tmp.resolve("a.gguf");
        new GgufWriter()
                .put("general.alignment", GgufValue.ofUint32(64))
                .addRawTensor("raw.q4k", GgmlType.Q4_K, new long[] {256, 2}, MemorySegment.ofArray(q4))
                .addEncodedTensor("enc.i32", GgmlType.I32, new long[] {3, 2}, (r, out) -> {
                    for (int i = 0; i < 3; i++) {
                        out.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (int) (10 * r + i));
                    }
                })
                .addTensor("big", GgmlType.F32, new long[] {big.length}, (r, out) -> System.arraycopy(big, 0, out, 0, big.length))
                .write(a);
        Path b = tmp.resolve("b.gguf");
        try (GgufFile f = GgufFile.open(a)) {
            assertEquals(64, f.alignment());
            for (TensorInfo t : f.tensors().values()) {
                assertEquals(0, (f.dataStart() + t.offset()) % 64, t.name());
            }
            assertArrayEquals(q4, f.tensorData("raw.q4k").toArray(ValueLayout.JAVA_BYTE));
            int[] ints = f.tensorData("enc.i32").toArray(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            assertArrayEquals(new int[] {0, 1, 2, 10, 11, 12}, ints);
            assertArrayEquals(big, f.row("big", 0));

            GgufWriter copy = new GgufWriter();
            f.metadata().forEach(copy::put);
            f.tensors().keySet().forEach(name -> copy.copyTensor(f, name));
            copy.write(b);
        }
        assertEquals(List.of(), differences(a, b), "metadata and tensors copied through unchanged, alignment included");
    }

    @Test
    void theWriterRefusesWhatItCannotWriteCorrectly() {
        GgufWriter w = new GgufWriter().addTensor("x", GgmlType.F32, new long[] {4}, (r, v) -> { });
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x", GgmlType.F32, new long[] {4}, (r, v) -> { }), "duplicate");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("", GgmlType.F32, new long[] {4}, (r, v) -> { }), "empty name");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("n".repeat(64), GgmlType.F32, new long[] {4}, (r, v) -> { }),
                "name longer than GGML_MAX_NAME - 1");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("y", GgmlType.Q8_0, new long[] {33}, (r, v) -> { }), "partial block");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("y", GgmlType.Q4_0, new long[] {32}, (r, v) -> { }), "no Q4_0 encoder");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("y", GgmlType.F32, new long[] {0}, (r, v) -> { }), "zero dimension");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("y", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, (r, v) -> { }), "5 dims");
        assertThrows(IllegalArgumentException.class, () -> w.addRawTensor("y", GgmlType.F32, new long[] {4}, MemorySegment.ofArray(new byte[15])));
        assertThrows(IllegalArgumentException.class, () -> w.put("general.alignment", GgufValue.ofUint32(48)));
        assertThrows(IllegalArgumentException.class, () -> w.put("general.alignment", GgufValue.ofUint64(64)), "llama.cpp reads it as UINT32");
        assertThrows(IllegalArgumentException.class, () -> w.put("", GgufValue.ofBool(true)));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.ofUint8(256));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.ofArray(GgufValueType.INT8, new long[] {128}));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.ofArray(GgufValueType.FLOAT32, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.of(GgufValueType.STRING, 3));

        Path p = tmp.resolve("once.gguf");
        w.write(p);
        assertThrows(IllegalStateException.class, () -> w.write(p), "row sources are consumed by the first write");
    }

    @Test
    void aFailingSourceLeavesNoFileBehind() throws Exception {
        Path p = tmp.resolve("failed.gguf");
        GgufWriter w = new GgufWriter().addTensor("x", GgmlType.F32, new long[] {4, 3}, (r, v) -> {
            if (r == 2) {
                throw new IllegalStateException("source failed");
            }
        });
        assertThrows(IllegalStateException.class, () -> w.write(p));
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(), files.toList(), "neither the target nor the .part file");
        }
    }

    /** Byte ranges where two files differ, as "offset" strings (empty: identical). */
    static List<String> differences(Path a, Path b) {
        try {
            byte[] x = Files.readAllBytes(a);
            byte[] y = Files.readAllBytes(b);
            if (x.length != y.length) {
                return List.of("sizes " + x.length + " and " + y.length);
            }
            int i = Arrays.mismatch(x, y);
            return i < 0 ? List.of() : List.of("first difference at offset " + i);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Little-endian field writer for hand-built files. */
    static final class Le {
        private final ByteArrayOutputStream out;

        Le(ByteArrayOutputStream out) {
            this.out = out;
        }

        private Le put(int bytes, long v) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
            out.write(b.array(), 0, bytes);
            return this;
        }

        Le i16(int v) {
            return put(2, v);
        }

        Le i32(int v) {
            return put(4, v);
        }

        Le i64(long v) {
            return put(8, v);
        }

        Le f32(float v) {
            return put(4, Float.floatToRawIntBits(v));
        }

        Le str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            out.write(b, 0, b.length);
            return this;
        }

        Le padTo(int alignment) {
            while (out.size() % alignment != 0) {
                out.write(0);
            }
            return this;
        }
    }
}
