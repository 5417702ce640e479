package org.neuronscope.stats;

import org.neuronscope.FormatException;

import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * numpy's {@code .npy} format: writes version 1.0 (magic {@code \x93NUMPY}, bytes 1 0, a little-endian
 * uint16 header length, an ASCII dict {@code {'descr': '<f8', 'fortran_order': False, 'shape': (L, G, N), }}
 * padded with spaces and a newline to a multiple of 64 bytes, then the raw little-endian data in C
 * order); reads versions 1.0, 2.0 and 3.0 of little-endian float64 ({@code <f8}) and int64
 * ({@code <i8}) arrays. {@code numpy.load} reads what this writes.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([<>|=]?[a-zA-Z][0-9]*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([0-9, ]*)\\)");
    private static final ValueLayout.OfDouble F8 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I8 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Npy() {
    }

    /** An array's header: dtype (e.g. {@code <f8}), shape, and where the data starts in the file. */
    public record Header(String dtype, long[] shape, long dataOffset) {
        public long elements() {
            return Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        }
    }

    /** The version 1.0 header of an array, padded so that the data starts at a multiple of 64. */
    public static byte[] header(String dtype, long[] shape) {
        StringBuilder dims = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            dims.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        String shapeText = shape.length == 1 ? "(" + shape[0] + ",)" : "(" + dims + ")";
        String dict = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': " + shapeText + ", }";
        int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
        int padding = (64 - unpadded % 64) % 64;
        String text = dict + " ".repeat(padding) + "\n";
        if (text.length() > 0xFFFF) {
            throw new IllegalArgumentException("a .npy 1.0 header cannot hold shape " + Arrays.toString(shape));
        }
        ByteBuffer out = ByteBuffer.allocate(MAGIC.length + 4 + text.length()).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) text.length()).put(text.getBytes(StandardCharsets.US_ASCII));
        return out.array();
    }

    /** Writes float64 values (a segment of native doubles, copied to little-endian) with the given shape. */
    public static void writeDoubles(Path file, long[] shape, MemorySegment values) throws IOException {
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        if (values.byteSize() != n * Double.BYTES) {
            throw new IllegalArgumentException(values.byteSize() + " bytes do not hold float64 " + Arrays.toString(shape));
        }
        write(file, header("<f8", shape), values, Double.BYTES);
    }

    public static void writeDoubles(Path file, long[] shape, double[] values) throws IOException {
        writeDoubles(file, shape, MemorySegment.ofArray(values));
    }

    public static void writeLongs(Path file, long[] shape, long[] values) throws IOException {
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        if (values.length != n) {
            throw new IllegalArgumentException(values.length + " values do not fill int64 " + Arrays.toString(shape));
        }
        write(file, header("<i8", shape), MemorySegment.ofArray(values), Long.BYTES);
    }

    private static void write(Path file, byte[] header, MemorySegment data, int elementSize) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(header));
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            MemorySegment bufSeg = MemorySegment.ofBuffer(buf);
            for (long pos = 0; pos < data.byteSize(); pos += buf.capacity()) {
                long chunk = Math.min(buf.capacity(), data.byteSize() - pos);
                // 8-byte elements: copying them as longs into little-endian order is exact for doubles too
                MemorySegment.copy(data, ValueLayout.JAVA_LONG_UNALIGNED, pos, bufSeg, I8, 0, chunk / elementSize);
                buf.clear().limit((int) chunk);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
            ch.force(true);
        }
    }

    /** Reads and checks the header of a .npy file. */
    public static Header readHeader(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException(file + " is missing");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            while (pre.hasRemaining() && ch.read(pre) > 0) {
                // fill
            }
            byte[] b = pre.array();
            if (pre.position() < 10 || !Arrays.equals(Arrays.copyOf(b, 6), MAGIC)) {
                throw new FormatException(file + " is not a .npy file (no \\x93NUMPY magic)");
            }
            int major = b[6];
            if (major < 1 || major > 3) {
                throw new FormatException(file + ": unsupported .npy version " + major + "." + b[7]);
            }
            long headerLength = major == 1 ? Short.toUnsignedInt(pre.getShort(8)) : Integer.toUnsignedLong(pre.getInt(8));
            int headerStart = major == 1 ? 10 : 12;
            if (headerStart + headerLength > ch.size()) {
                throw new FormatException(file + ": truncated .npy header");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLength);
            ch.position(headerStart);
            while (hb.hasRemaining() && ch.read(hb) > 0) {
                // fill
            }
            String header = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Matcher d = DESCR.matcher(header);
            Matcher f = FORTRAN.matcher(header);
            Matcher s = SHAPE.matcher(header);
            if (!d.find() || !f.find() || !s.find()) {
                throw new FormatException(file + ": unreadable .npy header: " + header.strip());
            }
            if (f.group(1).equals("True")) {
                throw new FormatException(file + ": Fortran-order arrays are not supported");
            }
            long[] shape = Arrays.stream(s.group(1).split(",")).map(String::strip).filter(x -> !x.isEmpty()).mapToLong(Long::parseLong).toArray();
            Header h = new Header(d.group(1), shape, headerStart + headerLength);
            long dataBytes = ch.size() - h.dataOffset();
            if (h.elements() * 8 != dataBytes) {
                throw new FormatException(file + ": " + dataBytes + " data bytes for " + h.dtype() + " " + Arrays.toString(shape)
                        + " (expected " + h.elements() * 8 + "): truncated or corrupt");
            }
            return h;
        }
    }

    private static Header expect(Path file, String dtype, long[] expectedShape) throws IOException {
        Header h = readHeader(file);
        if (!h.dtype().equals(dtype) || !Arrays.equals(h.shape(), expectedShape)) {
            throw new FormatException(file + ": expected " + dtype + " " + Arrays.toString(expectedShape) + ", found " + h.dtype() + " "
                    + Arrays.toString(h.shape()));
        }
        return h;
    }

    /** Reads a float64 array of exactly {@code expectedShape} into {@code target} (native doubles). */
    public static void readDoubles(Path file, long[] expectedShape, MemorySegment target) throws IOException {
        Header h = expect(file, "<f8", expectedShape);
        if (target.byteSize() != h.elements() * 8) {
            throw new IllegalArgumentException("target of " + target.byteSize() + " bytes for " + h.elements() + " doubles");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            MemorySegment bufSeg = MemorySegment.ofBuffer(buf);
            ch.position(h.dataOffset());
            long pos = 0;
            while (pos < target.byteSize()) {
                buf.clear().limit((int) Math.min(buf.capacity(), target.byteSize() - pos));
                while (buf.hasRemaining()) {
                    if (ch.read(buf) < 0) {
                        throw new FormatException(file + ": truncated data");
                    }
                }
                int chunk = buf.position();
                MemorySegment.copy(bufSeg, F8, 0, target, ValueLayout.JAVA_DOUBLE, pos, chunk / 8);
                pos += chunk;
            }
        }
    }

    public static double[] readDoubles(Path file, long[] expectedShape) throws IOException {
        long n = Arrays.stream(expectedShape).reduce(1, (a, b) -> a * b);
        double[] v = new double[Math.toIntExact(n)];
        readDoubles(file, expectedShape, MemorySegment.ofArray(v));
        return v;
    }

    public static long[] readLongs(Path file, long[] expectedShape) throws IOException {
        Header h = expect(file, "<i8", expectedShape);
        byte[] bytes = Files.readAllBytes(file);
        long[] v = new long[Math.toIntExact(h.elements())];
        MemorySegment.copy(MemorySegment.ofArray(bytes), I8, h.dataOffset(), MemorySegment.ofArray(v), ValueLayout.JAVA_LONG, 0, v.length);
        return v;
    }
}
