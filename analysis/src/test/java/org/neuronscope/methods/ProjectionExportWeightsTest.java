package org.neuronscope.methods;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufWriter;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ffn.up / ffn.down masks in the weights, element by element: {@code x ← s·x + c} of unit i is row i
 * times s and bias i as s·b + c (the synthetic language models have no FFN biases, so the logits
 * oracle, ProjectionExportOracleTest, covers s only; this covers c).
 */
class ProjectionExportWeightsTest {
    static final int FF = 4, EMBD = 3;

    static float w(long r, int i) {
        return 0.1f * (r + 1) - 0.03f * i;
    }

    static Path model(Path dir, boolean bias) {
        GgufWriter g = new GgufWriter();
        g.putString("general.architecture", "llama");
        g.putUint32("llama.block_count", 1);
        g.addTensor("blk.0.ffn_up.weight", GgmlType.F32, new long[] {EMBD, FF}, (r, out) -> {
            for (int i = 0; i < out.length; i++) {
                out[i] = w(r, i);
            }
        });
        g.addTensor("blk.0.ffn_down.weight", GgmlType.F32, new long[] {FF, EMBD}, (r, out) -> {
            for (int i = 0; i < out.length; i++) {
                out[i] = -w(r, i);
            }
        });
        if (bias) {
            g.addTensor("blk.0.ffn_down.bias", GgmlType.F32, new long[] {EMBD}, (r, out) -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = 0.5f + i;
                }
            });
        }
        Path p = dir.resolve(bias ? "with-bias.gguf" : "no-bias.gguf");
        g.write(p);
        return p;
    }

    @Test
    void affineDownUnitsGoThroughRowAndBias(@TempDir Path dir) {
        Path src = model(dir, true);
        float[][] scale = {{1f, 0f, 2f}};
        float[][] shift = {{0f, 0.75f, -1f}}; // unit 1: set to 0.75; unit 2: 2x - 1
        Path out = dir.resolve("out.gguf");
        AblationExport.Summary s = AblationExport.write(src, HookPoint.FFN_DOWN, InterventionMask.of(scale, shift), out, Map.of());
        assertEquals(2, s.neurons());
        try (GgufFile g = GgufFile.open(out)) {
            for (int r = 0; r < EMBD; r++) {
                float[] row = g.row("blk.0.ffn_down.weight", r);
                for (int i = 0; i < FF; i++) {
                    assertEquals(-w(r, i) * scale[0][r], row[i], 0f, "row " + r);
                }
            }
            assertArrayEquals(new float[] {0.5f, 0.75f, 2 * 2.5f - 1}, g.row("blk.0.ffn_down.bias", 0), 0f);
            for (int r = 0; r < FF; r++) {
                float[] row = g.row("blk.0.ffn_up.weight", r);
                for (int i = 0; i < EMBD; i++) {
                    assertEquals(w(r, i), row[i], 0f, "ffn_up untouched");
                }
            }
        }
        // a constant without a bias tensor, and a width that is not the tensor's rows, are refused before writing
        Path noBias = model(dir, false);
        String msg = assertThrows(IllegalArgumentException.class,
                () -> AblationExport.write(noBias, HookPoint.FFN_DOWN, InterventionMask.of(scale, shift), dir.resolve("x.gguf"), Map.of())).getMessage();
        assertTrue(msg.contains("blk.0.ffn_down.bias"), msg);
        msg = assertThrows(IllegalArgumentException.class, () -> AblationExport.write(src, HookPoint.FFN_UP, InterventionMask.of(scale, shift),
                dir.resolve("y.gguf"), Map.of())).getMessage();
        assertTrue(msg.contains("4 rows"), msg);
        msg = assertThrows(IllegalArgumentException.class, () -> AblationExport.write(src, HookPoint.RESID_POST, InterventionMask.of(scale, shift),
                dir.resolve("z.gguf"), Map.of())).getMessage();
        assertTrue(msg.contains("resid.post"), msg);
        assertTrue(!java.nio.file.Files.exists(dir.resolve("x.gguf")) && !java.nio.file.Files.exists(dir.resolve("y.gguf")));
        // an up unit deactivated: its row zeroed, the others copied
        Path up = dir.resolve("up.gguf");
        AblationExport.write(src, HookPoint.FFN_UP, InterventionMask.of(new float[][] {{1f, 0f, 1f, 1f}}, new float[1][4]), up, Map.of());
        try (GgufFile g = GgufFile.open(up)) {
            assertArrayEquals(new float[EMBD], g.row("blk.0.ffn_up.weight", 1), 0f);
            assertEquals(w(2, 1), g.row("blk.0.ffn_up.weight", 2)[1], 0f);
        }
    }
}
