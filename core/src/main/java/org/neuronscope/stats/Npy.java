package org.neuronscope.stats;

import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** numpy's .npy format (version 1.0), little-endian float64 and int64 arrays in C order. */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern HEADER = Pattern.compile("'descr':\\s*'([<>|][a-z][0-9]+)'.*'fortran_order':\\s*(True|False).*'shape':\\s*\\(([0-9, ]*)\\)");

    private Npy() {
    }

    /** An array read from a .npy file. */
    public record Array(String dtype, long[] shape, ByteBuffer data) {
        public long elements() {
            return Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        }
    }

    public static byte[] encode(String dtype, long[] shape, ByteBuffer data) {
        StringBuilder dims = new StringBuilder();
        for (long d : shape) {
            dims.append(d).append(", ");
        }
        String shapeText = shape.length == 1 ? "(" + shape[0] + ",)" : "(" + dims.substring(0, Math.max(0, dims.length() - 2)) + ")";
        String dict = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': " + shapeText + ", }";
        int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
        int padding = (64 - unpadded % 64) % 64;
        String header = dict + " ".repeat(padding) + "\n";
        ByteBuffer out = ByteBuffer.allocate(MAGIC.length + 4 + header.length() + data.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        out.put(data.duplicate());
        return out.array();
    }

    public static void writeDoubles(Path file, long[] shape, double[] values) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(values);
        Files.write(file, encode("<f8", shape, b));
    }

    public static void writeLongs(Path file, long[] shape, long[] values) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        Files.write(file, encode("<i8", shape, b));
    }

    public static Array read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 10 || !Arrays.equals(Arrays.copyOf(bytes, 6), MAGIC)) {
            throw new NeuronScopeException(file + " is not a .npy file");
        }
        int major = bytes[6];
        int headerLength = major == 1 ? Short.toUnsignedInt(b.getShort(8)) : b.getInt(8);
        int headerStart = major == 1 ? 10 : 12;
        if (headerStart + headerLength > bytes.length) {
            throw new NeuronScopeException(file + ": truncated .npy header");
        }
        String header = new String(bytes, headerStart, headerLength, StandardCharsets.US_ASCII);
        Matcher m = HEADER.matcher(header);
        if (!m.find()) {
            throw new NeuronScopeException(file + ": unreadable .npy header: " + header.strip());
        }
        if (m.group(2).equals("True")) {
            throw new NeuronScopeException(file + ": Fortran-order arrays are not supported");
        }
        long[] shape = Arrays.stream(m.group(3).split(",")).map(String::strip).filter(s -> !s.isEmpty()).mapToLong(Long::parseLong).toArray();
        ByteBuffer data = ByteBuffer.wrap(bytes, headerStart + headerLength, bytes.length - headerStart - headerLength).slice().order(ByteOrder.LITTLE_ENDIAN);
        Array a = new Array(m.group(1), shape, data);
        if (a.elements() * 8 != data.remaining()) {
            throw new NeuronScopeException(file + ": " + data.remaining() + " data bytes for shape " + Arrays.toString(shape));
        }
        return a;
    }

    public static double[] readDoubles(Path file, long[] expectedShape) throws IOException {
        Array a = read(file);
        if (!a.dtype().equals("<f8") || !Arrays.equals(a.shape(), expectedShape)) {
            throw new NeuronScopeException(file + ": expected float64 " + Arrays.toString(expectedShape) + ", found " + a.dtype() + " " + Arrays.toString(a.shape()));
        }
        double[] v = new double[(int) a.elements()];
        a.data().asDoubleBuffer().get(v);
        return v;
    }

    public static long[] readLongs(Path file, long[] expectedShape) throws IOException {
        Array a = read(file);
        if (!a.dtype().equals("<i8") || !Arrays.equals(a.shape(), expectedShape)) {
            throw new NeuronScopeException(file + ": expected int64 " + Arrays.toString(expectedShape) + ", found " + a.dtype() + " " + Arrays.toString(a.shape()));
        }
        long[] v = new long[(int) a.elements()];
        a.data().asLongBuffer().get(v);
        return v;
    }
}
