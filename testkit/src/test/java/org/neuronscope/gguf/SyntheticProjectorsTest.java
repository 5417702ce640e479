package org.neuronscope.gguf;

import org.neuronscope.testkit.SyntheticProjectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the synthetic projectors hold, read back as files (that mtmd runs them is the runtime's encoder oracles). */
class SyntheticProjectorsTest {
    @TempDir
    Path tmp;

    @Test
    void theGatedSpecIsQwen25VlWithGateRowsAndBiaslessRmsNorms() {
        SyntheticProjectors.Spec spec = SyntheticProjectors.visionGated(64, 3);
        assertTrue(spec.gated());
        assertEquals("qwen2.5vl_merger", spec.writtenType());
        Path p = SyntheticProjectors.write(spec, tmp.resolve("gated.gguf"));
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals("qwen2.5vl_merger", f.getString("clip.projector_type"));
            assertTrue(f.getBoolean("clip.use_silu"), "Qwen2.5-VL's vision MLP is SiLU-gated");
            assertEquals(0, f.getInt("clip.vision.n_wa_pattern"));
            for (int l = 0; l < spec.layers(); l++) {
                String b = "v.blk." + l + ".";
                TensorInfo gate = f.tensor(b + "ffn_gate.weight");
                TensorInfo up = f.tensor(b + "ffn_up.weight");
                assertArrayEquals(up.shape(), gate.shape(), "gate and up have one row per neuron");
                assertEquals(spec.feedForward(), gate.rows());
                assertEquals(spec.feedForward(), f.tensor(b + "ffn_gate.bias").elements());
                assertFalse(java.util.Arrays.equals(f.row(b + "ffn_gate.weight", 0), f.row(b + "ffn_up.weight", 0)), "gate and up are drawn apart");
                assertFalse(f.containsTensor(b + "ln1.bias") || f.containsTensor(b + "ln2.bias"), "RMS norms have no bias");
            }
            assertFalse(f.containsTensor("v.post_ln.bias"));
        }
        // the non-gated spec with the same seed is Qwen2-VL's, without gates, its norms with biases
        Path plain = SyntheticProjectors.write(spec.withGated(false), tmp.resolve("plain.gguf"));
        try (GgufFile f = GgufFile.open(plain)) {
            assertEquals("qwen2vl_merger", f.getString("clip.projector_type"));
            assertFalse(f.containsTensor("v.blk.0.ffn_gate.weight"));
            assertTrue(f.containsTensor("v.blk.0.ln1.bias"));
            assertFalse(f.containsKey("clip.use_silu"));
        }
    }

    @Test
    void onlyQwen2VlTowersAreWrittenGated() {
        var e = assertThrows(IllegalArgumentException.class, () -> SyntheticProjectors.gemma3(64, 1).withGated(true));
        assertTrue(e.getMessage().contains("gemma3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SyntheticProjectors.audio(64, 1).withGated(true));
    }

    @Test
    void aGatedVisionTowerPairsWithAudioAsQwen25Omni() {
        Path p = SyntheticProjectors.writeCombined(SyntheticProjectors.visionGated(64, 5), SyntheticProjectors.audio(64, 6), tmp.resolve("omni.gguf"));
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals("qwen2.5vl_merger", f.getString("clip.vision.projector_type"));
            assertEquals("qwen2a", f.getString("clip.audio.projector_type"));
            assertTrue(f.containsTensor("v.blk.0.ffn_gate.weight"));
            assertFalse(f.containsTensor("a.blk.0.ffn_gate.weight"));
            assertTrue(f.containsTensor("a.blk.0.ln1.bias"), "the audio encoder keeps its LayerNorm biases");
        }
    }
}
