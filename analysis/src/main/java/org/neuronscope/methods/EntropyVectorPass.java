package org.neuronscope.methods;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * LAPE's pass over the counts with the Vector API ({@code jdk.incubator.vector}): the same results as
 * {@link EntropySelection}'s scalar pass, for JVMs started with {@code --add-modules
 * jdk.incubator.vector} (see {@link VectorKernels}). It is only called from a workspace made for the
 * vector kernel, which {@link VectorKernels#ENABLED} allows, so without the module it is never loaded.
 *
 * <p>The lanes are adjacent neurons of a layer; a chunk of them walks down the K group rows (each row
 * read straight from the statistics, once). Per group row it counts the values below the window exactly
 * ({@code c < loC[g]}, the scalar pass's thresholds) and compresses those inside it; per neuron it
 * accumulates, in double, S = Σp, Σp² and max p. The collision entropy ln(S²/Σp²) ≤ H rules most neurons
 * out without a logarithm; for the chunks where some neuron is left, the rows are read again (from L1)
 * for {@code H ≈ −Σ q·ln q}, q = p/S, with {@link #ln}, a polynomial logarithm whose error is at most
 * {@link #LN_ERROR}: that H is within {@link #entropyError} of the exact one (every q weighs the
 * logarithm's error once, Σq = 1), and a listed neuron is a candidate if it is ≤ cut-off + error.
 * Neurons outside the range where the bounds hold (S outside [1e-150, 1e150], negative or non-finite
 * counts) get the exact formula instead.
 */
final class EntropyVectorPass {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int LANES = D.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /** |ln(x) − {@link #ln}(x)| for every positive normal double x (checked by a test over a dense sweep). */
    static final double LN_ERROR = 2e-9;

    /** ln(1+f) = f − f²/2 + f³·P(f) on [√½ − 1, √2 − 1]: P of degree 7 fitted for the least maximum error (1.3e-9). */
    private static final double P0 = 0.33333328275962104, P1 = -0.25001059622863736, P2 = 0.20001615236561515,
            P3 = -0.16616518978435207, P4 = 0.14190020869135253, P5 = -0.1320793594762404, P6 = 0.1285484288606179,
            P7 = -0.07630989871998976;
    private static final double SQRT2 = Math.sqrt(2), LN2 = Math.log(2);
    /**
     * The range of S in which the bounds hold: {@link #entropyError} (subnormal p cannot matter) and the
     * collision bound (S² and the largest p² neither overflow nor underflow).
     */
    private static final double S_MIN = 1e-150, S_MAX = 1e150;

    private EntropyVectorPass() {
    }

    static int lanes() {
        return LANES;
    }

    /**
     * A bound on |approximate H − exact H| for K groups: the logarithm's error weighted by Σq = 1 (q below
     * the normal range weigh less than 1e−300 however wrong their logarithm), the roundings of q = count ·
     * (1/tokens) · (1/S) (a relative (K+4)·2^−53 that moves H by less than that times 2 ln K + 1) and of
     * the K-term sum (K·2^−53·ln K), all with a wide margin.
     */
    static double entropyError(int groups) {
        return 2 * LN_ERROR + 1e-12 + groups * (groups + 10.0) * 1e-15;
    }

    /**
     * ln x within {@link #LN_ERROR} for positive normal x; a finite value of magnitude below 750 for
     * every other input (0, subnormal, negative, infinite), so that 0·ln 0 is 0 and tiny p stay tiny.
     * x = 2^e·m with m in [√½, √2), f = m − 1.
     */
    static DoubleVector ln(DoubleVector x) {
        LongVector bits = x.reinterpretAsLongs();
        DoubleVector m = bits.and(0x000FFFFFFFFFFFFFL).or(0x3FF0000000000000L).reinterpretAsDoubles();
        DoubleVector e = (DoubleVector) bits.lanewise(VectorOperators.LSHR, 52).and(0x7FFL).sub(1023L).convert(VectorOperators.L2D, 0);
        VectorMask<Double> high = m.compare(VectorOperators.GT, SQRT2);
        m = m.blend(m.mul(0.5), high);
        e = e.add(1.0, high);
        DoubleVector f = m.sub(1.0);
        DoubleVector p = f.fma(P7, P6);
        p = p.fma(f, DoubleVector.broadcast(D, P5));
        p = p.fma(f, DoubleVector.broadcast(D, P4));
        p = p.fma(f, DoubleVector.broadcast(D, P3));
        p = p.fma(f, DoubleVector.broadcast(D, P2));
        p = p.fma(f, DoubleVector.broadcast(D, P1));
        p = p.fma(f, DoubleVector.broadcast(D, P0));
        DoubleVector f2 = f.mul(f);
        // f − f²/2 + f³·P, then + e·ln 2
        DoubleVector lnm = p.mul(f2.mul(f)).sub(f2.mul(0.5)).add(f);
        return e.mul(LN2).add(lnm);
    }

    /** The scalar view of {@link #ln}, for its test: ln of each value of {@code x}. */
    static double[] ln(double[] x) {
        double[] out = new double[x.length];
        double[] buf = new double[LANES];
        for (int i = 0; i < x.length; i += LANES) {
            int n = Math.min(LANES, x.length - i);
            Arrays.fill(buf, 1.0);
            System.arraycopy(x, i, buf, 0, n);
            ln(DoubleVector.fromArray(D, buf, 0)).intoArray(buf, 0);
            System.arraycopy(buf, 0, out, i, n);
        }
        return out;
    }

    /**
     * The pass, as {@code EntropySelection.Kernel.pass}: with {@code loC != null} (a window) counts the
     * values below it into {@code k.below} and keeps those inside it (as exact p) in the kept values;
     * with {@code candidates}, every neuron whose max p reaches {@code listLo} and whose approximate H
     * (within {@link #entropyError}) is at most {@code hMax} becomes a candidate.
     */
    static void pass(EntropySelection.Kernel k, double[] loC, double[] hiC, double listLo, double hMax, boolean candidates) {
        Pass pass = new Pass(k, loC, hiC, listLo, hMax);
        for (int l = 0; l < k.layers; l++) {
            pass.layer(l, candidates);
            pass.tail(l, candidates);
        }
        k.below = pass.below;
        k.keptN = pass.keptN;
    }

    /**
     * One pass's state. The vector loops cover whole chunks of LANES neurons (the few neurons after the
     * last whole chunk of a layer take the exact scalar path, {@link #tail}): every vector operation of a
     * loop must be inlined into it, or its vectors are boxed, and masked tails would double the code.
     */
    private static final class Pass {
        final EntropySelection.Kernel k;
        final MemorySegment count;
        final int groups, neurons, wholeChunks;
        final double[] recip, tokens, loC, hiC;
        final double listLo, hMax;
        /** e^hMax with a margin for the roundings of S² and Σp² (+∞ when hMax is). */
        final double collisionLimit;
        final double[] hLanes = new double[LANES], maxLanes = new double[LANES];
        long below;
        int keptN;

        Pass(EntropySelection.Kernel k, double[] loC, double[] hiC, double listLo, double hMax) {
            this.k = k;
            this.count = k.count;
            this.groups = k.groups;
            this.neurons = k.neurons;
            this.wholeChunks = neurons - neurons % LANES;
            this.recip = k.recipD;
            this.tokens = k.tokensD;
            this.loC = loC;
            this.hiC = hiC;
            this.listLo = listLo;
            this.hMax = hMax;
            this.collisionLimit = Math.exp(hMax) * (1 + 1e-9);
        }

        /** A layer: the window values (if any) and, with {@code candidates}, the candidates. */
        void layer(int l, boolean candidates) {
            long layerBase = (long) l * groups * neurons * Double.BYTES;
            boolean window = loC != null;
            if (window) {
                k.ensureKept(keptN + groups * wholeChunks + LANES); // every value of the layer (a store writes LANES)
            }
            double[] kept = k.kept(), recip = this.recip, tokens = this.tokens, loC = this.loC, hiC = this.hiC;
            long below = this.below;
            int keptN = this.keptN;
            double listLo = this.listLo, hMax = this.hMax, collisionLimit = this.collisionLimit;
            MemorySegment count = this.count;
            int groups = this.groups, neurons = this.neurons;
            for (int n0 = 0; n0 < wholeChunks; n0 += LANES) {
                DoubleVector s = DoubleVector.zero(D), squares = s, min = s, max = DoubleVector.broadcast(D, Double.NEGATIVE_INFINITY);
                for (int g = 0; g < groups; g++) {
                    DoubleVector c = DoubleVector.fromMemorySegment(D, count, layerBase + ((long) g * neurons + n0) * Double.BYTES, ORDER);
                    if (window) {
                        VectorMask<Double> isBelow = c.compare(VectorOperators.LT, loC[g]);
                        below += isBelow.trueCount();
                        VectorMask<Double> inside = c.compare(VectorOperators.LE, hiC[g]).andNot(isBelow);
                        if (inside.anyTrue()) { // p = c / tokens exactly, as the order statistic needs
                            DoubleVector p = tokens[g] == 0 ? DoubleVector.zero(D) : c.compress(inside).div(tokens[g]);
                            p.intoArray(kept, keptN);
                            keptN += inside.trueCount();
                        }
                    }
                    DoubleVector p = c.mul(recip[g]);
                    s = s.add(p);
                    squares = p.fma(p, squares);
                    max = max.max(p);
                    min = min.min(c);
                }
                if (!candidates) {
                    continue;
                }
                VectorMask<Double> trusted = s.compare(VectorOperators.GE, S_MIN).and(s.compare(VectorOperators.LE, S_MAX))
                        .and(min.compare(VectorOperators.GE, 0.0));
                // H ≥ H_2 = ln(S² / Σp²) (the collision entropy): S² > e^hMax·Σp² rules a neuron out, without a logarithm
                VectorMask<Double> ruledOut = s.mul(s).compare(VectorOperators.GT, squares.mul(collisionLimit)).and(trusted);
                VectorMask<Double> listed = max.compare(VectorOperators.GE, listLo).andNot(ruledOut);
                if (!listed.anyTrue()) {
                    continue;
                }
                // H = −Σ q·ln q with q = p / S: the rows again, from L1
                DoubleVector inverse = DoubleVector.broadcast(D, 1.0).div(s), t = DoubleVector.zero(D);
                for (int g = 0; g < groups; g++) {
                    DoubleVector c = DoubleVector.fromMemorySegment(D, count, layerBase + ((long) g * neurons + n0) * Double.BYTES, ORDER);
                    DoubleVector q = c.mul(recip[g]).mul(inverse);
                    t = q.fma(ln(q), t);
                }
                DoubleVector h = t.neg();
                long chosen = listed.and(h.compare(VectorOperators.LE, hMax).or(trusted.not())).toLong();
                if (chosen != 0) {
                    h.intoArray(hLanes, 0);
                    max.intoArray(maxLanes, 0);
                    store(l, n0, chosen, trusted.not().toLong());
                }
            }
            this.below = below;
            this.keptN = keptN;
        }

        /** The chosen lanes as candidates; untrusted lanes get the exact H, and only if it is low enough. */
        private void store(int l, int n0, long chosen, long untrusted) {
            k.ensureCandidates(k.candN + LANES);
            for (; chosen != 0; chosen &= chosen - 1) {
                int lane = Long.numberOfTrailingZeros(chosen);
                int n = n0 + lane;
                double h = (untrusted & (1L << lane)) != 0 ? k.exactEntropy(l, n) : hLanes[lane];
                if (h <= hMax) {
                    k.addCandidate(l, n, h, (float) maxLanes[lane]);
                }
            }
        }

        /** The neurons after the last whole chunk of layer l, value by value and with the exact H. */
        void tail(int l, boolean candidates) {
            for (int n = wholeChunks; n < neurons; n++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int g = 0; g < groups; g++) {
                    double c = count.getAtIndex(ValueLayout.JAVA_DOUBLE, (long) (l * groups + g) * neurons + n);
                    if (loC != null) {
                        k.ensureKept(keptN + 1);
                        if (c < loC[g]) {
                            below++;
                        } else if (c <= hiC[g]) {
                            k.kept()[keptN++] = tokens[g] == 0 ? 0.0 : c / tokens[g];
                        }
                    }
                    max = Math.max(max, c * recip[g]);
                }
                if (candidates && max >= listLo) {
                    double h = k.exactEntropy(l, n);
                    if (h <= hMax) {
                        k.ensureCandidates(k.candN + 1);
                        k.addCandidate(l, n, h, (float) max);
                    }
                }
            }
        }
    }
}
