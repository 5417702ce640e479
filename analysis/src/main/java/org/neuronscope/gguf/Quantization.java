package org.neuronscope.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Conversions between float rows and encoded rows, bit-exact with ggml: F32, F16 (round to nearest
 * even, as {@code GGML_FP32_TO_FP16}), BF16 (round to nearest even, NaN kept quiet, as
 * {@code ggml_compute_fp32_to_bf16}) and Q8_0 ({@code quantize_row_q8_0_ref}).
 */
public final class Quantization {
    /** Elements per Q8_0 block ({@code QK8_0}). */
    public static final int Q8_0_BLOCK = 32;

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantization() {
    }

    /** Whether {@link #encodeRow} can produce {@code type}. */
    public static boolean canEncode(GgmlType type) {
        return type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16 || type == GgmlType.Q8_0;
    }

    /** Whether {@link #decodeRow} can read {@code type}. */
    public static boolean canDecode(GgmlType type) {
        return canEncode(type);
    }

    /**
     * Encodes {@code row} into {@code out} (at least {@code type.rowBytes(row.length)} bytes, little-endian).
     * The row length must be a multiple of the type's block size.
     */
    public static void encodeRow(GgmlType type, float[] row, MemorySegment out) {
        checkRow(type, row.length, out);
        switch (type) {
            case F32 -> MemorySegment.copy(row, 0, out, F32, 0, row.length);
            case F16 -> {
                for (int i = 0; i < row.length; i++) {
                    out.set(I16, 2L * i, Float.floatToFloat16(row[i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < row.length; i++) {
                    out.set(I16, 2L * i, toBf16(row[i]));
                }
            }
            case Q8_0 -> {
                long at = 0;
                for (int b = 0; b < row.length; b += Q8_0_BLOCK) {
                    float amax = 0;
                    for (int j = 0; j < Q8_0_BLOCK; j++) {
                        amax = Math.max(amax, Math.abs(row[b + j]));
                    }
                    float d = amax / 127.0f;
                    float id = d != 0 ? 1.0f / d : 0.0f;
                    out.set(I16, at, Float.floatToFloat16(d));
                    for (int j = 0; j < Q8_0_BLOCK; j++) {
                        out.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) roundf(row[b + j] * id));
                    }
                    at += 2 + Q8_0_BLOCK;
                }
            }
            default -> throw new IllegalArgumentException("encoding " + type + " is not supported (F32, F16, BF16, Q8_0 are)");
        }
    }

    /** Decodes one row of {@code out.length} elements from {@code in} (F32, F16, BF16 or Q8_0). */
    public static void decodeRow(GgmlType type, MemorySegment in, float[] out) {
        checkRow(type, out.length, in);
        switch (type) {
            case F32 -> MemorySegment.copy(in, F32, 0, out, 0, out.length);
            case F16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.float16ToFloat(in.get(I16, 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat((in.get(I16, 2L * i) & 0xFFFF) << 16);
                }
            }
            case Q8_0 -> {
                long at = 0;
                for (int b = 0; b < out.length; b += Q8_0_BLOCK) {
                    float d = Float.float16ToFloat(in.get(I16, at));
                    for (int j = 0; j < Q8_0_BLOCK; j++) {
                        out[b + j] = d * in.get(ValueLayout.JAVA_BYTE, at + 2 + j);
                    }
                    at += 2 + Q8_0_BLOCK;
                }
            }
            default -> throw new IllegalArgumentException("decoding " + type + " is not supported (F32, F16, BF16, Q8_0 are)");
        }
    }

    /** ggml's {@code ggml_compute_fp32_to_bf16}: round to nearest even; a NaN stays a (quiet) NaN. */
    static short toBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    /** C's {@code roundf}: halfway cases away from zero (Java's {@link Math#round(float)} rounds them up). */
    static float roundf(float x) {
        // exact in double: |x| + 0.5 cannot round up to the next integer when x is a float
        double r = Math.floor(Math.abs((double) x) + 0.5);
        return (float) Math.copySign(r, x);
    }

    private static void checkRow(GgmlType type, int n, MemorySegment data) {
        if (n % type.blockSize() != 0) {
            throw new IllegalArgumentException("row of " + n + " elements is not a whole number of " + type + " blocks (" + type.blockSize() + ")");
        }
        if (data.byteSize() < type.rowBytes(n)) {
            throw new IllegalArgumentException("a row of " + n + " " + type + " elements needs " + type.rowBytes(n) + " bytes, the segment has "
                    + data.byteSize());
        }
    }
}
