package org.neuronscope.gguf;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.model.Model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Broken GGUF files, generated here from a valid one, all fail with a {@link GgufFormatException} in
 * Java, before llama.cpp ever sees them: truncations anywhere, flipped and huge counts, huge string
 * lengths, bad types, bad alignment, offsets out of the file, overlapping tensors.
 */
class GgufCorruptionTest {
    @TempDir
    static Path tmp;
    static byte[] valid;
    static long dataStart;
    /** End of the last tensor's data; after it comes only padding, which may be cut. */
    static long dataEnd;
    /** Offsets of the header fields of the first metadata entry and the first tensor description. */
    static int firstKeyLength = 24;

    @BeforeAll
    static void writeValidFile() throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.put("numbers", GgufValue.ofArray(GgufValueType.INT32, new long[] {1, 2, 3}));
        w.put("words", GgufValue.ofArray(GgufValueType.STRING, new String[] {"ab", "cd"}));
        w.addTensor("a", GgmlType.F32, new long[] {32, 2}, (r, v) -> Arrays.fill(v, r));
        w.addTensor("b", GgmlType.Q8_0, new long[] {64}, (r, v) -> Arrays.fill(v, 1f));
        Path p = tmp.resolve("valid.gguf");
        w.write(p);
        valid = Files.readAllBytes(p);
        try (GgufFile f = GgufFile.open(p)) {
            dataStart = f.dataStart();
            dataEnd = f.tensors().values().stream().mapToLong(t -> f.dataStart() + t.offset() + t.byteSize()).max().orElseThrow();
        }
    }

    private static void assertRejected(byte[] bytes, String what) throws IOException {
        Path p = Files.write(tmp.resolve("broken.gguf"), bytes);
        try {
            GgufFile.validate(p);
            fail(what + ": accepted");
        } catch (GgufFormatException e) {
            assertTrue(e.getMessage().startsWith("broken.gguf: "), e.getMessage());
        } catch (Throwable t) {
            throw new AssertionError(what + ": " + t + " instead of GgufFormatException", t);
        }
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        // every byte of the header and metadata, and a sample of the data section
        for (int n = 0; n < dataEnd; n += n < dataStart + 8 ? 1 : 13) {
            assertRejected(Arrays.copyOf(valid, n), "truncated to " + n);
        }
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
        assertRejected(withInt(0, 0x12345678), "bad magic");
        assertRejected(withInt(4, 1), "version 1");
        assertRejected(withInt(4, 99), "version 99");
        assertRejected(withLong(8, Long.MAX_VALUE), "huge tensor count");
        assertRejected(withLong(8, -1), "negative tensor count");
        assertRejected(withLong(16, 1L << 40), "huge metadata count");
        assertRejected(withLong(8, 3), "one tensor more than described");
        assertRejected(withLong(16, 4), "one metadata entry more than written");
    }

    @Test
    void corruptMetadataIsRejected() throws IOException {
        assertRejected(withLong(24, 1L << 50), "huge key length");
        assertRejected(withLong(24, -5), "negative key length");
        int key = indexOf("general.architecture", 0);
        int typeAt = key + "general.architecture".length();
        assertRejected(withInt(typeAt, 77), "unknown value type");
        assertRejected(withLong(typeAt + 4, 1L << 45), "huge string value length");
        int numbers = indexOf("numbers", 0) + "numbers".length();
        assertRejected(withInt(numbers + 4, 123), "unknown array element type");
        assertRejected(withLong(numbers + 8, 1L << 40), "huge array length");
        int words = indexOf("words", 0) + "words".length();
        assertRejected(withLong(words + 16, 1L << 40), "huge string in array");
    }

    @Test
    void corruptTensorDescriptionsAreRejected() throws IOException {
        int a = indexOf("a", indexOf("words", 0) + 30); // the tensor name after the metadata
        // layout after the name: n_dims (4), dims (8 each), type (4), offset (8)
        assertRejected(withInt(a + 1, 0), "zero dimensions");
        assertRejected(withInt(a + 1, 9), "nine dimensions");
        assertRejected(withLong(a + 5, 0), "zero-length dimension");
        assertRejected(withLong(a + 5, -32), "negative dimension");
        assertRejected(withLong(a + 5, 1L << 62), "dimension past the file");
        assertRejected(withLong(a + 13, Long.MAX_VALUE / 2), "element count overflow");
        assertRejected(withInt(a + 21, 1000), "unknown tensor type");
        assertRejected(withInt(a + 21, GgmlType.Q4_K.id()), "row length not a multiple of the block");
        assertRejected(withLong(a + 25, 3), "misaligned offset");
        assertRejected(withLong(a + 25, 1L << 40), "offset past the end");
        int b = indexOf("b", a + 30);
        assertRejected(withLong(b + 1 + 4 + 8 + 4, 0), "tensor b overlapping a");
        byte[] dup = valid.clone();
        dup[b] = 'a';
        assertRejected(dup, "duplicate tensor name");
    }

    @Test
    void badAlignmentIsRejected() throws IOException {
        for (long alignment : new long[] {0, 3, 48}) {
            GgufWriter w = new GgufWriter();
            w.put("general.alignment", GgufValue.ofUint32(32));
            w.addTensor("a", GgmlType.F32, new long[] {32}, (r, v) -> Arrays.fill(v, 1f));
            Path p = tmp.resolve("align.gguf");
            w.write(p);
            byte[] bytes = Files.readAllBytes(p);
            int at = -1;
            byte[] key = "general.alignment".getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < bytes.length && at < 0; i++) {
                if (Arrays.equals(Arrays.copyOfRange(bytes, i, i + key.length), key)) {
                    at = i + key.length + 4;
                }
            }
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(at, (int) alignment);
            Path q = Files.write(tmp.resolve("align-bad.gguf"), bytes);
            assertThrows(GgufFormatException.class, () -> GgufFile.validate(q), "alignment " + alignment);
        }
    }

    @Test
    void aBrokenFileNeverReachesLlamaCpp() throws IOException {
        Path p = Files.write(tmp.resolve("half.gguf"), Arrays.copyOf(valid, valid.length / 2));
        assertThrows(GgufFormatException.class, () -> Model.load(p));
        Path text = Files.writeString(tmp.resolve("notes.gguf"), "hello, I am not a model");
        assertThrows(GgufFormatException.class, () -> Model.load(text));
    }
}
