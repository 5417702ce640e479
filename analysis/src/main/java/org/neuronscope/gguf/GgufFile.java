package org.neuronscope.gguf;

import java.io.UncheckedIOException;
import org.neuronscope.NeuronScopeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A GGUF file (version 2 or 3), memory-mapped and validated completely when opened: header, every
 * metadata value, every tensor description and the placement of every tensor's data. The checks are
 * those of llama.cpp's {@code gguf_init_from_file} and model loader (plus a few stricter ones: UTF-8
 * strings, bool bytes 0 or 1, positive dimensions), so a file llama.cpp would reject, or read past the
 * end of, fails here first with a {@link GgufFormatException} that names the problem and its offset.
 * The one thing accepted here that llama.cpp rejects is an array of arrays, which the GGUF
 * specification allows.
 *
 * <p>Nothing is allocated in proportion to a count before the bytes behind it are known to exist,
 * so a corrupt count cannot exhaust memory. Tensor data is never copied: {@link #tensorData(String)}
 * is a view into the mapping, valid until {@link #close()}. The instance owns the mapping; it may be
 * read from several threads.
 */
public final class GgufFile implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GgufFile.class);

    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian int
    static final int DEFAULT_ALIGNMENT = 32; // GGUF_DEFAULT_ALIGNMENT
    static final int MAX_DIMS = 4; // GGML_MAX_DIMS
    /** GGML_MAX_NAME: ggml stores names in a 64-byte buffer with a terminating zero. */
    static final int MAX_NAME_BYTES = 63;
    private static final int MAX_ARRAY_DEPTH = 8;
    private static final int HEADER_BYTES = 24; // magic, version, tensor count, metadata count
    /** Smallest tensor description: name length, n_dims, one dimension, type, offset. */
    private static final int MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
    /** Smallest metadata entry: key length, type, a one-byte value. */
    private static final int MIN_KV_BYTES = 8 + 4 + 1;

    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, GgufValue> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long alignment;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        Reader r = new Reader(file);
        long size = file.byteSize();
        if (size < HEADER_BYTES) {
            throw error("file of " + size + " bytes is too short for a GGUF header (" + HEADER_BYTES + " bytes)");
        }
        int magic = r.i32("magic");
        if (magic != MAGIC) {
            throw error(String.format("not a GGUF file: magic 0x%08x at offset 0, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        version = r.i32("version");
        if (version != 2 && version != 3) {
            throw error("unsupported GGUF version " + Integer.toUnsignedString(version) + " at offset 4 (2 and 3 are supported)");
        }
        long nTensors = r.i64("tensor count");
        long nKv = r.i64("metadata count");
        if (nTensors < 0 || nTensors > r.remaining() / MIN_TENSOR_INFO_BYTES) {
            throw error("tensor count " + Long.toUnsignedString(nTensors) + " at offset 8 cannot fit in the " + r.remaining()
                    + " bytes after the header");
        }
        if (nKv < 0 || nKv > r.remaining() / MIN_KV_BYTES) {
            throw error("metadata count " + Long.toUnsignedString(nKv) + " at offset 16 cannot fit in the " + r.remaining()
                    + " bytes after the header");
        }

        Map<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = r.pos;
            String key = r.string("key of metadata entry " + i);
            if (key.isEmpty()) {
                throw error("metadata entry " + i + " at offset " + at + " has an empty key");
            }
            if (kv.containsKey(key)) {
                throw error("duplicate metadata key '" + key + "' at offset " + at);
            }
            long typeAt = r.pos;
            long typeId = Integer.toUnsignedLong(r.i32("type of '" + key + "'"));
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) {
                throw error("metadata '" + key + "' has unknown value type " + typeId + " at offset " + typeAt);
            }
            kv.put(key, r.value(type, key, 0));
        }
        metadata = Collections.unmodifiableMap(kv);
        alignment = alignment(kv.get("general.alignment"));

        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            TensorInfo info = r.tensorInfo(i);
            if (infos.putIfAbsent(info.name(), info) != null) {
                throw error("duplicate tensor name '" + info.name() + "' (tensor " + i + ")");
            }
        }
        tensors = Collections.unmodifiableMap(infos);
        dataStart = align(r.pos, alignment);
        checkDataLayout();
        LOG.debug("{}: GGUF v{}, {} metadata entries, {} tensors, data at offset {}", path, version, kv.size(), infos.size(), dataStart);
    }

    private long alignment(GgufValue value) {
        if (value == null) {
            return DEFAULT_ALIGNMENT;
        }
        // llama.cpp insists on UINT32
        if (value.type() != GgufValueType.UINT32) {
            throw error("general.alignment must be of type UINT32, is " + value.type());
        }
        long a = value.asLong();
        if (a == 0 || (a & (a - 1)) != 0) {
            throw error("general.alignment " + a + " is not a non-zero power of two");
        }
        return a;
    }

    /**
     * Every tensor's data must be aligned, inside the file and apart from the others; and llama.cpp
     * requires more: tensors packed in file order, each at the aligned end of the one before.
     */
    private void checkDataLayout() {
        long size = file.byteSize();
        if (!tensors.isEmpty() && dataStart > size) {
            throw error("the data section would start at offset " + dataStart + " (aligned end of the tensor descriptions), past the end of the file (size "
                    + size + ")");
        }
        for (TensorInfo t : tensors.values()) {
            if (t.offset() % alignment != 0) {
                throw error("tensor '" + t.name() + "': data offset " + Long.toUnsignedString(t.offset()) + " is not a multiple of the alignment "
                        + alignment);
            }
            // an offset read as negative is above 2^63: past the end of any file
            if (t.offset() < 0 || t.offset() > size - dataStart || t.byteSize() > size - dataStart - t.offset()) {
                throw error("tensor '" + t.name() + "': data [offset " + Long.toUnsignedString(absolute(t)) + ", size " + t.byteSize() + "] ends past end of file (size "
                        + size + ")");
            }
        }
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo a = byOffset.get(i - 1);
            TensorInfo b = byOffset.get(i);
            if (b.offset() < a.offset() + a.byteSize()) {
                throw error("tensors '" + a.name() + "' [offset " + absolute(a) + ", size " + a.byteSize() + "] and '" + b.name() + "' [offset "
                        + absolute(b) + ", size " + b.byteSize() + "] overlap");
            }
        }
        long expected = 0;
        for (TensorInfo t : tensors.values()) {
            if (t.offset() != expected) {
                throw error("tensor '" + t.name() + "': data offset " + t.offset() + " in the data section, but llama.cpp requires tensors packed in file order: "
                        + "expected " + expected);
            }
            expected = align(expected + t.byteSize(), alignment);
        }
    }

    private long absolute(TensorInfo t) {
        return dataStart + t.offset();
    }

    /** Opens and validates a GGUF file; throws {@link GgufFormatException} naming the first problem found. */
    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            // mapping zero bytes is not allowed everywhere; an empty file fails validation anyway
            MemorySegment seg = size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new GgufFile(path, arena, seg);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot read " + path + ": " + e, e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Validates a file completely; throws {@link GgufFormatException} naming the first problem found. */
    public static void validate(Path path) {
        try (GgufFile ignored = open(path)) {
            // opening checks everything
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    /** Alignment of tensor data: {@code general.alignment}, or 32. */
    public long alignment() {
        return alignment;
    }

    /** Offset of the data section in the file; tensor offsets are relative to it. */
    public long dataStart() {
        return dataStart;
    }

    public long fileSize() {
        return file.byteSize();
    }

    // ---- metadata

    /** All metadata in file order, unmodifiable. */
    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    public Set<String> keys() {
        return metadata.keySet();
    }

    public boolean containsKey(String key) {
        return metadata.containsKey(key);
    }

    public Optional<GgufValue> value(String key) {
        return Optional.ofNullable(metadata.get(key));
    }

    /** {@code general.architecture}. */
    public String architecture() {
        return getString("general.architecture");
    }

    public String getString(String key) {
        GgufValue v = require(key);
        return typed(key, v, GgufValueType.STRING == v.type(), "a string", v::asString);
    }

    /** An integer of any integer type, as a long; a UINT64 above {@link Long#MAX_VALUE} throws. */
    public long getLong(String key) {
        GgufValue v = require(key);
        return typed(key, v, v.type().isInteger(), "an integer", v::asLong);
    }

    /** An integer of any integer type that fits an int. */
    public int getInt(String key) {
        long v = getLong(key);
        if (v != (int) v) {
            throw new GgufFormatException("metadata '" + key + "' = " + v + " does not fit an int");
        }
        return (int) v;
    }

    /** A FLOAT32 or FLOAT64 value as a float. */
    public float getFloat(String key) {
        return (float) getDouble(key);
    }

    /** A FLOAT32 or FLOAT64 value. */
    public double getDouble(String key) {
        GgufValue v = require(key);
        return typed(key, v, v.type().isFloat(), "a float", v::asDouble);
    }

    public boolean getBoolean(String key) {
        GgufValue v = require(key);
        return typed(key, v, v.type() == GgufValueType.BOOL, "a bool", v::asBoolean);
    }

    /** An array of strings (a copy). */
    public String[] getStringArray(String key) {
        GgufValue v = getArray(key);
        return typed(key, v, v.elementType() == GgufValueType.STRING, "an array of strings", v::asStringArray);
    }

    /** An array of any integer element type (a copy). */
    public long[] getLongArray(String key) {
        GgufValue v = getArray(key);
        return typed(key, v, v.elementType().isInteger(), "an array of integers", v::asLongArray);
    }

    /** An array of FLOAT32 or FLOAT64 (a copy, as floats). */
    public float[] getFloatArray(String key) {
        GgufValue v = getArray(key);
        return typed(key, v, v.elementType().isFloat(), "an array of floats", v::asFloatArray);
    }

    /** An array value of any element type. */
    public GgufValue getArray(String key) {
        GgufValue v = require(key);
        return typed(key, v, v.isArray(), "an array", () -> v);
    }

    private <T> T typed(String key, GgufValue v, boolean ok, String expected, Supplier<T> get) {
        if (!ok) {
            throw new GgufFormatException("metadata '" + key + "' in " + path.getFileName() + " is " + v + ", not " + expected);
        }
        try {
            return get.get();
        } catch (IllegalStateException e) {
            throw new GgufFormatException("metadata '" + key + "' in " + path.getFileName() + ": " + e.getMessage(), e);
        }
    }

    private GgufValue require(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) {
            throw new GgufFormatException("metadata '" + key + "' is missing in " + path.getFileName());
        }
        return v;
    }

    // ---- tensors

    /** All tensors in file order, unmodifiable. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public boolean containsTensor(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new GgufFormatException("no tensor '" + name + "' in " + path.getFileName());
        }
        return t;
    }

    /** The tensor's encoded data: a read-only view into the mapped file (no copy), valid until {@link #close()}. */
    public MemorySegment tensorData(String name) {
        TensorInfo t = tensor(name);
        return file.asSlice(dataStart + t.offset(), t.byteSize()).asReadOnly();
    }

    /** Decodes one ggml row (index over all dimensions but the first) of an F32, F16, BF16 or Q8_0 tensor. */
    public float[] row(String name, long row) {
        TensorInfo t = tensor(name);
        if (row < 0 || row >= t.rows()) {
            throw new IndexOutOfBoundsException("row " + row + " of tensor '" + name + "' (" + t.rows() + " rows)");
        }
        if (t.rowLength() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor '" + name + "' has rows too long for a float[]");
        }
        float[] out = new float[(int) t.rowLength()];
        Quantization.decodeRow(t.type(), tensorData(name).asSlice(row * t.rowBytes(), t.rowBytes()), out);
        return out;
    }

    /** Unmaps the file; views from {@link #tensorData(String)} become unusable. Idempotent. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    private GgufFormatException error(String message) {
        return new GgufFormatException(path.getFileName() + ": " + message);
    }

    static long align(long offset, long alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    /** A bounds-checked little-endian cursor over the file; every read checks the bytes exist first. */
    private final class Reader {
        private final MemorySegment seg;
        private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        long pos;

        Reader(MemorySegment seg) {
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        private void need(long n, String what) {
            if (n > remaining()) {
                throw error("truncated: " + what + " needs " + n + " bytes at offset " + pos + ", but the file ends at " + seg.byteSize());
            }
        }

        int i32(String what) {
            need(4, what);
            int v = seg.get(I32, pos);
            pos += 4;
            return v;
        }

        long i64(String what) {
            need(8, what);
            long v = seg.get(I64, pos);
            pos += 8;
            return v;
        }

        String string(String what) {
            long lengthAt = pos;
            long len = i64("length of " + what);
            if (len < 0 || len > remaining()) {
                throw error((len < 0 ? "corrupt" : "truncated") + ": " + what + " claims " + Long.toUnsignedString(len) + " bytes at offset "
                        + lengthAt + ", but only " + remaining() + " remain");
            }
            if (len > Integer.MAX_VALUE - 8) {
                throw error(what + " at offset " + lengthAt + " is " + len + " bytes long, too long for a string");
            }
            ByteBuffer bytes = seg.asSlice(pos, len).asByteBuffer();
            try {
                String s = utf8.decode(bytes).toString();
                pos += len;
                return s;
            } catch (CharacterCodingException e) {
                throw error(what + " at offset " + pos + " is not valid UTF-8");
            }
        }

        GgufValue value(GgufValueType type, String key, int depth) {
            String what = "value of '" + key + "'";
            if (type.isFixedSize()) {
                need(type.minSize(), what);
            }
            long at = pos;
            GgufValue v = switch (type) {
                case UINT8 -> GgufValue.of(type, Byte.toUnsignedLong(seg.get(ValueLayout.JAVA_BYTE, at)));
                case INT8 -> GgufValue.of(type, (long) seg.get(ValueLayout.JAVA_BYTE, at));
                case UINT16 -> GgufValue.of(type, Short.toUnsignedLong(seg.get(I16, at)));
                case INT16 -> GgufValue.of(type, (long) seg.get(I16, at));
                case UINT32 -> GgufValue.of(type, Integer.toUnsignedLong(seg.get(I32, at)));
                case INT32 -> GgufValue.of(type, (long) seg.get(I32, at));
                case UINT64, INT64 -> GgufValue.of(type, seg.get(I64, at));
                case FLOAT32 -> GgufValue.of(type, seg.get(F32, at));
                case FLOAT64 -> GgufValue.of(type, seg.get(F64, at));
                case BOOL -> GgufValue.of(type, bool(key, at));
                case STRING -> GgufValue.ofString(string(what));
                case ARRAY -> array(key, depth);
            };
            if (type.isFixedSize()) {
                pos += type.minSize();
            }
            return v;
        }

        private boolean bool(String key, long at) {
            byte b = seg.get(ValueLayout.JAVA_BYTE, at);
            if (b != 0 && b != 1) {
                throw error("'" + key + "' holds a bool of value " + b + " at offset " + at + " (0 or 1 allowed)");
            }
            return b == 1;
        }

        private GgufValue array(String key, int depth) {
            if (depth >= MAX_ARRAY_DEPTH) {
                throw error("'" + key + "' nests arrays deeper than " + MAX_ARRAY_DEPTH + " at offset " + pos);
            }
            long typeAt = pos;
            long elemId = Integer.toUnsignedLong(i32("element type of array '" + key + "'"));
            GgufValueType elem = GgufValueType.byId(elemId);
            if (elem == null) {
                throw error("array '" + key + "' has unknown element type " + elemId + " at offset " + typeAt);
            }
            long countAt = pos;
            long n = i64("length of array '" + key + "'");
            // every element takes at least minSize bytes: a count the file cannot hold is rejected before allocating
            if (n < 0 || n > remaining() / elem.minSize() || n > Integer.MAX_VALUE - 8) {
                throw error("array '" + key + "' claims " + Long.toUnsignedString(n) + " elements of " + elem + " at offset " + countAt
                        + ", but only " + remaining() + " bytes remain");
            }
            int len = (int) n;
            long bytes = (long) len * elem.minSize();
            Object values = switch (elem) {
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = string("element " + i + " of '" + key + "'");
                    }
                    yield a;
                }
                case ARRAY -> {
                    GgufValue[] a = new GgufValue[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = array(key, depth + 1);
                    }
                    yield a;
                }
                case FLOAT32 -> seg.asSlice(pos, bytes).toArray(F32);
                case FLOAT64 -> seg.asSlice(pos, bytes).toArray(F64);
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = bool(key + "[" + i + "]", pos + i);
                    }
                    yield a;
                }
                default -> integers(elem, len);
            };
            if (elem.isFixedSize()) {
                pos += bytes;
            }
            return GgufValue.ownedArray(elem, values);
        }

        private long[] integers(GgufValueType elem, int len) {
            long[] a = new long[len];
            for (int i = 0; i < len; i++) {
                long at = pos + (long) i * elem.minSize();
                a[i] = switch (elem) {
                    case UINT8 -> Byte.toUnsignedLong(seg.get(ValueLayout.JAVA_BYTE, at));
                    case INT8 -> seg.get(ValueLayout.JAVA_BYTE, at);
                    case UINT16 -> Short.toUnsignedLong(seg.get(I16, at));
                    case INT16 -> seg.get(I16, at);
                    case UINT32 -> Integer.toUnsignedLong(seg.get(I32, at));
                    case INT32 -> seg.get(I32, at);
                    case UINT64, INT64 -> seg.get(I64, at);
                    default -> throw new IllegalStateException(elem.toString());
                };
            }
            return a;
        }

        TensorInfo tensorInfo(long index) {
            long at = pos;
            String name = string("name of tensor " + index);
            if (name.isEmpty()) {
                throw error("tensor " + index + " at offset " + at + " has an empty name");
            }
            long nameBytes = pos - at - 8;
            if (nameBytes > MAX_NAME_BYTES) {
                throw error("tensor " + index + " at offset " + at + ": name '" + name + "' is " + nameBytes + " bytes, ggml allows " + MAX_NAME_BYTES);
            }
            String what = "tensor '" + name + "'";
            long dimsAt = pos;
            int nDims = i32("dimension count of " + what);
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw error(what + " has " + Integer.toUnsignedString(nDims) + " dimensions at offset " + dimsAt + " (1 to " + MAX_DIMS + " allowed)");
            }
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                long dimAt = pos;
                shape[d] = i64("dimension " + d + " of " + what);
                if (shape[d] <= 0) {
                    throw error(what + " has dimension " + d + " = " + shape[d] + " at offset " + dimAt + " (must be positive)");
                }
                if (elements > Long.MAX_VALUE / shape[d]) {
                    throw error(what + " has more than 2^63 elements (shape overflows at dimension " + d + ")");
                }
                elements *= shape[d];
            }
            long typeAt = pos;
            long typeId = Integer.toUnsignedLong(i32("type of " + what));
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw error(what + " has unknown ggml type " + typeId + " at offset " + typeAt);
            }
            if (shape[0] % type.blockSize() != 0) {
                throw error(what + ": row length " + shape[0] + " is not a multiple of " + type + "'s block size " + type.blockSize());
            }
            long offset = i64("data offset of " + what);
            // bytes = rows * bytes per row; guard the multiplication before TensorInfo computes it
            long rowBytes = type.rowBytes(shape[0]);
            if (elements / shape[0] > Long.MAX_VALUE / rowBytes) {
                throw error(what + " has more than 2^63 bytes of data");
            }
            return new TensorInfo(name, type, shape, offset);
        }
    }
}
