package org.neuronscope.gguf;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * Independent reference conversions for the tests, written from the formats' definitions rather than
 * with the library's code or the JDK's float16 methods: IEEE binary16 by search over all halves, and
 * ggml's Q8_0 (quantize_row_q8_0_ref, dequantize_row_q8_0) with C's roundf as BigDecimal HALF_UP.
 */
final class Reference {
    private Reference() {
    }

    /** binary16 bits to its value, from the definition. */
    static double halfValue(int bits) {
        int sign = (bits >> 15) & 1;
        int exp = (bits >> 10) & 0x1F;
        int man = bits & 0x3FF;
        double v;
        if (exp == 0) {
            v = man * Math.pow(2, -24);
        } else if (exp == 31) {
            v = man == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = (1 + man / 1024.0) * Math.pow(2, exp - 15);
        }
        return sign == 1 ? -v : v;
    }

    /** The nearest binary16 to {@code x} (ties to the even mantissa), found by binary search over the finite halves. */
    static int toHalf(float x) {
        int sign = (Float.floatToRawIntBits(x) >>> 31) << 15;
        double a = Math.abs((double) x);
        if (a >= 65520) { // half way between the largest half (65504) and 65536 rounds to infinity
            return sign | 0x7C00;
        }
        int lo = 0;
        int hi = 0x7BFF;
        while (lo < hi) { // smallest bits whose value is >= a
            int mid = (lo + hi) >>> 1;
            if (halfValue(mid) < a) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        int best = lo;
        if (lo > 0) {
            double up = halfValue(lo) - a;
            double down = a - halfValue(lo - 1);
            if (down < up || (down == up && ((lo - 1) & 1) == 0)) {
                best = lo - 1;
            }
        }
        return sign | best;
    }

    static float roundTripHalf(float x) {
        return (float) halfValue(toHalf(x));
    }

    /** roundf: halfway cases away from zero. */
    static int roundf(float x) {
        return new BigDecimal(x).setScale(0, RoundingMode.HALF_UP).intValueExact();
    }

    /** Quantizes {@code x} to Q8_0 and back, as ggml does. */
    static float[] q8_0(float[] x) {
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            float dStored = roundTripHalf(d);
            for (int j = 0; j < 32; j++) {
                y[b + j] = dStored * roundf(x[b + j] * id);
            }
        }
        return y;
    }
}
