package org.neuronscope.stats;

import org.neuronscope.HookPoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.NeuronScopeException;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The container: layout, merge, .npy files numpy can read, checkpoints. */
class NeuronStatisticsTest {
    static final List<String> GROUPS = List.of("text", "image", "audio");
    static final int L = 3, N = 50;

    static double[][][] random(SplittableRandom rng) {
        double[][][] v = new double[L][GROUPS.size()][N];
        for (double[][] a : v) {
            for (double[] b : a) {
                for (int n = 0; n < N; n++) {
                    b[n] = rng.nextGaussian() * 10;
                }
            }
        }
        return v;
    }

    static NeuronStatistics sample(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        NeuronStatistics s = NeuronStatistics.fromArrays(HookPoint.FFN_ACT, GROUPS,
                Map.of(Statistic.SUM, random(rng), Statistic.MAX, random(rng), Statistic.MIN, random(rng), Statistic.COUNT, random(rng)),
                new long[] {10 + seed, 20, 30}, 0f, 0.1f);
        s.setModelName("tiny");
        return s;
    }

    @Test
    void layoutIsLayerGroupNeuron() {
        double[][][] sum = new double[L][GROUPS.size()][N];
        sum[2][1][7] = 42;
        try (NeuronStatistics s = NeuronStatistics.fromArrays(HookPoint.FFN_ACT, GROUPS, Map.of(Statistic.SUM, sum), new long[] {1, 2, 3}, 0f, 0f)) {
            long flat = (2L * GROUPS.size() + 1) * N + 7;
            assertEquals(flat, s.offset(2, 1) + 7);
            assertEquals(42, s.segment(Statistic.SUM).getAtIndex(ValueLayout.JAVA_DOUBLE, flat));
            assertEquals(2, s.tokens(1));
            s.tokenCounts().setAtIndex(ValueLayout.JAVA_LONG, 1, 9);
            assertEquals(9, s.tokens(1), "tokenCounts() is the live array");
            assertThrows(IllegalArgumentException.class, () -> s.segment(Statistic.COUNT), "not held");
            assertThrows(IndexOutOfBoundsException.class, () -> s.offset(L, 0));
        }
        try (NeuronStatistics e = new NeuronStatistics(HookPoint.FFN_ACT, 2, 4, GROUPS, EnumSet.of(Statistic.MAX, Statistic.MIN, Statistic.WEIGHTED_SUM), 0f, 0f)) {
            assertEquals(Double.NEGATIVE_INFINITY, e.get(Statistic.MAX, 1, 2, 3));
            assertEquals(Double.POSITIVE_INFINITY, e.get(Statistic.MIN, 0, 0, 0));
            assertEquals(0.0, e.get(Statistic.WEIGHTED_SUM, 0, 0, 0));
        }
    }

    @Test
    void mergeAddsSumsAndCombinesExtrema() {
        try (NeuronStatistics a = sample(1); NeuronStatistics b = sample(2); NeuronStatistics merged = a.copy()) {
            merged.merge(b);
            for (int l = 0; l < L; l++) {
                for (int g = 0; g < GROUPS.size(); g++) {
                    for (int n = 0; n < N; n++) {
                        assertEquals(a.get(Statistic.SUM, l, g, n) + b.get(Statistic.SUM, l, g, n), merged.get(Statistic.SUM, l, g, n));
                        assertEquals(a.get(Statistic.COUNT, l, g, n) + b.get(Statistic.COUNT, l, g, n), merged.get(Statistic.COUNT, l, g, n));
                        assertEquals(Math.max(a.get(Statistic.MAX, l, g, n), b.get(Statistic.MAX, l, g, n)), merged.get(Statistic.MAX, l, g, n));
                        assertEquals(Math.min(a.get(Statistic.MIN, l, g, n), b.get(Statistic.MIN, l, g, n)), merged.get(Statistic.MIN, l, g, n));
                    }
                }
            }
            assertEquals(11 + 12, merged.tokens(0));
            assertEquals(40, merged.tokens(1));
        }
    }

