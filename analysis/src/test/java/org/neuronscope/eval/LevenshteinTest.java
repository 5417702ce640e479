package org.neuronscope.eval;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LevenshteinTest {
    /** The textbook recursion, exponential: only for short strings. */
    private static int bruteForce(String a, String b) {
        if (a.isEmpty()) {
            return b.length();
        }
        if (b.isEmpty()) {
            return a.length();
        }
        int cost = a.charAt(0) == b.charAt(0) ? 0 : 1;
        return Math.min(bruteForce(a.substring(1), b.substring(1)) + cost,
                Math.min(bruteForce(a.substring(1), b) + 1, bruteForce(a, b.substring(1)) + 1));
    }

    @Test
    void knownDistances() {
        assertEquals(3, Levenshtein.distance("kitten", "sitting"));
        assertEquals(0, Levenshtein.distance("", ""));
        assertEquals(4, Levenshtein.distance("", "abcd"));
        assertEquals(4, Levenshtein.distance("abcd", ""));
        assertEquals(2, Levenshtein.distance("flaw", "lawn"));
        assertEquals(1, Levenshtein.distance("a😀b", "ab"), "counts code points, not UTF-16 chars");
    }

    @Test
    void matchesBruteForceOnRandomShortStrings() {
        Random rnd = new Random(42);
        for (int trial = 0; trial < 2000; trial++) {
            String a = random(rnd), b = random(rnd);
            int expected = bruteForce(a, b);
            assertEquals(expected, Levenshtein.distance(a, b), a + " / " + b);
            assertEquals(expected, Levenshtein.distance(b, a), "symmetric: " + b + " / " + a);
            List<String> ta = Arrays.asList(a.split("")), tb = Arrays.asList(b.split(""));
            if (!a.isEmpty() && !b.isEmpty()) {
                assertEquals(expected, Levenshtein.distance(ta, tb), "token version: " + a + " / " + b);
            }
        }
    }

    private static String random(Random rnd) {
        int n = rnd.nextInt(7);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append((char) ('a' + rnd.nextInt(3)));
        }
        return sb.toString();
    }

    @Test
    void tokenDistance() {
        assertEquals(1, Levenshtein.distance(List.of("the", "cat", "sat"), List.of("the", "cat", "sat", "down")));
        assertEquals(2, Levenshtein.distance(List.of("a", "b", "c"), List.of("c", "b", "a")));
        assertEquals(3, Levenshtein.distance(List.of(), List.of("x", "y", "z")));
    }
}
