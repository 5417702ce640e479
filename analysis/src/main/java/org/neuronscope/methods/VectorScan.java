package org.neuronscope.methods;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Selection}'s threshold scan with the Vector API: a vector of scores is compared at once, and
 * only vectors with a score at or above the threshold are looked at lane by lane (a few percent of
 * them for a top-2 % selection). Only called where {@link VectorKernels#ENABLED}, so without the
 * module it is never loaded.
 */
final class VectorScan {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int LANES = D.length();

    private VectorScan() {
    }

    /**
     * The indices {@code base + j} of {@code chunk[0, length)} whose score is at least {@code threshold}
     * (any score above −∞ when the threshold is −∞; NaN never), in order, into {@code out}.
     */
    static void collect(double[] chunk, int length, double threshold, int base, Selection.Candidates out) {
        boolean all = threshold == Double.NEGATIVE_INFINITY;
        int j = 0;
        for (; j + LANES <= length; j += LANES) {
            DoubleVector v = DoubleVector.fromArray(D, chunk, j);
            long bits = (all ? v.compare(VectorOperators.GT, Double.NEGATIVE_INFINITY) : v.compare(VectorOperators.GE, threshold)).toLong();
            for (; bits != 0; bits &= bits - 1) {
                int lane = Long.numberOfTrailingZeros(bits);
                out.add(base + j + lane, chunk[j + lane]);
            }
        }
        for (; j < length; j++) {
            double v = chunk[j];
            if (all ? v > Double.NEGATIVE_INFINITY : v >= threshold) {
                out.add(base + j, v);
            }
        }
    }
}
