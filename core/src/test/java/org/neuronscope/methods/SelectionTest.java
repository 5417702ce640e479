package org.neuronscope.methods;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
        double[] scores = {3, 1, 2, 1, Double.POSITIVE_INFINITY, 1, 0};
        assertArrayEquals(new int[] {6, 1, 3}, Selection.smallest(scores, 3));
        assertArrayEquals(new int[] {0, 2, 1}, Selection.largest(new double[] {3, 1, 2, 1}, 3));
        assertArrayEquals(new int[] {6, 1, 3, 5, 2, 0}, Selection.smallest(scores, 100), "+inf never qualifies");
    }
}
