package org.neuronscope.methods;

import java.util.Arrays;

/** Shared selection kernels: global order statistics and top-k with deterministic ties. */
final class Selection {
    private Selection() {
    }

    /**
     * The k-th smallest value (1-based) of {@code values}: METHODS.md's percentile, k = round(q·|P|).
     * k = 0 gives -infinity (nothing is below). Runs in O(n) expected time (quickselect) on a copy.
     */
    static double kthSmallest(double[] values, long k) {
        if (k <= 0) {
            return Double.NEGATIVE_INFINITY;
        }
        if (k > values.length) {
            throw new IllegalArgumentException("k = " + k + " > " + values.length);
        }
        double[] a = values.clone();
        int target = (int) (k - 1);
        int lo = 0;
        int hi = a.length - 1;
        long seed = 0x9E3779B97F4A7C15L;
        while (lo < hi) {
            seed = seed * 6364136223846793005L + 1442695040888963407L;
            double pivot = a[lo + (int) Long.remainderUnsigned(seed, hi - lo + 1)];
            // three-way partition: [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot
            int lt = lo;
            int gt = hi;
            int i = lo;
            while (i <= gt) {
                if (a[i] < pivot) {
                    swap(a, lt++, i++);
                } else if (a[i] > pivot) {
                    swap(a, i, gt--);
                } else {
                    i++;
                }
            }
            if (target < lt) {
                hi = lt - 1;
            } else if (target > gt) {
                lo = gt + 1;
            } else {
                return pivot;
            }
        }
        return a[lo];
    }

    private static void swap(double[] a, int i, int j) {
        double t = a[i];
        a[i] = a[j];
        a[j] = t;
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
