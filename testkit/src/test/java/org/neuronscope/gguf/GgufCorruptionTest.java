package org.neuronscope.gguf;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Broken GGUF files, generated here, all fail with a {@link GgufFormatException} (never another
 * exception, never a large allocation): truncation anywhere, mutated header bytes, huge counts and
 * lengths, bad types, alignments, offsets, overlaps and layouts.
 */
class GgufCorruptionTest {
    @TempDir
    static Path tmp;
    static byte[] valid;
    static long dataStart;
    /** End of the last tensor's data; after it comes only padding, which may be cut. */
    static long dataEnd;
    /** Offsets where a section (header, key/value, tensor description, tensor data) begins or ends. */
    static final TreeSet<Long> boundaries = new TreeSet<>();
    /** Offset of the first tensor description. */
    static int firstTensor;

    @BeforeAll
    static void writeValidFile() throws IOException {
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putInt32Array("numbers", 1, 2, 3)
                .putStringArray("words", "ab", "cd")
                .putBool("flag", true)
                .put("nested", GgufValue.ofArray(GgufValueType.ARRAY, new GgufValue[] {GgufValue.ofFloat32Array(1f)}))
                .addTensor("a", GgmlType.F32, new long[] {32, 2}, (r, v) -> Arrays.fill(v, r))
                .addTensor("b", GgmlType.Q8_0, new long[] {64}, (r, v) -> Arrays.fill(v, 1f));
        Path p = tmp.resolve("valid.gguf");
        w.write(p);
        valid = Files.readAllBytes(p);
        try (GgufFile f = GgufFile.open(p)) {
            dataStart = f.dataStart();
            dataEnd = f.tensors().values().stream().mapToLong(t -> f.dataStart() + t.offset() + t.byteSize()).max().orElseThrow();
            boundaries.add(24L);
            for (TensorInfo t : f.tensors().values()) {
                boundaries.add(dataStart + t.offset());
                boundaries.add(dataStart + t.offset() + t.byteSize());
            }
        }
        // key/value and tensor description boundaries: where each key or tensor name's length field starts
        for (String s : List.of("general.architecture", "numbers", "words", "flag", "nested")) {
            boundaries.add((long) indexOf(s, 0) - 8);
        }
        int afterKvs = indexOf("nested", 0) + "nested".length() + 4 + 4 + 8 + 4 + 8 + 4; // type, ARRAY of 1 FLOAT32 array
        boundaries.add((long) afterKvs);
        firstTensor = afterKvs;
        boundaries.add((long) indexOf("b", afterKvs + 9) - 8);
        boundaries.add(dataStart);
    }

    /** Validates {@code bytes}; returns the GgufFormatException, or null if the file was accepted. Anything else fails. */
    private static GgufFormatException validate(byte[] bytes, String what) throws IOException {
        Path p = Files.write(tmp.resolve("broken.gguf"), bytes);
        try {
            GgufFile.validate(p);
            return null;
        } catch (GgufFormatException e) {
            assertTrue(e.getMessage().startsWith("broken.gguf: "), e.getMessage());
            return e;
        } catch (Throwable t) {
            throw new AssertionError(what + ": " + t + " instead of GgufFormatException", t);
        }
    }

    private static GgufFormatException assertRejected(byte[] bytes, String what) throws IOException {
        GgufFormatException e = validate(bytes, what);
        if (e == null) {
            fail(what + ": accepted");
        }
        return e;
    }

    private static void assertRejected(byte[] bytes, String what, String messagePart) throws IOException {
        String m = assertRejected(bytes, what).getMessage();
        assertTrue(m.contains(messagePart), what + ": message '" + m + "' should contain '" + messagePart + "'");
    }

