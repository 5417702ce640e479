package org.neuronscope.methods;

import org.neuronscope.FormatException;
import org.neuronscope.HookPoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.NeuronScopeException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Neuron sets: JSON, overlap, counts, random baselines and masks. */
class NeuronSetTest {
    static NeuronSet example() {
        NeuronSet set = new NeuronSet("lape", HookPoint.FFN_ACT, 3, 10, Map.of("top_rate", "0.01"));
        // added out of order: kept sorted per layer
        set.add("en", 2, 1, 0.25).add("en", 0, 3, 0.5).add("en", 0, 1, 0.75).add("fr", 2, 1, 0.25).add("fr", 1, 9, 0.1);
        set.ensureGroup("zh");
        return set;
    }

    @Test
    void encoderSetsNameTheirModuleAndKeepItThroughFilesAndBaselines(@TempDir Path dir) throws Exception {
        NeuronSet v = new NeuronSet("manu", org.neuronscope.Module.VISION, HookPoint.FFN_ACT, 2, 64, Map.of());
        v.add("forget", 0, 5, 1.0).add("forget", 1, 7, 0.5);
        assertEquals("vision.ffn.act", v.qualifiedPoint());
        Path f = dir.resolve("v.json");
        v.save(f);
        assertEquals("vision", new ObjectMapper().readTree(f.toFile()).path("module").asText());
        NeuronSet back = NeuronSet.load(f);
        assertEquals(org.neuronscope.Module.VISION, back.module());
        assertEquals(v.describe("forget"), back.describe("forget"));
        assertEquals(org.neuronscope.Module.VISION, RandomBaseline.matching(back, 3L, true).module());
        // language sets are written as before (no "module" key) and read back as the language model's
        Path g = dir.resolve("l.json");
        example().save(g);
        assertTrue(new ObjectMapper().readTree(g.toFile()).path("module").isMissingNode());
        assertEquals(org.neuronscope.Module.LANGUAGE, NeuronSet.load(g).module());
        assertEquals(org.neuronscope.Module.AUDIO, org.neuronscope.Module.moduleOf("audio.ffn.pre"));
        assertEquals(HookPoint.FFN_PRE, org.neuronscope.Module.pointOf("audio.ffn.pre"));
        assertEquals(org.neuronscope.Module.LANGUAGE, org.neuronscope.Module.moduleOf("ffn.act"));
    }

