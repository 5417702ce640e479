package org.neuronscope.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.UnsupportedArchitectureException;
import org.neuronscope.methods.AblationExport;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.testkit.LlamaTree;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What {@link AblationExport} writes, byte by byte; the logits oracle is AblationExportOracleTest (runtime). */
class AblationExportTest {
    @TempDir
    Path tmp;

    @Test
    void gatedFfnScalesUpRowsAndZeroesGateRowsOnlyForDeactivatedNeurons() {
        Path in = SyntheticModels.write(ModelSpec.builder("qwen3", LlamaTree.vocab("llama-spm")).layers(2).build(), tmp.resolve("in.gguf"));
        NeuronSet set = new NeuronSet("t", HookPoint.FFN_ACT, 2, 128, Map.of());
        set.add("off", 0, 3, 1).add("half", 0, 5, 1);
        InterventionMask off = InterventionMask.of(set, List.of("off"), new Intervention.Deactivate());
        InterventionMask half = InterventionMask.of(set, List.of("half"), new Intervention.Scale(0.5f));
        // both in one mask: scale[0][3] = 0, scale[0][5] = 0.5
        float[][] scale = off.scale();
        scale[0][5] = half.scale()[0][5];
        Path out = tmp.resolve("out.gguf");
        AblationExport.Summary s = AblationExport.write(in, maskOf(scale), out, Map.of("mode", "test"));
        assertArrayEquals(new int[] {2, 0}, s.neuronsPerLayer());
        assertEquals(List.of("blk.0.ffn_gate.weight", "blk.0.ffn_up.weight"), s.editedTensors().stream().sorted().toList());
        try (GgufFile a = GgufFile.open(in); GgufFile b = GgufFile.open(out)) {
            assertEquals("test", b.getString(AblationExport.METADATA_PREFIX + "mode"));
            float[] zeros = new float[64];
            assertArrayEquals(zeros, b.row("blk.0.ffn_up.weight", 3));
            assertArrayEquals(zeros, b.row("blk.0.ffn_gate.weight", 3));
            float[] up5 = a.row("blk.0.ffn_up.weight", 5);
            for (int i = 0; i < up5.length; i++) {
                up5[i] *= 0.5f; // exact in F32
            }
            assertArrayEquals(up5, b.row("blk.0.ffn_up.weight", 5));
            assertArrayEquals(a.row("blk.0.ffn_gate.weight", 5), b.row("blk.0.ffn_gate.weight", 5), "a scaled neuron keeps its gate");
            assertArrayEquals(a.row("blk.0.ffn_up.weight", 4), b.row("blk.0.ffn_up.weight", 4));
            for (TensorInfo t : a.tensors().values()) {
                if (!s.editedTensors().contains(t.name())) {
                    assertEquals(a.tensorData(t.name()).mismatch(b.tensorData(t.name())), -1L, t.name() + " is copied byte for byte");
                }
            }
        }
    }

    @Test
    void nonGatedFfnZeroesUpRowAndBiasOrScalesTheDownColumn() {
        Path in = tmp.resolve("bert.gguf");
        SplittableRandom rng = new SplittableRandom(1);
        writeNonGated(in, GgmlType.F32, rng);
        float[][] scale = ones(1, 8);
        scale[0][2] = 0f;
        scale[0][6] = 3f;
        Path out = tmp.resolve("out.gguf");
        AblationExport.write(in, maskOf(scale), out, Map.of());
        try (GgufFile a = GgufFile.open(in); GgufFile b = GgufFile.open(out)) {
            assertArrayEquals(new float[32], b.row("blk.0.ffn_up.weight", 2));
            assertArrayEquals(a.row("blk.0.ffn_up.weight", 6), b.row("blk.0.ffn_up.weight", 6), "act(s·z) != s·act(z): the up row stays");
            float[] biasA = a.row("blk.0.ffn_up.bias", 0);
            float[] biasB = b.row("blk.0.ffn_up.bias", 0);
            for (int n = 0; n < 8; n++) {
                assertEquals(n == 2 ? 0f : biasA[n], biasB[n], "bias " + n);
            }
            for (int r = 0; r < 32; r++) {
                float[] da = a.row("blk.0.ffn_down.weight", r);
                float[] db = b.row("blk.0.ffn_down.weight", r);
                for (int n = 0; n < 8; n++) {
                    assertEquals(n == 6 ? 3f * da[n] : da[n], db[n], "down row " + r + " column " + n);
                }
            }
        }
    }

