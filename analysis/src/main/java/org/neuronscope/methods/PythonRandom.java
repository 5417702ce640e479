package org.neuronscope.methods;

/**
 * CPython's {@code random} module (its Mersenne Twister, {@code _randommodule.c}, and
 * {@code Random._randbelow}) for integer seeds: the same seed gives the same {@link #randint}
 * sequence as {@code random.seed(seed); random.randint(a, b)} in Python 3. The reference code of
 * MINER draws its random baseline this way (seed 2024); this class reproduces those draws.
 */
final class PythonRandom {
    private static final int N = 624;
    private static final int M = 397;
    private final int[] mt = new int[N];
    private int mti;

    /** {@code random.seed(seed)}: the absolute value's 32-bit words, lowest first, fed to init_by_array. */
    PythonRandom(long seed) {
        long v = Math.abs(seed); // Python seeds with abs(n); Long.MIN_VALUE is not a seed anyone passes
        int words = v >>> 32 != 0 ? 2 : 1;
        int[] key = new int[words];
        key[0] = (int) v;
        if (words == 2) {
            key[1] = (int) (v >>> 32);
        }
        initByArray(key);
    }

    private void initGenrand(int s) {
        mt[0] = s;
        for (mti = 1; mti < N; mti++) {
            mt[mti] = 1812433253 * (mt[mti - 1] ^ (mt[mti - 1] >>> 30)) + mti;
        }
    }

    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1, j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000;
    }

    /** genrand_uint32, as an unsigned value in a long. */
    long nextUint32() {
        if (mti >= N) {
            int kk;
            for (kk = 0; kk < N - M; kk++) {
                int y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7fffffff);
                mt[kk] = mt[kk + M] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
            }
            for (; kk < N - 1; kk++) {
                int y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7fffffff);
                mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
            }
            int y = (mt[N - 1] & 0x80000000) | (mt[0] & 0x7fffffff);
            mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
            mti = 0;
        }
        int y = mt[mti++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xffffffffL;
    }

    /** {@code random.getrandbits(k)} for 0 ≤ k ≤ 32. */
    long getrandbits(int k) {
        if (k < 0 || k > 32) {
            throw new IllegalArgumentException("k must be in [0, 32], got " + k);
        }
        return k == 0 ? 0 : nextUint32() >>> (32 - k);
    }

    /** {@code random.randint(a, b)}: a + _randbelow(b − a + 1), by rejection on bit_length bits. */
    int randint(int a, int b) {
        long n = (long) b - a + 1;
        if (n <= 0 || n > 1L << 31) {
            throw new IllegalArgumentException("empty or too wide range [" + a + ", " + b + "]");
        }
        int k = 64 - Long.numberOfLeadingZeros(n);
        long r = getrandbits(k);
        while (r >= n) {
            r = getrandbits(k);
        }
        return (int) (a + r);
    }
}
