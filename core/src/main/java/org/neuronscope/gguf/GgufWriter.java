package org.neuronscope.gguf;

import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file: metadata of any type, then tensors streamed row by row (F32, F16, Q8_0
 * from floats) or copied raw (any type), so a large model never needs to fit in memory. The file is
 * written beside the target and moved into place when complete.
 */
public final class GgufWriter {
    /** Produces the float values of one row of a tensor (row-major over all dimensions but the first). */
    @FunctionalInterface
    public interface RowSource {
        void row(long rowIndex, float[] out);
    }

    private record PendingTensor(TensorInfo info, RowSource rows, MemorySegment raw) {
    }

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Map<String, Boolean> names = new LinkedHashMap<>();
    private long alignment = GgufFile.DEFAULT_ALIGNMENT;
    private long nextOffset;

    public GgufWriter put(String key, GgufValue value) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("metadata key must not be empty");
        }
        if (key.equals("general.alignment")) {
            long a = (Long) value.value();
            if (a <= 0 || (a & (a - 1)) != 0) {
                throw new IllegalArgumentException("general.alignment must be a power of two, got " + a);
            }
            if (!tensors.isEmpty()) {
                throw new IllegalStateException("set general.alignment before adding tensors");
            }
            alignment = a;
        }
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValue.ofString(value));
    }

    public GgufWriter putUint32(String key, long value) {
        return put(key, GgufValue.ofUint32(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValue.ofFloat32(value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.ofBool(value));
    }

    /** Copies every metadata entry of {@code source} whose key starts with {@code prefix}. */
    public GgufWriter copyMetadata(GgufFile source, String prefix) {
        source.metadata().forEach((k, v) -> {
            if (k.startsWith(prefix) && !k.equals("general.alignment")) {
                put(k, v);
            }
        });
        return this;
    }

    /** Adds a tensor of {@code type} (F32, F16, Q8_0) whose rows {@code rows} produces. Shape in ggml order. */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, RowSource rows) {
        if (type != GgmlType.F32 && type != GgmlType.F16 && type != GgmlType.Q8_0) {
            throw new IllegalArgumentException("tensor '" + name + "': the writer encodes F32, F16 and Q8_0, not " + type);
        }
        return add(name, type, shape, rows, null);
    }

    /** Adds a tensor whose encoded bytes are given (any type; e.g. copied from another file). */
    public GgufWriter addRawTensor(String name, GgmlType type, long[] shape, MemorySegment data) {
        TensorInfo probe = new TensorInfo(name, type, shape, 0);
        if (data.byteSize() != probe.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.byteSize() + " bytes given, " + probe.byteSize() + " expected");
        }
        return add(name, type, shape, null, data);
    }

    private GgufWriter add(String name, GgmlType type, long[] shape, RowSource rows, MemorySegment raw) {
        if (names.put(name, true) != null) {
            throw new IllegalArgumentException("duplicate tensor '" + name + "'");
        }
        if (shape.length < 1 || shape.length > 4) {
            throw new IllegalArgumentException("tensor '" + name + "' must have 1 to 4 dimensions");
        }
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a non-positive dimension");
            }
        }
        if (shape[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': row length " + shape[0] + " is not a multiple of " + type.blockSize());
        }
        TensorInfo info = new TensorInfo(name, type, shape, nextOffset);
        nextOffset = GgufFile.align(nextOffset + info.byteSize(), alignment);
        tensors.add(new PendingTensor(info, rows, raw));
        return this;
    }

    /** Writes the file (atomically: to a temporary file beside it, then moved). */
    public void write(Path path) {
        Path tmp = path.resolveSibling(path.getFileName() + ".part");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            Out out = new Out(ch);
            out.i32(GgufFile.MAGIC);
            out.i32(3);
            out.i64(tensors.size());
            out.i64(metadata.size());
            for (var e : metadata.entrySet()) {
                out.string(e.getKey());
                out.i32(e.getValue().type().id());
                out.value(e.getValue());
            }
            for (PendingTensor t : tensors) {
                out.string(t.info.name());
                long[] shape = t.info.shape();
                out.i32(shape.length);
                for (long d : shape) {
                    out.i64(d);
                }
                out.i32(t.info.type().id());
                out.i64(t.info.offset());
            }
            out.padTo(alignment);
            long dataStart = out.position();
            for (PendingTensor t : tensors) {
                out.padToAbsolute(dataStart + t.info.offset());
                if (t.raw != null) {
                    out.flush();
                    ch.write(t.raw.asByteBuffer());
                    out.advance(t.raw.byteSize());
                } else {
                    float[] row = new float[(int) t.info.rowLength()];
                    long rows = t.info.rows();
                    for (long r = 0; r < rows; r++) {
                        t.rows.row(r, row);
                        out.row(t.info.type(), row);
                    }
                }
            }
            out.padTo(alignment);
            out.flush();
        } catch (IOException e) {
            throw new NeuronScopeException("cannot write " + path + ": " + e.getMessage(), e);
        }
        try {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new NeuronScopeException("cannot move " + tmp + " to " + path + ": " + e.getMessage(), e);
        }
    }

    /** A buffered little-endian writer that tracks its position. */
    private static final class Out {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long written;

        Out(FileChannel ch) {
            this.ch = ch;
        }

        long position() {
            return written + buf.position();
        }

        void ensure(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                written += ch.write(buf);
            }
            buf.clear();
        }

        void advance(long n) {
            written += n;
        }

        void i32(int v) throws IOException {
            ensure(4);
            buf.putInt(v);
        }

        void i64(long v) throws IOException {
            ensure(8);
            buf.putLong(v);
        }

        void bytes(byte[] b) throws IOException {
            if (b.length > buf.capacity()) {
                flush();
                written += ch.write(ByteBuffer.wrap(b));
                return;
            }
            ensure(b.length);
            buf.put(b);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            bytes(b);
        }

        void padTo(long alignment) throws IOException {
            padToAbsolute(GgufFile.align(position(), alignment));
        }

        void padToAbsolute(long target) throws IOException {
            while (position() < target) {
                ensure(1);
                buf.put((byte) 0);
            }
        }

        void row(GgmlType type, float[] row) throws IOException {
            int bytes = (int) type.rowBytes(row.length);
            if (bytes > buf.capacity()) {
                flush();
                ByteBuffer b = ByteBuffer.allocate(bytes);
                Quantization.encodeRow(type, row, b);
                b.flip();
                while (b.hasRemaining()) {
                    written += ch.write(b);
                }
                return;
            }
            ensure(bytes);
            Quantization.encodeRow(type, row, buf);
        }

        void value(GgufValue v) throws IOException {
            switch (v.type()) {
                case UINT8, INT8 -> { ensure(1); buf.put((byte) (long) (Long) v.value()); }
                case UINT16, INT16 -> { ensure(2); buf.putShort((short) (long) (Long) v.value()); }
                case UINT32, INT32 -> i32((int) (long) (Long) v.value());
                case UINT64, INT64 -> i64((Long) v.value());
                case FLOAT32 -> { ensure(4); buf.putFloat((Float) v.value()); }
                case FLOAT64 -> { ensure(8); buf.putDouble((Double) v.value()); }
                case BOOL -> { ensure(1); buf.put((byte) ((Boolean) v.value() ? 1 : 0)); }
                case STRING -> string((String) v.value());
                case ARRAY -> array(v);
            }
        }

        private void array(GgufValue v) throws IOException {
            i32(v.elementType().id());
            i64(v.length());
            switch (v.value()) {
                case String[] a -> { for (String s : a) string(s); }
                case float[] a -> { for (float f : a) { ensure(4); buf.putFloat(f); } }
                case double[] a -> { for (double d : a) { ensure(8); buf.putDouble(d); } }
                case boolean[] a -> { for (boolean b : a) { ensure(1); buf.put((byte) (b ? 1 : 0)); } }
                case long[] a -> { for (long l : a) value(GgufValue.of(v.elementType(), l)); }
                case GgufValue[] a -> { for (GgufValue inner : a) array(inner); }
                default -> throw new IllegalStateException("bad array value " + v);
            }
        }
    }
}
