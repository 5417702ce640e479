package org.neuronscope.gguf;

/** The value types of GGUF metadata, with their ids as in {@code gguf.h}. */
public enum GgufValueType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4), BOOL(7, 1),
    STRING(8, 8), ARRAY(9, 12), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values(); // ids are the ordinals

    private final int id;
    private final int minSize;

    GgufValueType(int id, int minSize) {
        this.id = id;
        this.minSize = minSize;
    }

    public int id() {
        return id;
    }

    /**
     * Smallest encoded size in bytes: the exact size of a scalar, the 8-byte length of a string, the
     * 4-byte element type and 8-byte count of an array. Bounds claimed counts before anything is allocated.
     */
    int minSize() {
        return minSize;
    }

    /** Whether every value of this type has the same encoded size ({@link #minSize()}). */
    boolean isFixedSize() {
        return this != STRING && this != ARRAY;
    }

    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    public boolean isFloat() {
        return this == FLOAT32 || this == FLOAT64;
    }

    /** The type with GGUF id {@code id}, or null if there is none. */
    public static GgufValueType byId(long id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }
}