    @Test
    void theValidFileAndItsUnpaddedFormAreAccepted() throws IOException {
        assertEquals(null, validate(valid, "valid"));
        assertEquals(null, validate(Arrays.copyOf(valid, (int) dataEnd), "cut after the last tensor's data"));
        assertTrue(boundaries.size() >= 10, "sections found: " + boundaries);
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        // every byte of the header, metadata and tensor descriptions, a sample of the data section
        for (int n = 0; n < dataEnd; n += n < dataStart + 8 ? 1 : 13) {
            assertRejected(Arrays.copyOf(valid, n), "truncated to " + n);
        }
        for (long b : boundaries) {
            for (long n = b - 1; n <= b + 1; n++) {
                if (n >= 0 && n < dataEnd) {
                    assertRejected(Arrays.copyOf(valid, (int) n), "truncated at section boundary " + b + " to " + n);
                }
            }
        }
        assertRejected(Arrays.copyOf(valid, (int) dataEnd - 1), "last byte of data missing", "ends past end of file");
    }

    @Test
    void mutatedHeaderBytesAreRejectedOrHarmless() throws IOException {
        // every byte before the data, set to values that make counts and lengths huge, negative or off by one
        int[] values = {0x00, 0xFF, 0x7F, 0x80, 0x01};
        int rejected = 0;
        for (int i = 0; i < dataStart; i++) {
            for (int v : values) {
                byte[] b = valid.clone();
                b[i] = (byte) (v == 0x01 ? b[i] + 1 : v);
                rejected += validate(b, "byte " + i + " set to " + v) != null ? 1 : 0;
            }
        }
        // and random multi-byte damage
        SplittableRandom rng = new SplittableRandom(11);
        for (int k = 0; k < 400; k++) {
            byte[] b = valid.clone();
            for (int j = rng.nextInt(1, 5); j > 0; j--) {
                b[rng.nextInt((int) dataStart)] = (byte) rng.nextInt(256);
            }
            rejected += validate(b, "random damage " + k) != null ? 1 : 0;
        }
        // most damage to structure is detected (padding and string contents may change harmlessly)
        assertTrue(rejected > dataStart * values.length / 2, rejected + " rejections");
    }

    private static byte[] withLong(int offset, long value) {
        byte[] b = valid.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(offset, value);
        return b;
    }

    private static byte[] withInt(int offset, int value) {
        byte[] b = valid.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
        return b;
    }

