package org.neuronscope.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.methods.Manu;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code select --method manu --protocol reference}: one --stats per unit point, one set file per point, the library's cut. */
class SelectManuReferenceTest {
    @TempDir
    Path dir;

    static NeuronStatistics stats(HookPoint h, int layers, int width, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<Statistic, double[][][]> a = new EnumMap<>(Statistic.class);
        for (Statistic s : new Statistic[] {Statistic.SUM, Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.COUNT_ABS}) {
            a.put(s, new double[layers][2][width]);
        }
        long t = 20;
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < 2; g++) {
                for (int u = 0; u < width; u++) {
                    double m = rng.nextDouble() * (g == 0 ? 2 : 1), abs = Math.abs(m) + rng.nextDouble();
                    a.get(Statistic.SUM)[l][g][u] = m * t;
                    a.get(Statistic.SUM_ABS)[l][g][u] = abs * t;
                    a.get(Statistic.SUM_SQ)[l][g][u] = (abs * abs + rng.nextDouble()) * t;
                    a.get(Statistic.COUNT_ABS)[l][g][u] = rng.nextInt((int) t + 1);
                }
            }
        }
        return NeuronStatistics.fromArrays(h, List.of("image", "text"), a, new long[] {t, t}, 0f, 0.1f);
    }

    @Test
    void writesOneSetPerPointFromOnePooledCut() throws Exception {
        Map<HookPoint, NeuronStatistics> all = new LinkedHashMap<>();
        all.put(HookPoint.FFN_PRE, stats(HookPoint.FFN_PRE, 4, 32, 1));
        all.put(HookPoint.FFN_UP, stats(HookPoint.FFN_UP, 4, 32, 2));
        all.put(HookPoint.FFN_DOWN, stats(HookPoint.FFN_DOWN, 4, 16, 3));
        for (var e : all.entrySet()) {
            e.getValue().save(dir.resolve(e.getKey().id()));
        }
        Path out = dir.resolve("sets").resolve("manu.json");
        Files.createDirectories(out.getParent());
        var run = NeuronScopeCliTest.cli("select", "--method", "manu", "--protocol", "reference", "--stats", dir.resolve("ffn.pre").toString(),
                "--stats", dir.resolve("ffn.up").toString(), "--stats", dir.resolve("ffn.down").toString(), "--forget", "image", "--retain", "text",
                "--alpha", "0.05", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        Map<HookPoint, NeuronSet> want = Manu.selectReference(all, "image", all, "text",
                new Manu.Params(Manu.Weights.DEFAULTS, Manu.Variant.CODE, 0.05), "image");
        int total = 0;
        for (HookPoint h : all.keySet()) {
            NeuronSet got = NeuronSet.load(out.resolveSibling("manu-" + h.id() + ".json"));
            assertEquals(h, got.hookPoint());
            assertEquals(want.get(h).describe("image"), got.describe("image"), h.id());
            assertEquals("reference", got.params().get("protocol"));
            assertEquals(Integer.toString((int) (0.05 * 4 * (32 + 32 + 16))), got.params().get("budget"));
            total += got.size("image");
        }
        assertTrue(total >= 16, "k = 16 of 320 units, ties included");
        assertTrue(run.out().contains("reference cut: 16 of 320 units"), run.out());

        // refused: a point the code does not score, two directories of one point, no ffn.down, the paper's score, entropy with two dirs
        try (NeuronStatistics act = stats(HookPoint.FFN_ACT, 4, 32, 4)) {
            act.save(dir.resolve("ffn.act"));
        }
        String[][] bad = {
                {"--stats", dir.resolve("ffn.up").toString(), "--stats", dir.resolve("ffn.down").toString(), "--stats", dir.resolve("ffn.act").toString()},
                {"--stats", dir.resolve("ffn.up").toString(), "--stats", dir.resolve("ffn.up").toString(), "--stats", dir.resolve("ffn.down").toString()},
                {"--stats", dir.resolve("ffn.pre").toString(), "--stats", dir.resolve("ffn.up").toString()},
                {"--stats", dir.resolve("ffn.up").toString(), "--stats", dir.resolve("ffn.down").toString(), "--variant", "PAPER"}};
        String[] says = {"ffn.act", "two --stats", "ffn.down", "CODE"};
        for (int i = 0; i < bad.length; i++) {
            List<String> args = new java.util.ArrayList<>(List.of("select", "--method", "manu", "--protocol", "reference", "--forget", "image",
                    "--retain", "text", "--out", dir.resolve("bad.json").toString()));
            args.addAll(List.of(bad[i]));
            var r = NeuronScopeCliTest.cli(args.toArray(String[]::new));
            assertNotEquals(0, r.code(), String.join(" ", bad[i]));
            assertTrue(r.err().contains(says[i]), r.err());
        }
        var entropy = NeuronScopeCliTest.cli("select", "--method", "entropy", "--stats", dir.resolve("ffn.up").toString(), "--stats",
                dir.resolve("ffn.down").toString(), "--out", dir.resolve("e.json").toString());
        assertNotEquals(0, entropy.code());
        assertTrue(entropy.err().contains("one --stats"), entropy.err());
        all.values().forEach(NeuronStatistics::close);
    }

    /** export of a reference set at ffn.down: rows of ffn_down (output dimensions) zeroed, the rest byte for byte. */
    @Test
    void exportsADownSet() throws Exception {
        Path model = org.neuronscope.testkit.SyntheticFixtures.tiny("qwen2");
        int layers, embd;
        try (org.neuronscope.gguf.GgufFile g = org.neuronscope.gguf.GgufFile.open(model)) {
            layers = g.getInt("qwen2.block_count");
            embd = g.getInt("qwen2.embedding_length");
        }
        NeuronSet set = new NeuronSet("manu", HookPoint.FFN_DOWN, layers, embd, Map.of("protocol", "reference"));
        set.ensureGroup("image");
        set.add("image", 1, 5, 1.0);
        set.add("image", layers - 1, 0, 1.0);
        Path file = dir.resolve("manu-ffn.down.json");
        set.save(file);
        Path out = dir.resolve("pruned.gguf");
        var run = NeuronScopeCliTest.cli("export", "--model", model.toString(), "--set", file.toString(), "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        try (org.neuronscope.gguf.GgufFile src = org.neuronscope.gguf.GgufFile.open(model);
             org.neuronscope.gguf.GgufFile g = org.neuronscope.gguf.GgufFile.open(out)) {
            for (int l = 0; l < layers; l++) {
                String down = "blk." + l + ".ffn_down.weight";
                for (int r = 0; r < embd; r++) {
                    boolean off = (l == 1 && r == 5) || (l == layers - 1 && r == 0);
                    float[] got = g.row(down, r);
                    float[] was = src.row(down, r);
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(off ? 0f : was[i], got[i], 0f, down + " row " + r);
                    }
                }
            }
            assertEquals("ffn.down", g.getString("neuronscope.export.hook_point"));
        }
        var minimum = NeuronScopeCliTest.cli("export", "--model", model.toString(), "--set", file.toString(), "--mode", "minimum", "--out",
                dir.resolve("min.gguf").toString());
        assertNotEquals(0, minimum.code());
        assertTrue(minimum.err().contains("cannot be exported"), minimum.err());
        for (String mode : java.util.List.of("minimum:call", "complementary:minimum:call")) { // the per-call minimum depends on the input
            var call = NeuronScopeCliTest.cli("export", "--model", model.toString(), "--set", file.toString(), "--mode", mode, "--out",
                    dir.resolve("min-call.gguf").toString());
            assertNotEquals(0, call.code(), mode);
            assertTrue(call.err().contains("cannot be exported"), call.err());
            assertTrue(!java.nio.file.Files.exists(dir.resolve("min-call.gguf")), mode + " wrote nothing");
        }
    }
}
