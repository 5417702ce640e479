package org.neuronscope.gguf;

import org.neuronscope.FormatException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The parts of an ONNX model ({@code ModelProto}) that a weight converter needs: the graph's nodes
 * (operator, name, inputs, outputs, the tensor of a {@code Constant} and float attributes), its
 * initializers (name, shape, element type, and their data as a view of the mapped file), and the
 * names of its inputs and outputs; plus {@link #withExtraOutputs}, the same model with more graph
 * outputs.
 *
 * <p>The file is read by a small protocol-buffer wire reader of its own instead of generated ONNX
 * classes: a handful of fields of five messages are needed, and the reader keeps tensors as views of
 * the memory-mapped file (no copy of a model's weights on the heap, no protobuf runtime and no code
 * generation in the build). Field numbers are those of {@code onnx.proto} (ModelProto.graph = 7;
 * GraphProto node = 1, initializer = 5, input = 11, output = 12; NodeProto input = 1, output = 2,
 * name = 3, op_type = 4, attribute = 5; TensorProto dims = 1, data_type = 2, float_data = 4,
 * int64_data = 7, name = 8, raw_data = 9, data_location = 14; AttributeProto name = 1, f = 2, i = 3,
 * t = 5). Weights stored outside the file (external data) are refused with a clear message.
 *
 * <p>Owns the mapping of the file: close it when done; tensor views die with it.
 */
public final class OnnxModel implements AutoCloseable {
    /** ONNX {@code TensorProto.DataType} values this reader decodes. */
    public static final int FLOAT = 1, INT64 = 7;

    /** One node of the graph. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs,
                       Map<String, Float> floatAttributes, Optional<Tensor> valueTensor) {
    }

    /** A tensor: an initializer or the value of a {@code Constant} node; {@code data} is little-endian. */
    public record Tensor(String name, long[] dims, int dataType, MemorySegment data) {
        public long elementCount() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }

        /** Element {@code i} of a FLOAT tensor. */
        public float floatAt(long i) {
            requireType(FLOAT);
            return data.getAtIndex(LE_FLOAT, i);
        }

        /** The only value of a one-element FLOAT or INT64 tensor, as a double. */
        public double scalar() {
            if (elementCount() != 1) {
                throw new FormatException("tensor '" + name + "' of shape " + Arrays.toString(dims) + " is not a scalar");
            }
            return switch (dataType) {
                case FLOAT -> data.get(LE_FLOAT, 0);
                case INT64 -> data.get(LE_LONG, 0);
                default -> throw new FormatException("tensor '" + name + "': element type " + dataType + " is not decoded");
            };
        }

        void requireType(int type) {
            if (dataType != type) {
                throw new FormatException("tensor '" + name + "' has ONNX element type " + dataType + ", expected " + type);
            }
        }
    }

    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final long graphStart, graphEnd;
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Tensor> initializers = new LinkedHashMap<>();
    private final List<String> inputs = new ArrayList<>();
    private final List<String> outputs = new ArrayList<>();

    private OnnxModel(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        long[] graph = null;
        Wire w = new Wire(file, 0, file.byteSize());
        while (w.more()) {
            int key = w.key();
            if (key >>> 3 == 7 && (key & 7) == 2) {
                graph = w.span();
            } else {
                w.skip(key);
            }
        }
        if (graph == null) {
            throw new FormatException(path + ": not an ONNX model (no graph)");
        }
        graphStart = graph[0];
        graphEnd = graph[1];
        Wire g = new Wire(file, graphStart, graphEnd);
        while (g.more()) {
            int key = g.key();
            int field = key >>> 3;
            if ((key & 7) != 2) {
                g.skip(key);
                continue;
            }
            long[] span = g.span();
            switch (field) {
                case 1 -> nodes.add(node(span));
                case 5 -> {
                    Tensor t = tensor(span);
                    initializers.put(t.name(), t);
                }
                case 11 -> inputs.add(valueInfoName(span));
                case 12 -> outputs.add(valueInfoName(span));
                default -> {
                }
            }
        }
    }

    /** Maps and parses an ONNX file. */
    public static OnnxModel open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return new OnnxModel(path, arena, file);
        } catch (RuntimeException | IOException e) {
            arena.close();
            if (e instanceof IndexOutOfBoundsException) {
                throw new FormatException(path + ": truncated or corrupt ONNX protobuf", e);
            }
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public List<Node> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    public Map<String, Tensor> initializers() {
        return Collections.unmodifiableMap(initializers);
    }

    public List<String> inputs() {
        return Collections.unmodifiableList(inputs);
    }

    public List<String> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    /** The node producing a value, if any. */
    public Optional<Node> producer(String value) {
        for (Node n : nodes) {
            if (n.outputs().contains(value)) {
                return Optional.of(n);
            }
        }
        return Optional.empty();
    }

    /**
     * The model's bytes with {@code extraOutputs} appended to the graph's outputs (as FLOAT tensors of
     * unknown shape), e.g. to read intermediate activations with an inference engine. The graph is
     * copied field by field; everything else is unchanged.
     */
    public byte[] withExtraOutputs(List<String> extraOutputs) {
        ByteArrayOutputStream graph = new ByteArrayOutputStream();
        write(graph, file.asSlice(graphStart, graphEnd - graphStart));
        for (String name : extraOutputs) {
            // ValueInfoProto { name = 1; type = 2 { tensor_type = 1 { elem_type = 1 } } }
            byte[] tensorType = concat(tag(1, 0), varint(FLOAT));
            byte[] type = lengthDelimited(1, tensorType);
            byte[] info = concat(lengthDelimited(1, name.getBytes(StandardCharsets.UTF_8)), lengthDelimited(2, type));
            write(graph, MemorySegment.ofArray(lengthDelimited(12, info)));
        }
        ByteArrayOutputStream model = new ByteArrayOutputStream();
        Wire w = new Wire(file, 0, file.byteSize());
        while (w.more()) {
            long start = w.pos;
            int key = w.key();
            if (key >>> 3 == 7 && (key & 7) == 2) {
                w.span();
                write(model, MemorySegment.ofArray(lengthDelimited(7, graph.toByteArray())));
            } else {
                w.skip(key);
                write(model, file.asSlice(start, w.pos - start));
            }
        }
        return model.toByteArray();
    }

    @Override
    public void close() {
        arena.close();
    }

    // ---- messages

    private Node node(long[] span) {
        List<String> in = new ArrayList<>(), out = new ArrayList<>();
        String name = "", op = "";
        Map<String, Float> floats = new LinkedHashMap<>();
        Tensor value = null;
        Wire w = new Wire(file, span[0], span[1]);
        while (w.more()) {
            int key = w.key();
            if ((key & 7) != 2) {
                w.skip(key);
                continue;
            }
            long[] s = w.span();
            switch (key >>> 3) {
                case 1 -> in.add(string(s));
                case 2 -> out.add(string(s));
                case 3 -> name = string(s);
                case 4 -> op = string(s);
                case 5 -> {
                    // AttributeProto: name = 1, f = 2 (fixed32), t = 5
                    String an = "";
                    Float f = null;
                    Tensor t = null;
                    Wire a = new Wire(file, s[0], s[1]);
                    while (a.more()) {
                        int k = a.key();
                        if (k >>> 3 == 1 && (k & 7) == 2) {
                            an = string(a.span());
                        } else if (k >>> 3 == 2 && (k & 7) == 5) {
                            f = file.get(LE_FLOAT, a.pos);
                            a.pos += 4;
                        } else if (k >>> 3 == 5 && (k & 7) == 2) {
                            t = tensor(a.span());
                        } else {
                            a.skip(k);
                        }
                    }
                    if (f != null) {
                        floats.put(an, f);
                    }
                    if (t != null && an.equals("value")) {
                        value = t;
                    }
                }
                default -> {
                }
            }
        }
        return new Node(name, op, List.copyOf(in), List.copyOf(out), Map.copyOf(floats), Optional.ofNullable(value));
    }

    private Tensor tensor(long[] span) {
        List<Long> dims = new ArrayList<>();
        int type = 0;
        String name = "";
        MemorySegment raw = null;
        long floatStart = -1, floatEnd = -1;
        boolean external = false;
        ByteArrayOutputStream unpackedFloats = null;
        Wire w = new Wire(file, span[0], span[1]);
        while (w.more()) {
            int key = w.key();
            int field = key >>> 3, wire = key & 7;
            if (field == 1 && wire == 0) {
                dims.add(w.varint());
            } else if (field == 1 && wire == 2) {
                long[] s = w.span();
                Wire p = new Wire(file, s[0], s[1]);
                while (p.more()) {
                    dims.add(p.varint());
                }
            } else if (field == 2 && wire == 0) {
                type = (int) w.varint();
            } else if (field == 4 && wire == 2) {
                long[] s = w.span();
                floatStart = s[0];
                floatEnd = s[1];
            } else if (field == 4 && wire == 5) {
                if (unpackedFloats == null) {
                    unpackedFloats = new ByteArrayOutputStream();
                }
                write(unpackedFloats, file.asSlice(w.pos, 4));
                w.pos += 4;
            } else if (field == 8 && wire == 2) {
                name = string(w.span());
            } else if (field == 9 && wire == 2) {
                long[] s = w.span();
                raw = file.asSlice(s[0], s[1] - s[0]);
            } else if (field == 14 && wire == 0) {
                external = w.varint() == 1;
            } else if (field == 7 && wire == 2 && raw == null) {
                // packed int64_data (shape constants): re-encode as little-endian longs
                long[] s = w.span();
                Wire p = new Wire(file, s[0], s[1]);
                List<Long> values = new ArrayList<>();
                while (p.more()) {
                    values.add(p.varint());
                }
                MemorySegment m = arena.allocate(8L * Math.max(1, values.size()));
                for (int i = 0; i < values.size(); i++) {
                    m.setAtIndex(LE_LONG, i, values.get(i));
                }
                raw = m.asSlice(0, 8L * values.size());
            } else {
                w.skip(key);
            }
        }
        if (external) {
            throw new FormatException(path + ": tensor '" + name + "' is stored as external data; convert the model with its data embedded");
        }
        if (raw == null && floatStart >= 0) {
            raw = file.asSlice(floatStart, floatEnd - floatStart);
        } else if (raw == null && unpackedFloats != null) {
            byte[] b = unpackedFloats.toByteArray();
            raw = arena.allocate(b.length);
            MemorySegment.copy(MemorySegment.ofArray(b), 0, raw, 0, b.length);
        }
        if (raw == null) {
            raw = MemorySegment.ofArray(new byte[0]); // no data (a type this reader does not decode)
        }
        long[] d = dims.stream().mapToLong(Long::longValue).toArray();
        Tensor t = new Tensor(name, d, type, raw);
        int elementBytes = type == FLOAT ? 4 : type == INT64 ? 8 : -1;
        if (elementBytes > 0 && raw.byteSize() != t.elementCount() * elementBytes) {
            throw new FormatException(path + ": tensor '" + name + "' of shape " + Arrays.toString(d) + " holds " + raw.byteSize() + " bytes");
        }
        return t;
    }

    private String valueInfoName(long[] span) {
        Wire w = new Wire(file, span[0], span[1]);
        while (w.more()) {
            int key = w.key();
            if (key >>> 3 == 1 && (key & 7) == 2) {
                return string(w.span());
            }
            w.skip(key);
        }
        return "";
    }

    private String string(long[] span) {
        return new String(file.asSlice(span[0], span[1] - span[0]).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    // ---- wire format

    /** A cursor over protobuf wire data in [pos, end). */
    private final class Wire {
        private final MemorySegment m;
        private long pos;
        private final long end;

        Wire(MemorySegment m, long start, long end) {
            this.m = m;
            this.pos = start;
            this.end = end;
        }

        boolean more() {
            return pos < end;
        }

        long varint() {
            long r = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new FormatException(path + ": truncated varint at byte " + pos);
                }
                byte b = m.get(ValueLayout.JAVA_BYTE, pos++);
                r |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return r;
                }
            }
            throw new FormatException(path + ": malformed varint at byte " + pos);
        }

        int key() {
            return (int) varint();
        }

        long[] span() {
            long n = varint();
            if (n < 0 || pos + n > end) {
                throw new FormatException(path + ": a field of " + n + " bytes at byte " + pos + " runs past its message");
            }
            long[] s = {pos, pos + n};
            pos += n;
            return s;
        }

        void skip(int key) {
            switch (key & 7) {
                case 0 -> varint();
                case 1 -> pos += 8;
                case 2 -> span();
                case 5 -> pos += 4;
                default -> throw new FormatException(path + ": unsupported protobuf wire type " + (key & 7) + " at byte " + pos);
            }
            if (pos > end) {
                throw new FormatException(path + ": truncated protobuf message at byte " + pos);
            }
        }
    }

    private static byte[] varint(long v) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while ((v & ~0x7fL) != 0) {
            b.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        b.write((int) v);
        return b.toByteArray();
    }

    private static byte[] tag(int field, int wire) {
        return varint((long) field << 3 | wire);
    }

    private static byte[] lengthDelimited(int field, byte[] payload) {
        return concat(tag(field, 2), varint(payload.length), payload);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }

    private static void write(ByteArrayOutputStream out, MemorySegment s) {
        out.writeBytes(s.toArray(ValueLayout.JAVA_BYTE));
    }
}
