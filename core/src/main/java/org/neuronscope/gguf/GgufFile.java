package org.neuronscope.gguf;

import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
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

/**
 * A GGUF file, memory-mapped and validated completely when opened: header, every metadata value,
 * every tensor description and the placement of every tensor's data. A file that opens is one
 * llama.cpp's loader can read without running off its end; anything else is a
 * {@link GgufFormatException} naming the problem and its offset.
 */
public final class GgufFile implements AutoCloseable {
    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final int DEFAULT_ALIGNMENT = 32;
    private static final int MAX_DIMS = 4;
    private static final int MAX_ARRAY_DEPTH = 8;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

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
        if (file.byteSize() < 24) {
            throw error("file of " + file.byteSize() + " bytes is too short for a GGUF header (24 bytes)");
        }
        int magic = r.i32("magic");
        if (magic != MAGIC) {
            throw error(String.format("not a GGUF file: magic 0x%08x at offset 0, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        version = r.i32("version");
        if (version != 2 && version != 3) {
            throw error("unsupported GGUF version " + version + " (2 and 3 are supported)");
        }
        long nTensors = r.i64("tensor count");
        long nKv = r.i64("metadata count");
        // each tensor description takes at least 8+4+8+4+8 bytes, each key/value at least 8+4+1
        if (nTensors < 0 || nTensors > r.remaining() / 32) {
            throw error("tensor count " + Long.toUnsignedString(nTensors) + " cannot fit in the file's " + r.remaining() + " remaining bytes");
        }
        if (nKv < 0 || nKv > r.remaining() / 13) {
            throw error("metadata count " + Long.toUnsignedString(nKv) + " cannot fit in the file's " + r.remaining() + " remaining bytes");
        }
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = r.pos;
            String key = r.string("key of metadata entry " + i);
            if (kv.containsKey(key)) {
                throw error("duplicate metadata key '" + key + "' at offset " + at);
            }
            long typeId = Integer.toUnsignedLong(r.i32("type of '" + key + "'"));
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) {
                throw error("metadata '" + key + "' has unknown value type " + typeId + " at offset " + (r.pos - 4));
            }
            kv.put(key, r.value(type, key, 0));
        }
        metadata = Collections.unmodifiableMap(kv);
        GgufValue align = kv.get("general.alignment");
        if (align != null) {
            if (!align.type().isInteger() || align.type() == GgufValueType.ARRAY) {
                throw error("general.alignment must be an integer, is " + align.type());
            }
            long a = (Long) align.value();
            if (a <= 0 || (a & (a - 1)) != 0 || a > (1 << 30)) {
                throw error("general.alignment " + a + " is not a positive power of two");
            }
            alignment = a;
        } else {
            alignment = DEFAULT_ALIGNMENT;
        }
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            String name = r.string("name of tensor " + i);
            if (infos.containsKey(name)) {
                throw error("duplicate tensor name '" + name + "'");
            }
            int nDims = r.i32("dimension count of tensor '" + name + "'");
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw error("tensor '" + name + "' has " + nDims + " dimensions (1 to " + MAX_DIMS + " allowed)");
            }
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                shape[d] = r.i64("dimension " + d + " of tensor '" + name + "'");
                if (shape[d] <= 0) {
                    throw error("tensor '" + name + "' has dimension " + d + " = " + shape[d] + " (must be positive)");
                }
                if (elements > Long.MAX_VALUE / shape[d]) {
                    throw error("tensor '" + name + "' has too many elements (overflow)");
                }
                elements *= shape[d];
            }
            long typeId = Integer.toUnsignedLong(r.i32("type of tensor '" + name + "'"));
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw error("tensor '" + name + "' has unknown ggml type " + typeId);
            }
            if (shape[0] % type.blockSize() != 0) {
                throw error("tensor '" + name + "': row length " + shape[0] + " is not a multiple of " + type + "'s block size " + type.blockSize());
            }
            long offset = r.i64("data offset of tensor '" + name + "'");
            if (offset < 0 || offset % alignment != 0) {
                throw error("tensor '" + name + "': data offset " + offset + " is not a multiple of the alignment " + alignment);
            }
            TensorInfo info = new TensorInfo(name, type, shape, offset);
            if (elements / shape[0] > Long.MAX_VALUE / Math.max(1, info.rowBytes())) {
                throw error("tensor '" + name + "' is too large (overflow)");
            }
            infos.put(name, info);
        }
        tensors = Collections.unmodifiableMap(infos);
        dataStart = align(r.pos, alignment);
        if (!tensors.isEmpty() && dataStart > file.byteSize()) {
            throw error("the data section would start at offset " + dataStart + ", past the end of the file (" + file.byteSize() + " bytes)");
        }
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
        long end = 0;
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            long start = dataStart + t.offset();
            long size = t.byteSize();
            if (start > file.byteSize() || size > file.byteSize() - start) {
                throw error("tensor '" + t.name() + "': data [offset " + start + ", size " + size + "] ends past the end of the file ("
                        + file.byteSize() + " bytes)");
            }
            if (previous != null && t.offset() < end) {
                throw error("tensors '" + previous.name() + "' and '" + t.name() + "' overlap in the data section");
            }
            end = t.offset() + size;
            previous = t;
        }
    }

    /** Opens and validates a GGUF file. */
    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg = ch.size() == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return new GgufFile(path, arena, seg);
        } catch (IOException e) {
            arena.close();
            throw new NeuronScopeException("cannot read " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Validates a file completely; throws {@link GgufFormatException} naming the first problem. */
    public static void validate(Path path) {
        try (GgufFile ignored = open(path)) {
            // the constructor checks everything
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public long alignment() {
        return alignment;
    }

    /** Offset of the data section in the file. */
    public long dataStart() {
        return dataStart;
    }

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

    public String architecture() {
        return getString("general.architecture");
    }

    public String getString(String key) {
        GgufValue v = require(key);
        if (v.type() != GgufValueType.STRING) {
            throw new NeuronScopeException("metadata '" + key + "' is " + v.type() + ", not a string");
        }
        return (String) v.value();
    }

    /** Any integer type as a long. */
    public long getLong(String key) {
        GgufValue v = require(key);
        if (!v.type().isInteger()) {
            throw new NeuronScopeException("metadata '" + key + "' is " + v.type() + ", not an integer");
        }
        return (Long) v.value();
    }

    public double getDouble(String key) {
        GgufValue v = require(key);
        return switch (v.value()) {
            case Float f -> f;
            case Double d -> d;
            case Long l -> l;
            default -> throw new NeuronScopeException("metadata '" + key + "' is " + v.type() + ", not a number");
        };
    }

    public String[] getStringArray(String key) {
        GgufValue v = require(key);
        if (!(v.value() instanceof String[] a)) {
            throw new NeuronScopeException("metadata '" + key + "' is not an array of strings");
        }
        return a.clone();
    }

    private GgufValue require(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) {
            throw new NeuronScopeException("metadata '" + key + "' is missing in " + path);
        }
        return v;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new NeuronScopeException("no tensor '" + name + "' in " + path);
        }
        return t;
    }

    /** The tensor's data, a read-only view into the mapped file, valid until {@link #close()}. */
    public MemorySegment tensorData(String name) {
        TensorInfo t = tensor(name);
        return file.asSlice(dataStart + t.offset(), t.byteSize()).asReadOnly();
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    private GgufFormatException error(String message) {
        return new GgufFormatException(path.getFileName() + ": " + message);
    }

    static long align(long offset, long alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    /** A bounds-checked cursor over the file. */
    private final class Reader {
        private final MemorySegment seg;
        long pos;

        Reader(MemorySegment seg) {
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        private void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw error("truncated: " + what + " needs " + n + " bytes at offset " + pos + ", but the file ends at " + seg.byteSize());
            }
        }

        int i32(String what) {
            need(4, what);
            int v = seg.get(INT, pos);
            pos += 4;
            return v;
        }

        long i64(String what) {
            need(8, what);
            long v = seg.get(LONG, pos);
            pos += 8;
            return v;
        }

        String string(String what) {
            long len = i64("length of " + what);
            if (len < 0 || len > remaining()) {
                throw error("truncated or corrupt: " + what + " claims " + Long.toUnsignedString(len) + " bytes at offset " + pos
                        + ", but only " + remaining() + " remain");
            }
            byte[] bytes = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                        .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw error(what + " is not UTF-8");
            }
        }

        GgufValue value(GgufValueType type, String key, int depth) {
            String what = "value of '" + key + "'";
            return switch (type) {
                case UINT8 -> { need(1, what); long v = Byte.toUnsignedLong(seg.get(ValueLayout.JAVA_BYTE, pos)); pos += 1; yield GgufValue.of(type, v); }
                case INT8 -> { need(1, what); long v = seg.get(ValueLayout.JAVA_BYTE, pos); pos += 1; yield GgufValue.of(type, v); }
                case UINT16 -> { need(2, what); long v = Short.toUnsignedLong(seg.get(SHORT, pos)); pos += 2; yield GgufValue.of(type, v); }
                case INT16 -> { need(2, what); long v = seg.get(SHORT, pos); pos += 2; yield GgufValue.of(type, v); }
                case UINT32 -> GgufValue.of(type, Integer.toUnsignedLong(i32(what)));
                case INT32 -> GgufValue.of(type, (long) i32(what));
                case UINT64, INT64 -> GgufValue.of(type, i64(what));
                case FLOAT32 -> { need(4, what); float v = seg.get(FLOAT, pos); pos += 4; yield GgufValue.of(type, v); }
                case FLOAT64 -> { need(8, what); double v = seg.get(DOUBLE, pos); pos += 8; yield GgufValue.of(type, v); }
                case BOOL -> {
                    need(1, what);
                    byte b = seg.get(ValueLayout.JAVA_BYTE, pos);
                    if (b != 0 && b != 1) {
                        throw error("'" + key + "' is a bool with value " + b + " at offset " + pos);
                    }
                    pos += 1;
                    yield GgufValue.of(type, b == 1);
                }
                case STRING -> GgufValue.ofString(string(what));
                case ARRAY -> array(key, depth);
            };
        }

        private GgufValue array(String key, int depth) {
            if (depth >= MAX_ARRAY_DEPTH) {
                throw error("'" + key + "' nests arrays deeper than " + MAX_ARRAY_DEPTH);
            }
            long elemId = Integer.toUnsignedLong(i32("element type of '" + key + "'"));
            GgufValueType elem = GgufValueType.byId(elemId);
            if (elem == null) {
                throw error("array '" + key + "' has unknown element type " + elemId + " at offset " + (pos - 4));
            }
            long n = i64("length of array '" + key + "'");
            if (n < 0 || n > remaining() / elem.minSize() || n > Integer.MAX_VALUE - 8) {
                throw error("array '" + key + "' claims " + Long.toUnsignedString(n) + " elements of " + elem + " at offset " + (pos - 8)
                        + ", but only " + remaining() + " bytes remain");
            }
            int len = (int) n;
            Object values = switch (elem) {
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = string("element " + i + " of '" + key + "'");
                    }
                    yield a;
                }
                case FLOAT32 -> {
                    need(4L * len, "array '" + key + "'");
                    float[] a = seg.asSlice(pos, 4L * len).toArray(FLOAT);
                    pos += 4L * len;
                    yield a;
                }
                case FLOAT64 -> {
                    need(8L * len, "array '" + key + "'");
                    double[] a = seg.asSlice(pos, 8L * len).toArray(DOUBLE);
                    pos += 8L * len;
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = (Boolean) value(GgufValueType.BOOL, key, depth + 1).value();
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
                default -> {
                    long[] a = new long[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = (Long) value(elem, key, depth + 1).value();
                    }
                    yield a;
                }
            };
            return GgufValue.ofArray(elem, values);
        }
    }
}
