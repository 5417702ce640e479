package org.neuronscope.methods;

import java.util.Arrays;

/** Shared selection kernels: global order statistics and top-k with deterministic ties. */
final class Selection {
    private Selection() {
    }

    /**
     * The k-th smallest value (1-based) of {@code values}: METHODS.md's percentile, k = round(q·|P|).
     * k = 0 gives -infinity (nothing is below). A radix select on the order-preserving bit pattern of
     * each double: one histogram pass over all values, then passes over the shrinking candidates.
     */
    static double kthSmallest(double[] values, long k) {
        if (k <= 0) {
            return Double.NEGATIVE_INFINITY;
        }
        if (k > values.length) {
            throw new IllegalArgumentException("k = " + k + " > " + values.length);
        }
        long[] keys = null;
        int n = values.length;
        long remaining = k; // rank within the current candidates
        long prefix = 0;
        for (int shift = 48; shift >= 0; shift -= 16) {
            int[] histogram = new int[1 << 16];
            long mask = shift == 48 ? 0 : -1L << (shift + 16);
            for (int i = 0; i < n; i++) {
                long key = keys == null ? key(values[i]) : keys[i];
                if ((key & mask) == prefix) {
                    histogram[(int) (key >>> shift) & 0xFFFF]++;
                }
            }
            int bucket = 0;
            while (remaining > histogram[bucket]) {
                remaining -= histogram[bucket++];
            }
            prefix |= (long) bucket << shift;
            if (keys == null) { // keep only the candidates once they are few enough to copy
                int count = histogram[bucket];
                long[] next = new long[count];
                int j = 0;
                long sel = -1L << shift;
                for (int i = 0; i < n; i++) {
                    long key = key(values[i]);
                    if ((key & sel) == prefix) {
                        next[j++] = key;
                    }
                }
                keys = next;
                n = count;
            }
        }
        return unkey(prefix);
    }

    /** A long whose unsigned order is the order of the doubles (negative values reversed). */
    private static long key(double v) {
        long bits = Double.doubleToLongBits(v == 0.0 ? 0.0 : v); // -0.0 sorts as 0.0
        return bits < 0 ? ~bits : bits ^ Long.MIN_VALUE;
    }

    private static double unkey(long key) {
        long bits = key < 0 ? key ^ Long.MIN_VALUE : ~key;
        return Double.longBitsToDouble(bits);
    }

    /**
     * Indices of the {@code k} smallest scores (ascending score, ties by lower index: for a
     * [layer][neuron] index that is lower layer, then lower neuron). +infinity never qualifies.
     */
    static int[] smallest(double[] scores, int k) {
        int finite = 0;
        for (double s : scores) {
            if (s != Double.POSITIVE_INFINITY) {
                finite++;
            }
        }
        k = Math.min(k, finite);
        if (k <= 0) {
            return new int[0];
        }
        double cut = kthSmallest(Arrays.stream(scores).filter(s -> s != Double.POSITIVE_INFINITY).toArray(), k);
        int[] out = new int[k];
        int n = 0;
        for (int i = 0; i < scores.length && n < k; i++) {
            if (scores[i] < cut) {
                out[n++] = i;
            }
        }
        for (int i = 0; i < scores.length && n < k; i++) {
            if (scores[i] == cut) {
                out[n++] = i; // ties at the cut: lowest indices first
            }
        }
        Integer[] boxed = Arrays.stream(out).boxed().toArray(Integer[]::new);
        Arrays.sort(boxed, (a, b) -> scores[a] != scores[b] ? Double.compare(scores[a], scores[b]) : Integer.compare(a, b));
        return Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
    }

    /** Indices of the {@code k} largest scores (descending, ties by lower index). -infinity never qualifies. */
    static int[] largest(double[] scores, int k) {
        double[] neg = new double[scores.length];
        for (int i = 0; i < scores.length; i++) {
            neg[i] = scores[i] == Double.NEGATIVE_INFINITY ? Double.POSITIVE_INFINITY : -scores[i];
        }
        return smallest(neg, k);
    }
}