    @Test
    void addAllByFlatIndexEqualsAddingOneByOne() {
        NeuronSet bulk = new NeuronSet("lape", HookPoint.FFN_ACT, 3, 10, Map.of());
        bulk.addAll("en", new int[] {21, 3, 1}, new double[] {0.25, 0.5, 0.75}); // (2,1), (0,3), (0,1): out of order
        bulk.addAll("fr", new int[] {19, 21}, new double[] {0.1, 0.25});
        NeuronSet one = new NeuronSet("lape", HookPoint.FFN_ACT, 3, 10, Map.of());
        one.add("en", 2, 1, 0.25).add("en", 0, 3, 0.5).add("en", 0, 1, 0.75).add("fr", 1, 9, 0.1).add("fr", 2, 1, 0.25);
        for (String g : List.of("en", "fr")) {
            assertEquals(one.neurons(g), bulk.neurons(g), g);
        }
        assertThrows(IllegalArgumentException.class, () -> bulk.addAll("en", new int[] {3}, new double[] {1}), "already in the group");
        assertThrows(IndexOutOfBoundsException.class, () -> bulk.addAll("en", new int[] {30}, new double[] {1}), "3 x 10 has flat indices below 30");
        assertThrows(IndexOutOfBoundsException.class, () -> bulk.addAll("en", new int[] {-1}, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> bulk.addAll("en", new int[] {4, 5}, new double[] {1}), "one score per index");
        assertThrows(IllegalArgumentException.class, () -> bulk.addAll("en", new int[] {4, 5, 4}, new double[] {1, 2, 3}), "a duplicate within the call");
        assertThrows(IndexOutOfBoundsException.class, () -> bulk.addAll("new", new int[] {4, 40}, new double[] {1, 2}));
        assertEquals(3, bulk.size("en"), "a refused call adds nothing, not even the indices before the bad one");
        assertTrue(!bulk.hasGroup("new"), "nor a group");
    }

    @Test
    void jsonRoundTripAndItsDocumentedShape(@TempDir Path tmp) throws Exception {
        NeuronSet set = example();
        Path file = tmp.resolve("set.json");
        set.save(file);
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        assertEquals("neuronscope-neuron-set/1", root.path("format").asText());
        assertEquals("[1,3]", root.path("groups").path("en").path("0").path("neurons").toString());
        assertEquals("[0.75,0.5]", root.path("groups").path("en").path("0").path("scores").toString());
        assertTrue(root.path("groups").path("zh").isObject() && root.path("groups").path("zh").isEmpty());
        NeuronSet back = NeuronSet.load(file);
        assertEquals(set.groupNames(), back.groupNames());
        for (String g : set.groupNames()) {
            assertEquals(set.neurons(g), back.neurons(g));
        }
        assertEquals(Map.of("top_rate", "0.01"), back.params());
        assertEquals("lape", back.method());
        assertArrayEquals(new double[] {0.75, 0.5}, back.scores("en", 0));
    }

    @Test
    void loadRejectsBrokenFiles(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, "{\"format\": \"something-else\"}");
        assertTrue(assertThrows(FormatException.class, () -> NeuronSet.load(f)).getMessage().contains("not a neuron set"));
        Files.writeString(f, "{\"format\": \"neuronscope-neuron-set/1\", \"layers\": 2, \"neurons\": 4, \"groups\": {\"a\": {\"1\": {\"neurons\": [4], \"scores\": [0]}}}}");
        assertTrue(assertThrows(FormatException.class, () -> NeuronSet.load(f)).getMessage().contains("out of range"));
        Files.writeString(f, "{\"format\": \"neuronscope-neuron-set/1\", \"layers\": 2, \"neurons\": 4, \"groups\": {\"a\": {\"1\": {\"neurons\": [2, 2], \"scores\": [0, 0]}}}}");
        assertTrue(assertThrows(FormatException.class, () -> NeuronSet.load(f)).getMessage().contains("already"));
        Files.writeString(f, "{\"format\": \"neuronscope-neuron-set/1\", \"layers\": 2, \"neurons\": 4, \"groups\": {\"a\": {\"1\": {\"neurons\": [2], \"scores\": []}}}}");
        assertTrue(assertThrows(FormatException.class, () -> NeuronSet.load(f)).getMessage().contains("scores"));
        Files.writeString(f, "{ not json");
        assertThrows(FormatException.class, () -> NeuronSet.load(f));
    }

    @Test
    void overlapSizesAndCounts() {
        NeuronSet set = example();
        NeuronSet.Overlap o = set.overlap("en", "fr");   // en {0:1, 0:3, 2:1}, fr {1:9, 2:1}
        assertEquals(new NeuronSet.Overlap(1, 3, 2, 1.0 / 4), o);
        assertEquals(new NeuronSet.Overlap(0, 0, 0, 0), set.overlap("zh", "zh"));
        assertEquals(3, set.overlaps().size());
        assertEquals(4, set.size(), "distinct over groups");
        assertArrayEquals(new int[] {2, 0, 1}, set.perLayerCounts("en"));
        assertArrayEquals(new int[] {2, 1, 1}, set.perLayerCounts());
        assertArrayEquals(new int[] {1, 3}, set.neurons("en", 0));
        assertTrue(set.contains("fr", 1, 9));
        assertThrows(IllegalArgumentException.class, () -> set.neurons("de"));
        assertThrows(IndexOutOfBoundsException.class, () -> set.add("en", 3, 0, 0));
    }

