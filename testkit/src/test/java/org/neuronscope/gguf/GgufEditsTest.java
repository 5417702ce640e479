package org.neuronscope.gguf;

import org.neuronscope.testkit.LlamaTree;

import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GgufEditsTest {
    @TempDir
    Path tmp;

    @Test
    void zeroRowsZeroesExactlyThoseRowsInEveryWritableType() throws IOException {
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0}) {
            ModelSpec spec = ModelSpec.builder("qwen3", LlamaTree.vocab("llama-spm")).layers(2).weightType(type).build();
            Path in = SyntheticModels.write(spec, tmp.resolve("in-" + type + ".gguf"));
            Path out = tmp.resolve("out-" + type + ".gguf");
            int[] gateRows = {0, 17, 127};
            GgufEdits.zeroRows(in, out, Map.of("blk.1.ffn_gate.weight", gateRows, "blk.0.ffn_up.weight", new int[] {3, 3}));

            byte[] a = Files.readAllBytes(in);
            byte[] b = Files.readAllBytes(out);
            assertEquals(a.length, b.length, type + ": same layout");
            try (GgufFile fa = GgufFile.open(in); GgufFile fb = GgufFile.open(out)) {
                assertEquals(fa.metadata(), fb.metadata());
                assertEquals(fa.tensors(), fb.tensors(), "same tensors at the same offsets");
                // the files differ only inside the zeroed rows, which are all-zero bytes and decode to zeros
                boolean[] zeroed = new boolean[a.length];
                mark(fb, "blk.1.ffn_gate.weight", gateRows, zeroed);
                mark(fb, "blk.0.ffn_up.weight", new int[] {3}, zeroed);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(zeroed[i] ? 0 : a[i], b[i], type + ": byte " + i);
                }
                float[] zeros = new float[64];
                for (int r : gateRows) {
                    assertArrayEquals(zeros, fb.row("blk.1.ffn_gate.weight", r), type + " row " + r);
                    assertFalse(Arrays.equals(zeros, fa.row("blk.1.ffn_gate.weight", r)), "the row was not zero before");
                }
                assertArrayEquals(fa.row("blk.1.ffn_gate.weight", 16), fb.row("blk.1.ffn_gate.weight", 16));
            }
        }
    }

    private static void mark(GgufFile f, String tensor, int[] rows, boolean[] zeroed) {
        TensorInfo t = f.tensor(tensor);
        for (int r : rows) {
            long from = f.dataStart() + t.offset() + r * t.rowBytes();
            Arrays.fill(zeroed, (int) from, (int) (from + t.rowBytes()), true);
            byte[] bytes = f.tensorData(tensor).asSlice(r * t.rowBytes(), t.rowBytes()).toArray(ValueLayout.JAVA_BYTE);
            assertEquals(Set.of((byte) 0), Set.copyOf(asList(bytes)), "Q8_0: d = 0 and q = 0; F16/F32: +0");
        }
    }

    private static java.util.List<Byte> asList(byte[] b) {
        Byte[] boxed = new Byte[b.length];
        for (int i = 0; i < b.length; i++) {
            boxed[i] = b[i];
        }
        return Arrays.asList(boxed);
    }

    @Test
    void badRequestsWriteNothing() {
        Path in = SyntheticModels.write(ModelSpec.builder("llama", LlamaTree.vocab("llama-spm")).layers(1).build(), tmp.resolve("in.gguf"));
        Path out = tmp.resolve("out.gguf");
        assertThrows(IllegalArgumentException.class, () -> GgufEdits.zeroRows(in, out, Map.of("nope.weight", new int[] {0})));
        assertThrows(IllegalArgumentException.class, () -> GgufEdits.zeroRows(in, out, Map.of("blk.0.ffn_up.weight", new int[] {128})));
        assertThrows(IllegalArgumentException.class, () -> GgufEdits.zeroRows(in, out, Map.of("blk.0.ffn_up.weight", new int[] {-1})));
        assertThrows(IllegalArgumentException.class, () -> GgufEdits.zeroRows(in, in, Map.of()), "in place");
        assertFalse(Files.exists(out));
    }
}
