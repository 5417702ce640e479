package org.neuronscope.probe;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded k-fold assignments for cross-validation. Stratified: the samples of each class are shuffled
 * and dealt to the folds in turn, the deal continuing from class to class, so every class is spread
 * over the folds as evenly as possible (its count per fold differs by at most one) and so are the
 * fold sizes. The same (labels, k, seed) always give the same folds.
 */
public final class Folds {
    private Folds() {
    }

    /**
     * The fold (0..k-1) of every sample, stratified by {@code classes} (class indices 0..C-1).
     *
     * @throws IllegalArgumentException if k &lt; 2 or a class has fewer than k samples (some fold
     *                                  would not see it held out, the estimate would be skewed)
     */
    public static int[] stratified(int[] classes, int k, long seed, List<String> classNames) {
        if (k < 2) {
            throw new IllegalArgumentException("cross-validation needs at least 2 folds, got " + k);
        }
        int c = 0;
        for (int y : classes) {
            if (y < 0) {
                throw new IllegalArgumentException("class index " + y + " is negative");
            }
            c = Math.max(c, y + 1);
        }
        List<List<Integer>> members = new ArrayList<>();
        for (int i = 0; i < c; i++) {
            members.add(new ArrayList<>());
        }
        for (int i = 0; i < classes.length; i++) {
            members.get(classes[i]).add(i);
        }
        for (int i = 0; i < c; i++) {
            int n = members.get(i).size();
            if (n > 0 && n < k) {
                String name = classNames != null && i < classNames.size() ? "'" + classNames.get(i) + "'" : "#" + i;
                throw new IllegalArgumentException("class " + name + " has " + n + " sample" + (n == 1 ? "" : "s")
                        + ", fewer than the " + k + " folds; use fewer folds or more samples");
            }
        }
        SplittableRandom rng = new SplittableRandom(seed);
        int[] fold = new int[classes.length];
        int next = 0;
        for (List<Integer> m : members) {
            int[] idx = m.stream().mapToInt(Integer::intValue).toArray();
            shuffle(idx, rng);
            for (int i : idx) {
                fold[i] = next % k;
                next++;
            }
        }
        return fold;
    }

    /** Plain seeded k-fold (for a numeric target): the samples shuffled and dealt to the folds in turn. */
    public static int[] plain(int n, int k, long seed) {
        if (k < 2 || k > n) {
            throw new IllegalArgumentException(k + " folds for " + n + " samples: need 2 <= folds <= samples");
        }
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        shuffle(idx, new SplittableRandom(seed));
        int[] fold = new int[n];
        for (int i = 0; i < n; i++) {
            fold[idx[i]] = i % k;
        }
        return fold;
    }

    /** Fisher–Yates. */
    static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** A seeded permutation of {@code values} (the shuffled-label control). */
    public static int[] permuted(int[] values, long seed) {
        int[] p = values.clone();
        shuffle(p, new SplittableRandom(seed));
        return p;
    }

    public static double[] permuted(double[] values, long seed) {
        int[] idx = new int[values.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        shuffle(idx, new SplittableRandom(seed));
        double[] p = new double[values.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = values[idx[i]];
        }
        return p;
    }
}
