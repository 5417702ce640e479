package org.neuronscope.gguf;

import java.util.Arrays;

/**
 * One metadata value with its exact GGUF type, so that it can be written back unchanged.
 * Scalars: {@link Long} (all integer types), {@link Float}, {@link Double}, {@link Boolean},
 * {@link String}. Arrays: {@code long[]} (integers), {@code float[]}, {@code double[]},
 * {@code boolean[]}, {@code String[]}, or {@code GgufValue[]} (arrays of arrays).
 *
 * @param elementType for arrays, the element type; null otherwise
 */
public record GgufValue(GgufValueType type, GgufValueType elementType, Object value) {

    public static GgufValue of(GgufValueType type, Object value) {
        return new GgufValue(type, null, value);
    }

    public static GgufValue ofString(String s) {
        return new GgufValue(GgufValueType.STRING, null, s);
    }

    public static GgufValue ofUint32(long v) {
        return new GgufValue(GgufValueType.UINT32, null, v);
    }

    public static GgufValue ofFloat32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, null, v);
    }

    public static GgufValue ofBool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, null, v);
    }

    public static GgufValue ofArray(GgufValueType elementType, Object array) {
        return new GgufValue(GgufValueType.ARRAY, elementType, array);
    }

    /** Number of elements of an array value. */
    public int length() {
        return switch (value) {
            case long[] a -> a.length;
            case float[] a -> a.length;
            case double[] a -> a.length;
            case boolean[] a -> a.length;
            case String[] a -> a.length;
            case GgufValue[] a -> a.length;
            default -> throw new IllegalStateException("not an array: " + type);
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufValue v && v.type == type && v.elementType == elementType && Arrays.deepEquals(new Object[] {value}, new Object[] {v.value});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[] {type, elementType, value});
    }

    @Override
    public String toString() {
        return type == GgufValueType.ARRAY ? "array<" + elementType + ">[" + length() + "]" : type + ":" + value;
    }
}
