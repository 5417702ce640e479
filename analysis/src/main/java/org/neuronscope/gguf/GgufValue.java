package org.neuronscope.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * One metadata value with its exact GGUF type, so that it can be written back unchanged. Immutable.
 *
 * <p>Scalars are held as {@link Long} (every integer type; UINT64 as the same 64 bits), {@link Float},
 * {@link Double}, {@link Boolean} or {@link String}. Arrays are held as {@code long[]} (every integer
 * element type), {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, or
 * {@code GgufValue[]} for arrays of arrays. Integer values are range-checked against their type, so a
 * value that exists can always be encoded.
 */
public final class GgufValue {
    private final GgufValueType type;
    private final GgufValueType elementType;
    private final Object value;

    private GgufValue(GgufValueType type, GgufValueType elementType, Object value) {
        this.type = Objects.requireNonNull(type, "type");
        this.elementType = elementType;
        this.value = Objects.requireNonNull(value, "value");
    }

    // ---- scalars

    /** A scalar of {@code type}: a {@link Number} for integer and float types, a Boolean or a String. */
    public static GgufValue of(GgufValueType type, Object value) {
        Objects.requireNonNull(value, "value");
        Object v = switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> (Object) checkedInteger(type, integer(type, value));
            case FLOAT32 -> value instanceof Number n ? (Object) n.floatValue() : mismatch(type, value);
            case FLOAT64 -> value instanceof Number n ? (Object) n.doubleValue() : mismatch(type, value);
            case BOOL -> value instanceof Boolean ? value : mismatch(type, value);
            case STRING -> value instanceof String ? value : mismatch(type, value);
            case ARRAY -> throw new IllegalArgumentException("use ofArray for arrays");
        };
        return new GgufValue(type, null, v);
    }

    public static GgufValue ofUint8(int v) {
        return of(GgufValueType.UINT8, (long) v);
    }

    public static GgufValue ofInt8(int v) {
        return of(GgufValueType.INT8, (long) v);
    }

    public static GgufValue ofUint16(int v) {
        return of(GgufValueType.UINT16, (long) v);
    }

    public static GgufValue ofInt16(int v) {
        return of(GgufValueType.INT16, (long) v);
    }

    public static GgufValue ofUint32(long v) {
        return of(GgufValueType.UINT32, v);
    }

    public static GgufValue ofInt32(int v) {
        return of(GgufValueType.INT32, (long) v);
    }

    /** An unsigned 64-bit value; {@code v} holds its bits (see {@link Long#toUnsignedString(long)}). */
    public static GgufValue ofUint64(long v) {
        return of(GgufValueType.UINT64, v);
    }

    public static GgufValue ofInt64(long v) {
        return of(GgufValueType.INT64, v);
    }

    public static GgufValue ofFloat32(float v) {
        return of(GgufValueType.FLOAT32, v);
    }

    public static GgufValue ofFloat64(double v) {
        return of(GgufValueType.FLOAT64, v);
    }

    public static GgufValue ofBool(boolean v) {
        return of(GgufValueType.BOOL, v);
    }

    public static GgufValue ofString(String s) {
        return of(GgufValueType.STRING, s);
    }

    // ---- arrays

    /**
     * An array of {@code elementType}; {@code array} is a {@code long[]} (integer types), {@code int[]}
     * (integer types, widened), {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]} or
     * {@code GgufValue[]} (arrays of arrays, each element itself an array). The array is copied.
     */
    public static GgufValue ofArray(GgufValueType elementType, Object array) {
        Objects.requireNonNull(elementType, "elementType");
        Object copy = switch (array) {
            case long[] a when elementType.isInteger() -> checkedIntegers(elementType, a.clone());
            case int[] a when elementType.isInteger() -> checkedIntegers(elementType, Arrays.stream(a).asLongStream().toArray());
            case float[] a when elementType == GgufValueType.FLOAT32 -> a.clone();
            case double[] a when elementType == GgufValueType.FLOAT64 -> a.clone();
            case boolean[] a when elementType == GgufValueType.BOOL -> a.clone();
            case String[] a when elementType == GgufValueType.STRING -> {
                for (String s : a) {
                    Objects.requireNonNull(s, "array element");
                }
                yield a.clone();
            }
            case GgufValue[] a when elementType == GgufValueType.ARRAY -> {
                for (GgufValue v : a) {
                    if (!v.isArray()) {
                        throw new IllegalArgumentException("an array of arrays holds arrays, not " + v);
                    }
                }
                yield a.clone();
            }
            default -> throw new IllegalArgumentException("a " + array.getClass().getSimpleName() + " cannot hold an array of " + elementType);
        };
        return new GgufValue(GgufValueType.ARRAY, elementType, copy);
    }

    public static GgufValue ofStringArray(String... values) {
        return ofArray(GgufValueType.STRING, values);
    }

    public static GgufValue ofInt32Array(int... values) {
        return ofArray(GgufValueType.INT32, values);
    }

    public static GgufValue ofFloat32Array(float... values) {
        return ofArray(GgufValueType.FLOAT32, values);
    }

    /** For the reader: takes ownership of an array it has just decoded (and range-checked by construction). */
    static GgufValue ownedArray(GgufValueType elementType, Object array) {
        return new GgufValue(GgufValueType.ARRAY, elementType, array);
    }

    // ---- access

    /** The held value itself, arrays not copied: for the writer, which only reads it. */
    Object raw() {
        return value;
    }

    public GgufValueType type() {
        return type;
    }

    /** The element type of an array, null for a scalar. */
    public GgufValueType elementType() {
        return elementType;
    }

    public boolean isArray() {
        return type == GgufValueType.ARRAY;
    }

    /**
     * The value as described in the class comment; arrays are returned as copies, so that a value read
     * from a file cannot be changed by its users.
     */
    public Object value() {
        return switch (value) {
            case long[] a -> a.clone();
            case float[] a -> a.clone();
            case double[] a -> a.clone();
            case boolean[] a -> a.clone();
            case String[] a -> a.clone();
            case GgufValue[] a -> a.clone();
            default -> value;
        };
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
            default -> throw new IllegalStateException("not an array: " + this);
        };
    }

    /** An integer scalar of any integer type. A UINT64 above {@link Long#MAX_VALUE} does not fit and throws. */
    public long asLong() {
        if (!(value instanceof Long l) || (type == GgufValueType.UINT64 && l < 0)) {
            throw new IllegalStateException(type == GgufValueType.UINT64 ? "UINT64 value " + Long.toUnsignedString((Long) value)
                    + " does not fit a long" : "not an integer: " + this);
        }
        return l;
    }

    /** The 64 bits of an integer scalar, UINT64 included: for encoding. */
    long asLongBits() {
        if (!(value instanceof Long l)) {
            throw new IllegalStateException("not an integer: " + this);
        }
        return l;
    }

    /** A float scalar (FLOAT32 or FLOAT64); integers are not silently converted. */
    public double asDouble() {
        return switch (value) {
            case Float f -> f;
            case Double d -> d;
            default -> throw new IllegalStateException("not a float: " + this);
        };
    }

    public boolean asBoolean() {
        if (!(value instanceof Boolean b)) {
            throw new IllegalStateException("not a bool: " + this);
        }
        return b;
    }

    public String asString() {
        if (!(value instanceof String s)) {
            throw new IllegalStateException("not a string: " + this);
        }
        return s;
    }

    /** An array of strings, copied. */
    public String[] asStringArray() {
        if (!(value instanceof String[] a)) {
            throw new IllegalStateException("not an array of strings: " + this);
        }
        return a.clone();
    }

    /** An array of any integer type, copied (UINT64 elements as their bits). */
    public long[] asLongArray() {
        if (!(value instanceof long[] a)) {
            throw new IllegalStateException("not an array of integers: " + this);
        }
        return a.clone();
    }

    /** An array of FLOAT32 (exact) or FLOAT64 (rounded to float), copied. */
    public float[] asFloatArray() {
        return switch (value) {
            case float[] a -> a.clone();
            case double[] a -> {
                float[] f = new float[a.length];
                for (int i = 0; i < a.length; i++) {
                    f[i] = (float) a[i];
                }
                yield f;
            }
            default -> throw new IllegalStateException("not an array of floats: " + this);
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufValue v && v.type == type && v.elementType == elementType
                && Arrays.deepEquals(new Object[] {value}, new Object[] {v.value});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[] {type, elementType, value});
    }

    @Override
    public String toString() {
        if (isArray()) {
            return "array<" + elementType + ">[" + length() + "]";
        }
        return type + ":" + (type == GgufValueType.UINT64 ? Long.toUnsignedString((Long) value) : value);
    }

    // ---- checks

    private static long integer(GgufValueType type, Object value) {
        return switch (value) {
            case Long l -> l;
            case Integer i -> i;
            case Short s -> s;
            case Byte b -> b;
            default -> mismatch(type, value);
        };
    }

    private static <T> T mismatch(GgufValueType type, Object value) {
        throw new IllegalArgumentException("a " + value.getClass().getSimpleName() + " is not a " + type + " value");
    }

    private static long[] checkedIntegers(GgufValueType type, long[] values) {
        for (long v : values) {
            checkedInteger(type, v);
        }
        return values;
    }

    private static long checkedInteger(GgufValueType type, long v) {
        boolean ok = switch (type) {
            case UINT8 -> v >= 0 && v <= 0xFF;
            case INT8 -> v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE;
            case UINT16 -> v >= 0 && v <= 0xFFFF;
            case INT16 -> v >= Short.MIN_VALUE && v <= Short.MAX_VALUE;
            case UINT32 -> v >= 0 && v <= 0xFFFF_FFFFL;
            case INT32 -> v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
            case UINT64, INT64 -> true;
            default -> throw new IllegalStateException(type + " is not an integer type");
        };
        if (!ok) {
            throw new IllegalArgumentException(v + " is out of range for " + type);
        }
        return v;
    }
}
