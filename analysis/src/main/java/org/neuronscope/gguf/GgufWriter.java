package org.neuronscope.gguf;

import java.io.UncheckedIOException;
import org.neuronscope.NeuronScopeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Writes a GGUF v3 file the way llama.cpp's {@code gguf_write_to_file} lays it out: header, metadata,
 * tensor descriptions, then the tensors packed in the order added, each at an aligned offset
 * ({@code general.alignment} if set, else 32).
 *
 * <p>Tensor data is pulled from sources one row at a time while the file is written, through a 1 MiB
 * buffer, so writing a large model needs memory for a row, not for the model. Sources: float rows,
 * encoded F32/F16/Q8_0 by {@link Quantization} exactly as ggml does ({@link #addTensor}); rows already
 * encoded in any ggml type ({@link #addEncodedTensor}); or a segment of encoded bytes, e.g. a tensor of
 * another open {@link GgufFile} ({@link #addRawTensor}, {@link #copyTensor}).
 *
 * <p>The file is written beside its target and moved into place when complete, so a failed write
 * never leaves a half-written model under the target's name. A writer writes once.
 */
public final class GgufWriter {
    private static final Logger LOG = LoggerFactory.getLogger(GgufWriter.class);
    private static final int BUFFER_BYTES = 1 << 20;
    /** Largest chunk handed to the channel at once when writing a raw segment. */
    private static final long RAW_CHUNK_BYTES = 1L << 30;

    /** Produces the values of one row of a tensor (ggml row: index over all dimensions but the first). */
    @FunctionalInterface
    public interface RowSource {
        void row(long rowIndex, float[] out);
    }

    /** Produces one row already encoded in the tensor's type: fills all of {@code out} ({@code rowBytes} bytes). */
    @FunctionalInterface
    public interface EncodedRowSource {
        void row(long rowIndex, MemorySegment out);
    }

    private record PendingTensor(String name, GgmlType type, long[] shape, EncodedRowSource rows, MemorySegment raw) {
        TensorInfo info(long offset) {
            return new TensorInfo(name, type, shape, offset);
        }
    }

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private boolean written;

    // ---- metadata

    /** Sets a metadata entry (replacing an earlier one of the same key, which keeps its position). */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(value, "value");
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("metadata key must not be empty");
        }
        if (key.equals("general.alignment")) {
            // llama.cpp reads it only as UINT32 and requires a power of two
            if (value.type() != GgufValueType.UINT32 || value.asLong() == 0 || (value.asLong() & (value.asLong() - 1)) != 0) {
                throw new IllegalArgumentException("general.alignment must be a UINT32 power of two, got " + value);
            }
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

    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValue.ofInt32(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValue.ofFloat32(value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.ofBool(value));
    }

    public GgufWriter putStringArray(String key, String... values) {
        return put(key, GgufValue.ofStringArray(values));
    }

    public GgufWriter putInt32Array(String key, int... values) {
        return put(key, GgufValue.ofInt32Array(values));
    }

    public GgufWriter putFloat32Array(String key, float... values) {
        return put(key, GgufValue.ofFloat32Array(values));
    }

    /**
     * Copies every metadata entry of {@code source} whose key starts with {@code prefix}, with its exact
     * type (e.g. {@code "tokenizer."} for a tokenizer). {@code general.alignment} is never copied: it
     * describes the source's layout, not this file's.
     */
    public GgufWriter copyMetadata(GgufFile source, String prefix) {
        return copyMetadata(source, k -> k.startsWith(prefix));
    }

    /** Copies every metadata entry of {@code source} whose key {@code keys} accepts (never {@code general.alignment}). */
    public GgufWriter copyMetadata(GgufFile source, Predicate<String> keys) {
        source.metadata().forEach((k, v) -> {
            if (keys.test(k) && !k.equals("general.alignment")) {
                put(k, v);
            }
        });
        return this;
    }

    public Map<String, GgufValue> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** The alignment the file will have: {@code general.alignment} if set, else 32. */
    public long alignment() {
        GgufValue a = metadata.get("general.alignment");
        return a == null ? GgufFile.DEFAULT_ALIGNMENT : a.asLong();
    }

    // ---- tensors

    /**
     * Adds a tensor of type F32, F16, BF16 or Q8_0 whose float rows {@code rows} produces, called once per
     * row in order while the file is written. Shape in ggml order (ne[0], the row length, first).
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, RowSource rows) {
        Objects.requireNonNull(rows, "rows");
        if (!Quantization.canEncode(type)) {
            throw new IllegalArgumentException("tensor '" + name + "': the writer encodes F32, F16 and Q8_0 from floats, not " + type);
        }
        checkTensor(name, type, shape);
        if (shape[0] > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + shape[0] + " elements do not fit a float[]");
        }
        float[] buffer = new float[(int) shape[0]];
        EncodedRowSource encoded = (r, out) -> {
            rows.row(r, buffer);
            Quantization.encodeRow(type, buffer, out);
        };
        tensors.add(new PendingTensor(name, type, shape.clone(), encoded, null));
        return this;
    }

    /** Adds a tensor of any ggml type whose encoded rows {@code rows} produces, once per row in order. */
    public GgufWriter addEncodedTensor(String name, GgmlType type, long[] shape, EncodedRowSource rows) {
        Objects.requireNonNull(rows, "rows");
        checkTensor(name, type, shape);
        tensors.add(new PendingTensor(name, type, shape.clone(), rows, null));
        return this;
    }

    /**
     * Adds a tensor whose encoded bytes are given (any type). The segment is read when the file is
     * written, so it must stay valid until then (a view of an open {@link GgufFile} is fine).
     */
    public GgufWriter addRawTensor(String name, GgmlType type, long[] shape, MemorySegment data) {
        checkTensor(name, type, shape);
        long expected = new TensorInfo(name, type, shape, 0).byteSize();
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.byteSize() + " bytes given, " + expected + " expected");
        }
        tensors.add(new PendingTensor(name, type, shape.clone(), null, data));
        return this;
    }

    /** Copies a tensor of {@code source} unchanged (source must stay open until {@link #write}). */
    public GgufWriter copyTensor(GgufFile source, String name) {
        TensorInfo t = source.tensor(name);
        return addRawTensor(name, t.type(), t.shape(), source.tensorData(name));
    }

    private void checkTensor(String name, GgmlType type, long[] shape) {
        Objects.requireNonNull(type, "type");
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("tensor name must not be empty");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > GgufFile.MAX_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' is longer than ggml's " + GgufFile.MAX_NAME_BYTES + " bytes");
        }
        if (names.contains(name)) {
            throw new IllegalArgumentException("duplicate tensor '" + name + "'");
        }
        if (shape.length < 1 || shape.length > GgufFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' must have 1 to " + GgufFile.MAX_DIMS + " dimensions, has " + shape.length);
        }
        long elements = 1;
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a non-positive dimension: " + Arrays.toString(shape));
            }
            elements = Math.multiplyExact(elements, d);
        }
        if (shape[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': row length " + shape[0] + " is not a multiple of " + type + "'s block size "
                    + type.blockSize());
        }
        Math.multiplyExact(elements / shape[0], type.rowBytes(shape[0])); // byte size must fit a long
        names.add(name);
    }

    // ---- output

    /** Writes the file: to {@code path}.part beside it, then moved into place. A writer writes once. */
    public void write(Path path) {
        if (written) {
            throw new IllegalStateException("this writer has already written its file (its row sources are consumed)");
        }
        written = true;
        Path tmp = path.resolveSibling(path.getFileName() + ".part");
        long size;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                size = writeTo(new Out(ch));
            }
            try {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new UncheckedIOException("cannot write " + path + ": " + e, e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp);
            throw e;
        }
        LOG.debug("wrote {}: {} metadata entries, {} tensors, {} bytes", path, metadata.size(), tensors.size(), size);
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the original failure is the one worth reporting
        }
    }

    private long writeTo(Out out) throws IOException {
        long alignment = alignment();
        List<TensorInfo> infos = new ArrayList<>();
        long offset = 0;
        for (PendingTensor t : tensors) {
            TensorInfo info = t.info(offset);
            infos.add(info);
            offset = GgufFile.align(offset + info.byteSize(), alignment);
        }
        out.i32(GgufFile.MAGIC);
        out.i32(3);
        out.i64(tensors.size());
        out.i64(metadata.size());
        for (var e : metadata.entrySet()) {
            out.string(e.getKey());
            out.i32(e.getValue().type().id());
            out.value(e.getValue());
        }
        for (TensorInfo info : infos) {
            out.string(info.name());
            long[] shape = info.shape();
            out.i32(shape.length);
            for (long d : shape) {
                out.i64(d);
            }
            out.i32(info.type().id());
            out.i64(info.offset());
        }
        out.padTo(alignment);
        long dataStart = out.position();
        for (int i = 0; i < infos.size(); i++) {
            TensorInfo info = infos.get(i);
            PendingTensor t = tensors.get(i);
            if (out.position() != dataStart + info.offset()) {
                throw new IllegalStateException("tensor '" + info.name() + "' would start at " + out.position() + ", not "
                        + (dataStart + info.offset()));
            }
            if (t.raw != null) {
                out.segment(t.raw);
            } else {
                for (long r = 0, rows = info.rows(); r < rows; r++) {
                    out.row(info.rowBytes(), r, t.rows);
                }
            }
            out.padTo(alignment);
        }
        out.flush();
        return out.position();
    }

    /** A buffered little-endian channel writer that tracks its position. */
    private static final class Out {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private final MemorySegment bufSegment = MemorySegment.ofBuffer(buf);
        private long flushed;

        Out(FileChannel ch) {
            this.ch = ch;
        }

        long position() {
            return flushed + buf.position();
        }

        private void ensure(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            drain(buf);
            buf.clear();
        }

        private void drain(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                flushed += ch.write(b);
            }
        }

        void i8(int v) throws IOException {
            ensure(1);
            buf.put((byte) v);
        }

        void i16(int v) throws IOException {
            ensure(2);
            buf.putShort((short) v);
        }

        void i32(int v) throws IOException {
            ensure(4);
            buf.putInt(v);
        }

        void i64(long v) throws IOException {
            ensure(8);
            buf.putLong(v);
        }

        void f32(float v) throws IOException {
            ensure(4);
            buf.putFloat(v);
        }

        void f64(double v) throws IOException {
            ensure(8);
            buf.putDouble(v);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            if (b.length > buf.capacity()) {
                flush();
                drain(ByteBuffer.wrap(b));
            } else {
                ensure(b.length);
                buf.put(b);
            }
        }

        void padTo(long alignment) throws IOException {
            long target = GgufFile.align(position(), alignment);
            while (position() < target) {
                i8(0);
            }
        }

        /** One row from a source: filled in place in the buffer, or in a buffer of its own when larger. */
        void row(long rowBytes, long index, EncodedRowSource source) throws IOException {
            if (rowBytes > buf.capacity()) {
                flush();
                ByteBuffer big = ByteBuffer.allocateDirect(Math.toIntExact(rowBytes));
                source.row(index, MemorySegment.ofBuffer(big));
                drain(big);
                return;
            }
            ensure((int) rowBytes);
            int at = buf.position();
            source.row(index, bufSegment.asSlice(at, rowBytes));
            buf.position(at + (int) rowBytes);
        }

        /** A segment of any size, written straight from its memory. */
        void segment(MemorySegment data) throws IOException {
            flush();
            for (long at = 0; at < data.byteSize(); at += RAW_CHUNK_BYTES) {
                drain(data.asSlice(at, Math.min(RAW_CHUNK_BYTES, data.byteSize() - at)).asByteBuffer());
            }
        }

        void value(GgufValue v) throws IOException {
            switch (v.type()) {
                case UINT8, INT8 -> i8((int) v.asLongBits());
                case UINT16, INT16 -> i16((int) v.asLongBits());
                case UINT32, INT32 -> i32((int) v.asLongBits());
                case UINT64, INT64 -> i64(v.asLongBits());
                case FLOAT32 -> f32((float) v.asDouble());
                case FLOAT64 -> f64(v.asDouble());
                case BOOL -> i8(v.asBoolean() ? 1 : 0);
                case STRING -> string(v.asString());
                case ARRAY -> array(v);
            }
        }

        private void array(GgufValue v) throws IOException {
            GgufValueType elem = v.elementType();
            i32(elem.id());
            i64(v.length());
            switch (v.raw()) {
                case String[] a -> {
                    for (String s : a) {
                        string(s);
                    }
                }
                case float[] a -> {
                    for (float f : a) {
                        f32(f);
                    }
                }
                case double[] a -> {
                    for (double d : a) {
                        f64(d);
                    }
                }
                case boolean[] a -> {
                    for (boolean b : a) {
                        i8(b ? 1 : 0);
                    }
                }
                case long[] a -> {
                    for (long l : a) {
                        switch (elem.minSize()) {
                            case 1 -> i8((int) l);
                            case 2 -> i16((int) l);
                            case 4 -> i32((int) l);
                            default -> i64(l);
                        }
                    }
                }
                case GgufValue[] a -> {
                    for (GgufValue inner : a) {
                        array(inner);
                    }
                }
                default -> throw new IllegalStateException("bad array value " + v);
            }
        }
    }
}
