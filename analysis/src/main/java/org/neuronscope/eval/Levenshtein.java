package org.neuronscope.eval;

import java.util.List;
import java.util.Objects;

/**
 * Levenshtein (edit) distance: the least number of single-element insertions, deletions and
 * substitutions, each of cost 1, that turn one sequence into the other. Two-row dynamic programme,
 * O(|a|·|b|) time and O(min(|a|, |b|)) memory.
 */
public final class Levenshtein {
    private Levenshtein() {
    }

    /** Distance between two strings counted in Unicode code points (not UTF-16 chars). */
    public static int distance(String a, String b) {
        return distance(a.codePoints().toArray(), b.codePoints().toArray());
    }

    /** Distance between two code-point (or any int) sequences. */
    public static int distance(int[] a, int[] b) {
        if (a.length < b.length) {
            int[] t = a;
            a = b;
            b = t;
        }
        int[] prev = new int[b.length + 1];
        int[] cur = new int[b.length + 1];
        for (int j = 0; j <= b.length; j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length; i++) {
            cur[0] = i;
            int ai = a[i - 1];
            for (int j = 1; j <= b.length; j++) {
                int sub = prev[j - 1] + (ai == b[j - 1] ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length];
    }

    /** Distance between two sequences of tokens (e.g. words), compared with {@link Object#equals}. */
    public static int distance(List<?> a, List<?> b) {
        if (a.size() < b.size()) {
            List<?> t = a;
            a = b;
            b = t;
        }
        int[] prev = new int[b.size() + 1];
        int[] cur = new int[b.size() + 1];
        for (int j = 0; j <= b.size(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.size(); i++) {
            cur[0] = i;
            Object ai = a.get(i - 1);
            for (int j = 1; j <= b.size(); j++) {
                int sub = prev[j - 1] + (Objects.equals(ai, b.get(j - 1)) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.size()];
    }
}
