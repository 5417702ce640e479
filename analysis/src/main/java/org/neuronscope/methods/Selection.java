package org.neuronscope.methods;

import java.util.Arrays;

/** Shared selection kernels: global order statistics and top-k with deterministic ties. */
final class Selection {
    private Selection() {
    }

    /**
     * The k-th smallest value (1-based) of {@code values}: docs/METHODS.md's percentile, k = round(q·|P|).
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

    /** Scores computed a chunk at a time, so that a selection never needs them all in one array. */
    @FunctionalInterface
    interface Scores {
        /** Writes the scores of indices [from, from + length) into {@code out[0, length)}. */
        void fill(int from, int length, double[] out);
    }

    /** The chosen indices, ascending, and their scores. */
    record Top(int[] index, double[] score) {
    }

    /** Neurons per chunk of a scan: the chunk's scores stay in L1 while they are compared. */
    static final int CHUNK = 2048;
    /** Scores sampled, in runs of {@link #RUN}, to guess a threshold a little below the k-th largest. */
    private static final int SAMPLE = 4096, RUN = 8;

    /**
     * The {@code k} largest of {@code n} scores, ties broken by lower index; −∞ and NaN never
     * qualify (fewer than k when fewer qualify). Indices come out ascending, with their scores.
     * A sample of the scores gives a threshold a little below the k-th largest, one scan collects the
     * indices at or above it, and an order statistic over those decides exactly; if the sample misled
     * (fewer than k at or above the threshold) a second scan takes every qualifying score.
     *
     * @param rowLength chunks never cross a multiple of it (a layer's neurons, for scores read per layer)
     */
    static Top largest(int n, int k, int rowLength, Scores scores) {
        if (k <= 0 || n == 0) {
            return new Top(new int[0], new double[0]);
        }
        double threshold = guessThreshold(n, k, rowLength, scores);
        Candidates c = collect(n, rowLength, scores, threshold);
        if (c.size < k && threshold != Double.NEGATIVE_INFINITY) {
            c = collect(n, rowLength, scores, Double.NEGATIVE_INFINITY);
        }
        if (c.size <= k) {
            return new Top(Arrays.copyOf(c.index, c.size), Arrays.copyOf(c.score, c.size));
        }
        double[] tmp = Arrays.copyOf(c.score, c.size);
        double cut = nth(tmp, 0, c.size, c.size - k); // the k-th largest
        int above = 0;
        for (int j = 0; j < c.size; j++) {
            if (c.score[j] > cut) {
                above++;
            }
        }
        int ties = k - above; // scores equal to the cut: the lowest indices
        int[] index = new int[k];
        double[] score = new double[k];
        int m = 0;
        for (int j = 0; j < c.size && m < k; j++) {
            double v = c.score[j];
            if (v > cut || (v == cut && ties-- > 0)) {
                index[m] = c.index[j];
                score[m++] = v;
            }
        }
        return new Top(index, score);
    }

    /** {@link #largest(int, int, int, Scores)} of an array. */
    static Top largest(double[] scores, int k) {
        return largest(scores.length, k, scores.length, (from, length, out) -> System.arraycopy(scores, from, out, 0, length));
    }

    static final class Candidates {
        int[] index = new int[1024];
        double[] score = new double[1024];
        int size;

        void add(int i, double v) {
            if (size == index.length) {
                index = Arrays.copyOf(index, 2 * size);
                score = Arrays.copyOf(score, 2 * size);
            }
            index[size] = i;
            score[size++] = v;
        }
    }

    /** Every index whose score is at least {@code threshold} (and not −∞ or NaN), in index order. */
    private static Candidates collect(int n, int rowLength, Scores scores, double threshold) {
        Candidates c = new Candidates();
        double[] chunk = new double[Math.min(CHUNK, n)];
        for (int from = 0; from < n; ) {
            int length = Math.min(Math.min(CHUNK, n - from), rowLength - from % rowLength);
            scores.fill(from, length, chunk);
            if (VectorKernels.ENABLED) {
                VectorScan.collect(chunk, length, threshold, from, c);
            } else {
                scan(chunk, length, threshold, from, c);
            }
            from += length;
        }
        return c;
    }

    /** The scalar {@link VectorScan#collect}: indices {@code base + j} of the scores at or above the threshold, in order. */
    static void scan(double[] chunk, int length, double threshold, int base, Candidates out) {
        boolean all = threshold == Double.NEGATIVE_INFINITY;
        for (int j = 0; j < length; j++) {
            double v = chunk[j];
            if (all ? v > Double.NEGATIVE_INFINITY : v >= threshold) { // NaN fails both
                out.add(base + j, v);
            }
        }
    }

    /**
     * A threshold that about k·(1 + a few standard deviations) scores reach: the matching order
     * statistic of a sample of the scores (runs of RUN adjacent ones, evenly spread); −∞ (take every
     * score) when the sample cannot tell or n is small.
     */
    private static double guessThreshold(int n, int k, int rowLength, Scores scores) {
        if (n <= 4 * SAMPLE || rowLength < RUN) {
            return Double.NEGATIVE_INFINITY;
        }
        int runs = SAMPLE / RUN;
        double[] sample = new double[SAMPLE], run = new double[RUN];
        int s = 0;
        for (int j = 0; j < runs; j++) {
            int start = (int) Math.min(n - RUN, (long) j * n / runs);
            start -= Math.max(0, start % rowLength + RUN - rowLength); // a run stays within its row
            scores.fill(start, RUN, run);
            for (double v : run) {
                if (v > Double.NEGATIVE_INFINITY) { // qualifying values only (NaN fails)
                    sample[s++] = v;
                }
            }
        }
        double expected = (double) k * SAMPLE / n; // of the sample's values, about this many are among the k largest
        int rank = (int) Math.ceil(expected + 5 * Math.sqrt(expected) + 8); // 1-based, from the top
        if (rank > s) {
            return Double.NEGATIVE_INFINITY;
        }
        return nth(sample, 0, s, s - rank);
    }

    /**
     * The value a full sort of {@code a[from, to)} would put at index {@code k}, by quickselect
     * (three-way partitions for the many ties of integer counts; a sort once it recurses too deep).
     * Reorders the range.
     */
    static double nth(double[] a, int from, int to, int k) {
        int depth = 0;
        while (to - from > 32) {
            if (++depth > 64) {
                break;
            }
            double x = a[from], y = a[(from + to) >>> 1], z = a[to - 1];
            double pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
            int lt = from, i = from, gt = to - 1;
            while (i <= gt) {
                double v = a[i];
                if (v < pivot) {
                    a[i++] = a[lt];
                    a[lt++] = v;
                } else if (v > pivot) {
                    a[i] = a[gt];
                    a[gt--] = v;
                } else {
                    i++;
                }
            }
            if (k < lt) {
                to = lt;
            } else if (k > gt) {
                from = gt + 1;
            } else {
                return a[k];
            }
        }
        Arrays.sort(a, from, to);
        return a[k];
    }
}
