package org.neuronscope.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Conversions between float rows and the tensor types the writer produces (F32, F16, Q8_0), as ggml does them. */
public final class Quantization {
    private Quantization() {
    }

    /** Encodes {@code row} (its length a multiple of the type's block size) into {@code out} (little-endian). */
    public static void encodeRow(GgmlType type, float[] row, ByteBuffer out) {
        out.order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> {
                for (float v : row) {
                    out.putFloat(v);
                }
            }
            case F16 -> {
                for (float v : row) {
                    out.putShort(Float.floatToFloat16(v));
                }
            }
            case Q8_0 -> {
                // ggml's quantize_row_q8_0_ref: d = amax / 127 (stored as f16), q = round(x / d)
                for (int b = 0; b < row.length; b += 32) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) {
                        amax = Math.max(amax, Math.abs(row[b + j]));
                    }
                    float d = amax / 127.0f;
                    float id = d != 0 ? 1.0f / d : 0.0f;
                    out.putShort(Float.floatToFloat16(d));
                    for (int j = 0; j < 32; j++) {
                        out.put((byte) Math.round(row[b + j] * id));
                    }
                }
            }
            default -> throw new IllegalArgumentException("writing " + type + " is not supported (F32, F16, Q8_0 are)");
        }
    }

    /** Decodes one row of {@code n} elements from {@code in} (F32, F16, BF16 or Q8_0). */
    public static float[] decodeRow(GgmlType type, ByteBuffer in, int n) {
        in.order(ByteOrder.LITTLE_ENDIAN);
        float[] row = new float[n];
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    row[i] = in.getFloat();
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    row[i] = Float.float16ToFloat(in.getShort());
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    row[i] = Float.intBitsToFloat((in.getShort() & 0xFFFF) << 16);
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < n; b += 32) {
                    float d = Float.float16ToFloat(in.getShort());
                    for (int j = 0; j < 32; j++) {
                        row[b + j] = d * in.get();
                    }
                }
            }
            default -> throw new IllegalArgumentException("decoding " + type + " is not supported (F32, F16, BF16, Q8_0 are)");
        }
        return row;
    }
}