    /** Two groups sharing neurons are switched off as their union; the random baseline matches that union, not the sum. */
    @Test
    void randomBaselineOfOverlappingGroupsMatchesTheirUnion() {
        NeuronSet set = new NeuronSet("miner", HookPoint.FFN_ACT, 4, 300, Map.of());
        java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
        for (int l = 0; l < 4; l++) {
            for (int n = 0; n < 300; n++) {
                boolean a = rng.nextInt(10) == 0, b = a ? rng.nextBoolean() : rng.nextInt(20) == 0; // about half of a is in b too
                if (a) {
                    set.add("image", l, n, 0);
                }
                if (b) {
                    set.add("audio", l, n, 0);
                }
            }
        }
        java.util.BitSet union = set.union(List.of("image", "audio"));
        assertTrue(union.cardinality() < set.size("image") + set.size("audio"), "the groups overlap");
        NeuronSet random = RandomBaseline.matchingUnion(set, List.of("image", "audio"), 7, true);
        assertEquals(List.of("image+audio"), random.groupNames());
        assertEquals(union.cardinality(), random.size("image+audio"));
        for (int l = 0; l < 4; l++) {
            assertEquals(union.get(l * 300, (l + 1) * 300).cardinality(), random.perLayerCounts("image+audio")[l], "layer " + l);
        }
        assertEquals(random.neurons("image+audio"), RandomBaseline.matchingUnion(set, List.of("image", "audio"), 7, true).neurons("image+audio"));
        assertEquals(union.cardinality(), RandomBaseline.matchingUnion(set, List.of("image", "audio"), 7, false).size("image+audio"));
        // per-group draws (the old baseline) would switch off more neurons than the selection does
        NeuronSet perGroup = RandomBaseline.matching(set, 7, true);
        assertTrue(perGroup.union(List.of("image", "audio")).cardinality() > union.cardinality());
    }

    @Test
    void randomBaselinesMatchSizeAndOptionallyLayersSeeded() {
        NeuronSet set = new NeuronSet("miner", HookPoint.FFN_ACT, 6, 400, Map.of());
        for (int i = 0; i < 60; i++) {
            set.add("image", i % 3, i * 5, 1);      // layers 0..2 only
            set.add("audio", 5, i, 1);
        }
        NeuronSet same = RandomBaseline.matching(set, 7, true);
        assertArrayEquals(set.perLayerCounts("image"), same.perLayerCounts("image"));
        assertArrayEquals(set.perLayerCounts("audio"), same.perLayerCounts("audio"));
        NeuronSet any = RandomBaseline.matching(set, 7, false);
        assertEquals(60, any.size("image"));
        assertTrue(any.perLayerCounts("image")[4] > 0 || any.perLayerCounts("image")[5] > 0, "spread over all layers");
        assertEquals(same.describe("image"), RandomBaseline.matching(set, 7, true).describe("image"), "seeded");
        assertNotEquals(same.describe("image"), RandomBaseline.matching(set, 8, true).describe("image"));
        NeuronSet r = RandomBaseline.of(HookPoint.FFN_ACT, 6, 400, 100, 1, "random");
        assertEquals(100, r.size("random"));
    }

    @Test
    void masksDoWhatTheModesSay() {
        NeuronSet set = example();
        InterventionMask off = InterventionMask.of(set, List.of("en"), Intervention.deactivate());
        assertEquals(0f, off.scale(0, 3));
        assertEquals(0f, off.shift(0, 3));
        assertEquals(1f, off.scale(1, 9), "fr not chosen");
        assertEquals(3, off.changed());

        InterventionMask set5 = InterventionMask.of(set, List.of("en", "fr"), Intervention.setTo(5f));
        assertEquals(0f, set5.scale(1, 9));
        assertEquals(5f, set5.shift(1, 9));
        assertEquals(4, set5.changed(), "the union: 2:1 once");

        InterventionMask amp = InterventionMask.of(set, List.of("fr"), Intervention.scale(2f));
        assertEquals(2f, amp.scale(2, 1));
        assertEquals(0f, amp.shift(2, 1));

        InterventionMask comp = InterventionMask.of(set, List.of("fr"), Intervention.complementary());
        assertEquals(1f, comp.scale(1, 9));
        assertEquals(0f, comp.scale(1, 8));
        assertEquals(3 * 10 - 2, comp.changed());

        InterventionMask min = InterventionMask.of(set, List.of("en"), new Intervention.SetToMinimum(new double[] {-0.5, -1, -2}));
        assertEquals(-0.5f, min.shift(0, 1));
        assertEquals(-2f, min.shift(2, 1));
        assertEquals(0f, min.scale(2, 1));
        assertEquals(1f, min.scale(1, 9));
        assertThrows(IllegalArgumentException.class, () -> InterventionMask.of(set, List.of("en"), Intervention.parse("minimum")));
        float[][] scale = off.scale();
        scale[0][3] = 7f;
        assertEquals(0f, off.scale(0, 3), "arrays handed out are copies");
    }
}