    /** addSums names what differs: the group count against the columns, or the layers or width of the sums. */
    @Test
    void addSumsSaysWhichCountsDiffer() {
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, L, N, GROUPS, EnumSet.of(Statistic.SUM), 0f, 0.1f);
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            // the hooks' token weights opened with 2 columns, the statistics have 3 groups: the sizes agree for 3 x 2 x 75
            var twoColumns = arena.allocate((long) L * 2 * N * Double.BYTES);
            String m = assertThrows(IllegalArgumentException.class, () -> s.addSums(Statistic.SUM, twoColumns, 2, 0)).getMessage();
            assertTrue(m.contains("3 groups [text, image, audio]") && m.contains("sums with 2 columns"), m);
            var fewerLayers = arena.allocate((long) (L - 1) * 3 * N * Double.BYTES);
            m = assertThrows(IllegalArgumentException.class, () -> s.addSums(Statistic.SUM, fewerLayers, 3, 0)).getMessage();
            assertTrue(m.contains("they hold 2 layers, these statistics 3"), m);
            var wider = arena.allocate((long) L * 3 * (N + 1) * Double.BYTES);
            m = assertThrows(IllegalArgumentException.class, () -> s.addSums(Statistic.SUM, wider, 3, 0)).getMessage();
            assertTrue(m.contains("they hold 51 neurons per layer, these statistics 50"), m);
            var right = arena.allocate((long) L * 4 * N * Double.BYTES);
            right.setAtIndex(ValueLayout.JAVA_DOUBLE, (long) 4 * N + N + 7, 2.5); // layer 1, column 1 = group 0 at offset 1, neuron 7
            s.addSums(Statistic.SUM, right, 4, 1);
            assertEquals(2.5, s.get(Statistic.SUM, 1, 0, 7));
        }
    }

    @Test
    void mergeRejectsMismatchesNamingThem() {
        try (NeuronStatistics a = sample(1); NeuronStatistics other = sample(2)) {
            other.setModelName("another");
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.merge(other)).getMessage().contains("model"));
        }
        try (NeuronStatistics a = sample(1);
             NeuronStatistics groups = new NeuronStatistics(HookPoint.FFN_ACT, L, N, List.of("text", "audio", "image"), a.statistics(), 0f, 0.1f);
             NeuronStatistics thresholds = new NeuronStatistics(HookPoint.FFN_ACT, L, N, GROUPS, a.statistics(), 0.5f, 0.1f);
             NeuronStatistics shape = new NeuronStatistics(HookPoint.FFN_ACT, L, N + 1, GROUPS, a.statistics(), 0f, 0.1f)) {
            double before = a.get(Statistic.SUM, 0, 0, 0);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.merge(groups)).getMessage().contains("groups"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.merge(thresholds)).getMessage().contains("thresholds"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.merge(shape)).getMessage().contains("shape"));
            assertEquals(before, a.get(Statistic.SUM, 0, 0, 0), "a failed merge changes nothing");
        }
    }

    @Test
    void savedFilesAreNumpyFilesAndReadBack(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("stats");
        try (NeuronStatistics s = sample(3)) {
            s.metadata().put("dataset", "unit");
            s.save(dir);
            // an independent reading of the .npy 1.0 layout (what numpy.load does)
            byte[] bytes = Files.readAllBytes(dir.resolve("sum.npy"));
            assertEquals((byte) 0x93, bytes[0]);
            assertEquals("NUMPY", new String(bytes, 1, 5, StandardCharsets.US_ASCII));
            assertEquals(1, bytes[6]);
            assertEquals(0, bytes[7]);
            int headerLen = (bytes[8] & 0xFF) | (bytes[9] & 0xFF) << 8;
            assertEquals(0, (10 + headerLen) % 64, "data aligned to 64 bytes");
            String header = new String(bytes, 10, headerLen, StandardCharsets.US_ASCII);
            assertTrue(header.startsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3, 50), }"), header);
            assertTrue(header.endsWith("\n"));
            ByteBuffer data = ByteBuffer.wrap(bytes, 10 + headerLen, bytes.length - 10 - headerLen).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals((long) L * GROUPS.size() * N * 8, data.remaining());
            assertEquals(s.get(Statistic.SUM, 2, 1, 7), data.getDouble(10 + headerLen + (int) ((2L * 3 + 1) * N + 7) * 8));
            byte[] tok = Files.readAllBytes(dir.resolve("tokens.npy"));
            String tokHeader = new String(tok, 10, (tok[8] & 0xFF) | (tok[9] & 0xFF) << 8, StandardCharsets.US_ASCII);
            assertTrue(tokHeader.contains("'descr': '<i8'") && tokHeader.contains("'shape': (3,)"), tokHeader);

            try (NeuronStatistics back = NeuronStatistics.read(dir)) {
                assertEquals(s.statistics(), back.statistics());
                for (Statistic st : s.statistics()) {
                    assertArrayEquals(s.segment(st).toArray(ValueLayout.JAVA_DOUBLE), back.segment(st).toArray(ValueLayout.JAVA_DOUBLE), st.name());
                }
                assertArrayEquals(s.tokenCounts().toArray(ValueLayout.JAVA_LONG), back.tokenCounts().toArray(ValueLayout.JAVA_LONG));
                assertEquals(GROUPS, back.groups());
                assertEquals("tiny", back.modelName());
                assertEquals("unit", back.metadata().get("dataset"));
                assertEquals(0.1f, back.countAbsThreshold());
            }
        }
    }

    @Test
    void readRejectsWrongShapesAndTruncatedFiles(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("stats");
        try (NeuronStatistics s = sample(4)) {
            s.save(dir);
        }
        Npy.writeDoubles(dir.resolve("max.npy"), new long[] {3, 3, 49}, new double[3 * 3 * 49]);
        String msg = assertThrows(NeuronScopeException.class, () -> NeuronStatistics.read(dir)).getMessage();
        assertTrue(msg.contains("max.npy") && msg.contains("[3, 3, 50]"), msg);

        Npy.writeDoubles(dir.resolve("max.npy"), new long[] {3, 3, 50}, new double[3 * 3 * 50]);
        byte[] sum = Files.readAllBytes(dir.resolve("sum.npy"));
        Files.write(dir.resolve("sum.npy"), Arrays.copyOf(sum, sum.length - 8));
        msg = assertThrows(NeuronScopeException.class, () -> NeuronStatistics.read(dir)).getMessage();
        assertTrue(msg.contains("sum.npy") && msg.contains("truncated"), msg);

        Files.delete(dir.resolve("meta.json"));
        assertTrue(assertThrows(NeuronScopeException.class, () -> NeuronStatistics.read(dir)).getMessage().contains("meta.json"));
    }

    @Test
    void aCheckpointSurvivesAnInterruptedSave(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("ckpt");
        try (NeuronStatistics first = sample(5); NeuronStatistics second = sample(6)) {
            first.save(dir);
            // a crash after the old checkpoint was moved aside but before the new one was in place
            Files.move(dir, tmp.resolve("ckpt.old"));
            Files.createDirectories(tmp.resolve("ckpt.tmp"));
            Files.writeString(tmp.resolve("ckpt.tmp").resolve("meta.json"), "{ half written");
            assertTrue(NeuronStatistics.isSavedIn(dir));
            try (NeuronStatistics resumed = NeuronStatistics.read(dir)) {
                assertEquals(first.get(Statistic.SUM, 1, 2, 3), resumed.get(Statistic.SUM, 1, 2, 3), "resumes from the complete old one");
            }
            second.save(dir); // replaces, and clears the leftovers
            assertFalse(Files.exists(tmp.resolve("ckpt.tmp")));
            assertFalse(Files.exists(tmp.resolve("ckpt.old")));
            try (NeuronStatistics back = NeuronStatistics.read(dir)) {
                assertEquals(second.get(Statistic.SUM, 1, 2, 3), back.get(Statistic.SUM, 1, 2, 3));
            }
        }
    }

    @Test
    void closedStatisticsThrowInsteadOfCrashing() {
        NeuronStatistics s = sample(7);
        s.close();
        assertThrows(IllegalStateException.class, () -> s.segment(Statistic.SUM));
        assertThrows(IllegalStateException.class, () -> s.tokens(0));
        s.close(); // idempotent
    }

    /** Derived groups (MINER's special_text and prompt) against plain loops over the base groups. */
    @Test
    void unionsAddSumsAndCombineExtrema() {
        SplittableRandom rng = new SplittableRandom(3);
        int layers = 3;
        int groups = 5;
        int neurons = 40;
        Map<Statistic, double[][][]> values = new java.util.EnumMap<>(Statistic.class);
        for (Statistic st : List.of(Statistic.COUNT, Statistic.SUM, Statistic.MAX, Statistic.MIN)) {
            double[][][] v = new double[layers][groups][neurons];
            for (double[][] a : v) {
                for (double[] b : a) {
                    for (int n = 0; n < neurons; n++) {
                        b[n] = st == Statistic.COUNT ? rng.nextInt(100) : rng.nextGaussian();
                    }
                }
            }
            values.put(st, v);
        }
        long[] tokens = {10, 20, 30, 40, 50};
        List<String> names = List.of("text", "special", "image", "audio", "video");
        try (NeuronStatistics s = NeuronStatistics.fromArrays(HookPoint.FFN_ACT, names, values, tokens, 0f, 0f);
             NeuronStatistics u = s.withUnions(Map.of("special_text", List.of("text", "special")))) {
            assertEquals(List.of("text", "special", "image", "audio", "video", "special_text"), u.groups());
            assertEquals(30, u.tokens(5));
            for (int l = 0; l < layers; l++) {
                for (int n = 0; n < neurons; n++) {
                    for (int g = 0; g < groups; g++) {
                        assertEquals(s.get(Statistic.SUM, l, g, n), u.get(Statistic.SUM, l, g, n));
                    }
                    double[][] c = values.get(Statistic.COUNT)[l];
                    assertEquals(c[0][n] + c[1][n], u.get(Statistic.COUNT, l, 5, n));
                    assertEquals(values.get(Statistic.SUM)[l][0][n] + values.get(Statistic.SUM)[l][1][n], u.get(Statistic.SUM, l, 5, n), 1e-12);
                    assertEquals(Math.max(values.get(Statistic.MAX)[l][0][n], values.get(Statistic.MAX)[l][1][n]), u.get(Statistic.MAX, l, 5, n));
                    assertEquals(Math.min(values.get(Statistic.MIN)[l][0][n], values.get(Statistic.MIN)[l][1][n]), u.get(Statistic.MIN, l, 5, n));
                }
            }
            assertThrows(IllegalArgumentException.class, () -> s.withUnions(Map.of("text", List.of("image"))));
            assertThrows(IllegalArgumentException.class, () -> s.withUnions(Map.of("x", List.of("nope"))));
        }
    }
}
