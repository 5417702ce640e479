package org.neuronscope.methods;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SelectionTest {
    @Test
    void kthSmallestEqualsTheSortedArray() {
        SplittableRandom rng = new SplittableRandom(11);
        for (int trial = 0; trial < 50; trial++) {
            int n = 1 + rng.nextInt(5000);
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = switch (rng.nextInt(5)) {
                    case 0 -> rng.nextInt(7);                 // many ties
                    case 1 -> -rng.nextDouble() * 1e6;        // negatives
                    case 2 -> rng.nextBoolean() ? 0.0 : -0.0; // signed zeros
                    case 3 -> rng.nextDouble() * 1e-300;      // tiny
                    default -> rng.nextGaussian();
                };
            }
            double[] sorted = v.clone();
            Arrays.sort(sorted);
            for (int r = 0; r < 10; r++) {
                int k = 1 + rng.nextInt(n);
                double expected = sorted[k - 1] == -0.0 ? 0.0 : sorted[k - 1];
                assertEquals(expected, Selection.kthSmallest(v, k) + 0.0, "trial " + trial + " k " + k);
            }
        }
        assertEquals(Double.NEGATIVE_INFINITY, Selection.kthSmallest(new double[] {1, 2}, 0));
    }

    @Test
    void tiesAreBrokenByLowerIndex() {
        Selection.Top top = Selection.largest(new double[] {3, 1, 2, 1, Double.NEGATIVE_INFINITY, 1, Double.NaN}, 3);
        assertArrayEquals(new int[] {0, 1, 2}, top.index(), "3, 2 and the first 1, in index order");
        assertArrayEquals(new double[] {3, 1, 2}, top.score());
        assertArrayEquals(new int[] {0, 1, 2, 3, 5}, Selection.largest(new double[] {3, 1, 2, 1, Double.NEGATIVE_INFINITY, 1, Double.NaN}, 100).index(),
                "−∞ and NaN never qualify");
    }

    /** Sort everything by (score descending, index ascending), take k, list the indices ascending. */
    private static int[] bruteForceLargest(double[] v, int k) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < v.length; i++) {
            if (v[i] > Double.NEGATIVE_INFINITY) {
                order.add(i);
            }
        }
        order.sort(Comparator.<Integer>comparingDouble(i -> -v[i]).thenComparingInt(i -> i));
        return order.subList(0, Math.min(k, order.size())).stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    /**
     * Against sorting, on inputs large enough for the sampled threshold, with heavy ties, −∞, NaN,
     * rows that chunks must not cross, and budgets from 1 to more than qualify.
     */
    @Test
    void largestEqualsSortingEverything() {
        SplittableRandom rng = new SplittableRandom(21);
        for (int trial = 0; trial < 40; trial++) {
            int n = trial < 10 ? 1 + rng.nextInt(3000) : 20_000 + rng.nextInt(200_000);
            double[] v = new double[n];
            int kind = trial % 5;
            for (int i = 0; i < n; i++) {
                v[i] = switch (kind) {
                    case 0 -> rng.nextInt(50);                                   // heavy ties
                    case 1 -> rng.nextInt(10) == 0 ? Double.NEGATIVE_INFINITY : rng.nextGaussian();
                    case 2 -> rng.nextInt(100) == 0 ? Double.NaN : rng.nextDouble();
                    case 3 -> i < n / 2 ? 10 + rng.nextDouble() : rng.nextDouble(); // the large values all in one half
                    default -> -rng.nextDouble() * 1e300;
                };
            }
            int row = 1 + rng.nextInt(n);
            for (int k : new int[] {1, 1 + rng.nextInt(Math.max(1, n / 50)), n / 3, n + 5}) {
                Selection.Top top = Selection.largest(n, k, row, (from, length, out) -> {
                    assertTrue(from / row == (from + length - 1) / row, "a chunk crosses a row");
                    System.arraycopy(v, from, out, 0, length);
                });
                int[] want = bruteForceLargest(v, k);
                assertArrayEquals(want, top.index(), "trial " + trial + " n " + n + " k " + k);
                for (int j = 0; j < want.length; j++) {
                    assertEquals(v[want[j]], top.score()[j]);
                }
            }
        }
    }

    /** Large scores exactly where the sample looks and nowhere else: too few reach its threshold, a second scan decides. */
    @Test
    void aMisleadingSampleFallsBackToAFullScan() {
        int n = 100_000, k = 20_000;
        java.util.Set<Integer> sampled = new java.util.HashSet<>();
        boolean[] scanning = {false};
        Selection.largest(n, k, n, (from, length, out) -> {
            if (length > 8) {
                scanning[0] = true;
            }
            for (int j = 0; j < length; j++) {
                if (!scanning[0]) {
                    sampled.add(from + j);
                }
                out[j] = 0;
            }
        });
        assertTrue(sampled.size() >= 4000 && sampled.size() < k, "the sample: " + sampled.size() + " scores");
        SplittableRandom rng = new SplittableRandom(5);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = sampled.contains(i) ? 10 + rng.nextDouble() : rng.nextDouble();
        }
        int[] scans = {0};
        Selection.Top top = Selection.largest(n, k, n, (from, length, out) -> {
            if (from == 0 && length > 8) {
                scans[0]++;
            }
            System.arraycopy(v, from, out, 0, length);
        });
        assertEquals(2, scans[0], "the threshold scan found too few, the full scan decided");
        assertArrayEquals(bruteForceLargest(v, k), top.index());
    }

    /** The vector scan (what the build runs) and the scalar one (without the Vector API) collect the same. */
    @Test
    void vectorAndScalarScansAgree() {
        assertTrue(VectorKernels.ENABLED, "tests run with --add-modules jdk.incubator.vector");
        SplittableRandom rng = new SplittableRandom(8);
        for (int trial = 0; trial < 200; trial++) {
            int length = rng.nextInt(70);
            double[] chunk = new double[length];
            for (int j = 0; j < length; j++) {
                chunk[j] = switch (rng.nextInt(6)) {
                    case 0 -> Double.NaN;
                    case 1 -> Double.NEGATIVE_INFINITY;
                    case 2 -> Double.POSITIVE_INFINITY;
                    case 3 -> rng.nextInt(3);
                    default -> rng.nextDouble();
                };
            }
            for (double threshold : new double[] {Double.NEGATIVE_INFINITY, 0.5, 1, Double.POSITIVE_INFINITY, Double.NaN}) {
                Selection.Candidates vector = new Selection.Candidates(), scalar = new Selection.Candidates();
                VectorScan.collect(chunk, length, threshold, 1000, vector);
                Selection.scan(chunk, length, threshold, 1000, scalar);
                assertEquals(scalar.size, vector.size, "trial " + trial + " threshold " + threshold);
                assertArrayEquals(Arrays.copyOf(scalar.index, scalar.size), Arrays.copyOf(vector.index, vector.size));
                assertArrayEquals(Arrays.copyOf(scalar.score, scalar.size), Arrays.copyOf(vector.score, vector.size));
            }
        }
    }

    @Test
    void nthAgreesWithSorting() {
        SplittableRandom rng = new SplittableRandom(6);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + rng.nextInt(trial < 100 ? 50 : 5000);
            double[] a = new double[n];
            int kind = trial % 4;
            for (int i = 0; i < n; i++) {
                a[i] = switch (kind) {
                    case 0 -> rng.nextInt(5); // heavy ties
                    case 1 -> i; // sorted
                    case 2 -> n - i; // reversed
                    default -> rng.nextGaussian();
                };
            }
            double[] sorted = a.clone();
            Arrays.sort(sorted);
            int k = rng.nextInt(n);
            assertEquals(sorted[k], Selection.nth(a, 0, n, k), "trial " + trial);
            Arrays.sort(a);
            assertEquals(Arrays.toString(sorted), Arrays.toString(a), "nth only reorders");
        }
    }
}