    @Test
    void refusesWhatNoWeightEditExpressesAndWritesNothing() {
        Path in = tmp.resolve("bert.gguf");
        writeNonGated(in, GgmlType.F32, new SplittableRandom(2));
        Path out = tmp.resolve("out.gguf");
        NeuronSet set = new NeuronSet("t", HookPoint.FFN_ACT, 1, 8, Map.of()).add("g", 0, 1, 1);
        var e = assertThrows(IllegalArgumentException.class,
                () -> AblationExport.write(in, InterventionMask.of(set, List.of("g"), new Intervention.SetTo(1.5f)), out, Map.of()));
        assertTrue(e.getMessage().contains("no weight edit"), e.getMessage());
        NeuronSet twoLayers = new NeuronSet("t", HookPoint.FFN_ACT, 2, 8, Map.of()).add("g", 0, 1, 1);
        assertThrows(IllegalArgumentException.class,
                () -> AblationExport.write(in, InterventionMask.of(twoLayers, List.of("g"), new Intervention.Deactivate()), out, Map.of()));
        NeuronSet wide = new NeuronSet("t", HookPoint.FFN_ACT, 1, 16, Map.of()).add("g", 0, 1, 1);
        assertThrows(IllegalArgumentException.class,
                () -> AblationExport.write(in, InterventionMask.of(wide, List.of("g"), new Intervention.Deactivate()), out, Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> AblationExport.write(in, InterventionMask.of(set, List.of("g"), new Intervention.Deactivate()), in, Map.of()), "in place");
        assertFalse(Files.exists(out));
    }

    @Test
    void quantisedRowsAreZeroedInAnyTypeButScaledOnlyWhereTheyCanBeReEncoded() {
        Path in = tmp.resolve("q4k.gguf");
        writeNonGated(in, GgmlType.Q4_K, new SplittableRandom(3));
        float[][] scale = ones(1, 256);
        scale[0][4] = 0f;
        Path out = tmp.resolve("out.gguf");
        AblationExport.write(in, maskOf(scale), out, Map.of());
        try (GgufFile b = GgufFile.open(out)) {
            TensorInfo up = b.tensor("blk.0.ffn_up.weight");
            byte[] row = b.tensorData(up.name()).asSlice(4 * up.rowBytes(), up.rowBytes()).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(new byte[row.length], row, "Q4_K row 4: d = dmin = 0, so every value is 0");
        }
        scale[0][4] = 0.5f; // a down column of Q4_K rows: would need ggml's quantiser
        var e = assertThrows(IllegalArgumentException.class, () -> AblationExport.write(in, maskOf(scale), tmp.resolve("o2.gguf"), Map.of()));
        assertTrue(e.getMessage().contains("Q4_K"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("o2.gguf")));
    }

    @Test
    void mixtureOfExpertsIsAnUnsupportedArchitecture() {
        Path in = tmp.resolve("moe.gguf");
        GgufWriter w = new GgufWriter().putString("general.architecture", "qwen2moe").putUint32("qwen2moe.block_count", 1);
        w.addTensor("blk.0.ffn_up_exps.weight", GgmlType.F32, new long[] {32, 8, 2}, (r, o) -> { });
        w.write(in);
        float[][] scale = ones(1, 8);
        scale[0][0] = 0f;
        var e = assertThrows(UnsupportedArchitectureException.class, () -> AblationExport.write(in, maskOf(scale), tmp.resolve("o.gguf"), Map.of()));
        assertTrue(e.getMessage().contains("mixture-of-experts"), e.getMessage());
    }

    @Test
    void bf16EncodingRoundsToNearestEvenAsGgmlDoes() {
        float[] in = {1.0f, Float.intBitsToFloat(0x3F808000), Float.intBitsToFloat(0x3F818000), Float.intBitsToFloat(0x3F808001), -2.5f, Float.NaN};
        short[] expected = {0x3F80, 0x3F80, 0x3F82, 0x3F81, (short) 0xC020, 0x7FC0};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * in.length);
            Quantization.encodeRow(GgmlType.BF16, in, seg);
            for (int i = 0; i < in.length; i++) {
                assertEquals(expected[i], seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i), "element " + i);
            }
        }
    }

    /** A one-layer non-gated FFN, BERT-like, with an up bias; matrices of {@code type} (F32: embedding 32, FFN 8; Q4_K: 256 and 256). */
    private static void writeNonGated(Path file, GgmlType type, SplittableRandom rng) {
        int emb = type == GgmlType.Q4_K ? 256 : 32;
        int ff = type == GgmlType.Q4_K ? 256 : 8;
        GgufWriter w = new GgufWriter().putString("general.architecture", "bert").putUint32("bert.block_count", 1);
        if (type == GgmlType.Q4_K) {
            w.addEncodedTensor("blk.0.ffn_up.weight", type, new long[] {emb, ff}, (r, o) -> fillRandom(o, rng));
            w.addEncodedTensor("blk.0.ffn_down.weight", type, new long[] {ff, emb}, (r, o) -> fillRandom(o, rng));
        } else {
            w.addTensor("blk.0.ffn_up.weight", type, new long[] {emb, ff}, (r, o) -> fillRandom(o, rng));
            w.addTensor("blk.0.ffn_down.weight", type, new long[] {ff, emb}, (r, o) -> fillRandom(o, rng));
        }
        w.addTensor("blk.0.ffn_up.bias", GgmlType.F32, new long[] {ff}, (r, o) -> fillRandom(o, rng));
        w.addTensor("token_embd.weight", GgmlType.F32, new long[] {emb, 4}, (r, o) -> fillRandom(o, rng));
        w.write(file);
    }

    private static void fillRandom(float[] o, SplittableRandom rng) {
        for (int i = 0; i < o.length; i++) {
            o[i] = (float) rng.nextDouble(-1, 1);
        }
    }

    private static void fillRandom(MemorySegment o, SplittableRandom rng) {
        for (long i = 0; i < o.byteSize(); i++) {
            o.set(ValueLayout.JAVA_BYTE, i, (byte) rng.nextInt(256));
        }
    }

    private static float[][] ones(int layers, int n) {
        float[][] a = new float[layers][n];
        for (float[] r : a) {
            java.util.Arrays.fill(r, 1f);
        }
        return a;
    }

    private static InterventionMask maskOf(float[][] scale) {
        return InterventionMask.of(scale, new float[scale.length][scale[0].length]);
    }
}
