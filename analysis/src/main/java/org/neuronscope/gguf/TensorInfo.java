package org.neuronscope.gguf;

import java.util.Arrays;

/**
 * A tensor of a GGUF file: name, type, shape (ggml order: ne[0] is the contiguous dimension, the row
 * length), and the data's offset relative to the data section.
 */
public record TensorInfo(String name, GgmlType type, long[] shape, long offset) {
    public TensorInfo {
        shape = shape.clone();
    }

    public long[] shape() {
        return shape.clone();
    }

    public long elements() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Row length (ne[0]). */
    public long rowLength() {
        return shape[0];
    }

    public long rows() {
        return elements() / shape[0];
    }

    public long rowBytes() {
        return type.rowBytes(shape[0]);
    }

    public long byteSize() {
        return rows() * rowBytes();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.type == type && Arrays.equals(t.shape, shape) && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