    private static int indexOf(String s, int from) {
        byte[] needle = s.getBytes(StandardCharsets.UTF_8);
        outer:
        for (int i = from; i < valid.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (valid[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError(s + " not found");
    }

    @Test
    void corruptHeadersAreRejected() throws IOException {
        assertRejected(withInt(0, 0x12345678), "bad magic", "not a GGUF file");
        assertRejected(withInt(4, 1), "version 1", "version 1");
        assertRejected(withInt(4, 4), "version 4", "version 4");
        assertRejected(withInt(4, 0x03000000), "byte-swapped version", "version");
        assertRejected(withLong(8, Long.MAX_VALUE), "huge tensor count", "tensor count");
        assertRejected(withLong(8, -1), "negative tensor count", "tensor count 18446744073709551615");
        assertRejected(withLong(16, 1L << 40), "huge metadata count", "metadata count");
        assertRejected(withLong(8, 3), "one tensor more than described");
        assertRejected(withLong(16, 6), "one metadata entry more than written");
    }

    @Test
    void corruptMetadataIsRejected() throws IOException {
        assertRejected(withLong(24, 1L << 50), "huge key length", "claims 1125899906842624 bytes at offset 24");
        assertRejected(withLong(24, -5), "negative key length");
        int key = indexOf("general.architecture", 0);
        int typeAt = key + "general.architecture".length();
        assertRejected(withInt(typeAt, 77), "unknown value type", "unknown value type 77");
        assertRejected(withLong(typeAt + 4, 1L << 45), "huge string value length");
        int numbers = indexOf("numbers", 0) + "numbers".length();
        assertRejected(withInt(numbers + 4, 123), "unknown array element type", "unknown element type 123");
        assertRejected(withLong(numbers + 8, 1L << 40), "huge array length", "array 'numbers' claims");
        assertRejected(withLong(numbers + 8, Integer.MAX_VALUE - 9), "array length just under the Java limit");
        int words = indexOf("words", 0) + "words".length();
        assertRejected(withLong(words + 16, 1L << 40), "huge string in array", "element 0 of 'words'");
        int flag = indexOf("flag", 0) + "flag".length();
        byte[] bool2 = valid.clone();
        bool2[flag + 4] = 2;
        assertRejected(bool2, "bool of value 2", "bool of value 2");
        int nested = indexOf("nested", 0) + "nested".length();
        assertRejected(withLong(nested + 8, 1L << 40), "huge outer array of arrays");
        assertRejected(withInt(nested + 16, 99), "unknown type inside an array of arrays", "unknown element type 99");
        byte[] badUtf8 = valid.clone();
        badUtf8[indexOf("llama", 0)] = (byte) 0xC3; // a lead byte followed by ASCII
        assertRejected(badUtf8, "invalid UTF-8", "not valid UTF-8");
    }

    @Test
    void corruptTensorDescriptionsAreRejected() throws IOException {
        int a = firstTensor + 8; // the first tensor's name
        // layout after the name: n_dims (4), dims (8 each), type (4), offset (8)
        assertRejected(withInt(a + 1, 0), "zero dimensions", "has 0 dimensions");
        assertRejected(withInt(a + 1, 5), "five dimensions", "has 5 dimensions");
        assertRejected(withInt(a + 1, -1), "n_dims 2^32-1", "has 4294967295 dimensions");
        assertRejected(withLong(a + 5, 0), "zero-length dimension", "dimension 0 = 0");
        assertRejected(withLong(a + 5, -32), "negative dimension", "dimension 0 = -32");
        assertRejected(withLong(a + 5, 1L << 40), "dimension past the file", "ends past end of file");
        assertRejected(withLong(a + 13, Long.MAX_VALUE / 2), "element count overflow", "more than 2^63 elements");
        assertRejected(withLong(a + 13, Long.MAX_VALUE / 64), "byte size overflow", "more than 2^63 bytes");
        for (int type : new int[] {4, 5, 31, 32, 33, 36, 37, 38, 43, 1000, -1}) { // removed, past the end, negative
            assertRejected(withInt(a + 21, type), "tensor type " + type, "unknown ggml type");
        }
        assertRejected(withInt(a + 21, GgmlType.Q4_K.id()), "row length not a multiple of the block", "not a multiple of Q4_K's block size 256");
        assertRejected(withLong(a + 25, 3), "misaligned offset", "not a multiple of the alignment 32");
        assertRejected(withLong(a + 25, 1L << 40), "offset past the end", "tensor 'a': data [offset");
        assertRejected(withLong(a + 25, -32), "offset above 2^63", "ends past end of file");
        int b = indexOf("b", a + 30);
        assertRejected(withLong(b + 1 + 4 + 8 + 4, 0), "tensor b overlapping a", "tensors 'a' [offset");
        byte[] dup = valid.clone();
        dup[b] = 'a';
        assertRejected(dup, "duplicate tensor name", "duplicate tensor name 'a'");
    }

    /** A file assembled field by field, for layouts the writer refuses to produce. */
    private static final class Raw {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final GgufRoundTripTest.Le le = new GgufRoundTripTest.Le(out);

        Raw(long tensors, long kvs) {
            le.i32(0x46554747).i32(3).i64(tensors).i64(kvs);
        }

        Raw kv(String key, int type, long value, int bytes) {
            le.str(key).i32(type);
            switch (bytes) {
                case 4 -> le.i32((int) value);
                case 8 -> le.i64(value);
                default -> throw new IllegalArgumentException();
            }
            return this;
        }

        Raw tensor(String name, long[] dims, int type, long offset) {
            le.str(name).i32(dims.length);
            for (long d : dims) {
                le.i64(d);
            }
            le.i32(type).i64(offset);
            return this;
        }

        byte[] data(int alignment, int bytes) {
            le.padTo(alignment);
            for (int i = 0; i < bytes; i++) {
                out.write(i);
            }
            return out.toByteArray();
        }
    }

    @Test
    void llamaCppsOwnRulesAreEnforced() throws IOException {
        long[] d32 = {32};
        // the hand-built file is itself valid
        assertEquals(null, validate(new Raw(2, 1).kv("general.alignment", 4, 64, 4)
                .tensor("x", d32, 0, 0).tensor("y", d32, 0, 128).data(64, 256), "valid hand-built file"));
        assertRejected(new Raw(0, 1).kv("", 4, 1, 4).data(1, 0), "empty key", "empty key");
        assertRejected(new Raw(0, 2).kv("k", 4, 1, 4).kv("k", 4, 1, 4).data(1, 0), "duplicate key", "duplicate metadata key 'k'");
        for (long alignment : new long[] {0, 3, 48}) {
            assertRejected(new Raw(1, 1).kv("general.alignment", 4, alignment, 4).tensor("x", d32, 0, 0).data(32, 128),
                    "alignment " + alignment, "general.alignment " + alignment + " is not a non-zero power of two");
        }
        assertRejected(new Raw(1, 1).kv("general.alignment", 10, 32, 8).tensor("x", d32, 0, 0).data(32, 128),
                "alignment as UINT64", "general.alignment must be of type UINT32");
        assertRejected(new Raw(1, 1).kv("general.alignment", 5, 32, 4).tensor("x", d32, 0, 0).data(32, 128),
                "alignment as INT32", "must be of type UINT32");
        assertRejected(new Raw(1, 0).tensor("n".repeat(64), d32, 0, 0).data(32, 128), "64-byte tensor name", "ggml allows 63");
        assertRejected(new Raw(1, 0).tensor("", d32, 0, 0).data(32, 128), "empty tensor name", "empty name");
        assertEquals(null, validate(new Raw(1, 0).tensor("n".repeat(63), d32, 0, 0).data(32, 128), "63-byte name"));
        assertRejected(new Raw(2, 0).tensor("x", d32, 0, 128).tensor("y", d32, 0, 0).data(32, 256),
                "tensors packed, but not in file order", "tensor 'x': data offset 128 in the data section");
        assertRejected(new Raw(2, 0).tensor("x", d32, 0, 0).tensor("y", d32, 0, 160).data(32, 320),
                "a gap between tensors", "tensor 'y': data offset 160 in the data section, but llama.cpp requires tensors packed in file order: expected 128");
        assertRejected(new Raw(2, 0).tensor("blk.3.ffn_up.weight", new long[] {32, 4}, 0, 0).tensor("z", d32, 0, 512).data(32, 600),
                "a tensor's data past the end of the file", "tensor 'z': data [offset ");
        assertRejected(new Raw(1, 0).tensor("blk.3.ffn_up.weight", new long[] {32, 4}, 0, 0).data(32, 400),
                "the example message", "tensor 'blk.3.ffn_up.weight': data [offset 96, size 512] ends past end of file (size 496)");
        assertRejected(new Raw(1, 0).tensor("x", d32, 0, 0).out.toByteArray(), "no room for the data section", "data section would start");
        // arrays of arrays nested deeper than the reader allows
        Raw deep = new Raw(0, 1);
        deep.le.str("deep").i32(9);
        for (int i = 0; i < 20; i++) {
            deep.le.i32(9).i64(1);
        }
        deep.le.i32(4).i64(0);
        assertRejected(deep.data(1, 0), "arrays nested 20 deep", "nests arrays deeper than 8");
    }

    @Test
    void hugeClaimsAllocateNothingInProportion() throws IOException {
        var threads = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported(),
                "per-thread allocation counting unsupported");
        var counter = (com.sun.management.ThreadMXBean) threads;
        int numbers = indexOf("numbers", 0) + "numbers".length();
        int words = indexOf("words", 0) + "words".length();
        List<byte[]> files = new ArrayList<>(List.of(withLong(16, (1L << 62)), withLong(24, 1L << 62), withLong(numbers + 8, Integer.MAX_VALUE - 9),
                withLong(words + 8, Integer.MAX_VALUE - 9), withLong(words + 16, Integer.MAX_VALUE - 9)));
        for (byte[] f : files) {
            Path p = Files.write(tmp.resolve("huge.gguf"), f);
            long before = counter.getThreadAllocatedBytes(Thread.currentThread().threadId());
            try {
                GgufFile.validate(p);
                fail("accepted");
            } catch (GgufFormatException expected) {
                long allocated = counter.getThreadAllocatedBytes(Thread.currentThread().threadId()) - before;
                assertTrue(allocated < 4 << 20, allocated + " bytes allocated to reject: " + expected.getMessage());
            }
        }
    }
}
