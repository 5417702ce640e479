package org.neuronscope.cli;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticMedia;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.SyntheticProjectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ablate --modules}: MMNeuron's module sets over a language, a vision and a projector set on a
 * synthetic Qwen2-VL pair. Each module set is checked against a run that has only its own sets:
 * {@code none} is the baseline again, {@code language} is the language set's own ablation (and its
 * random control the same draw), {@code vision} the vision set's, and {@code all} differs from each.
 */
class ModuleSetsCommandTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path mmproj;
    static Path data;
    static Path language;
    static Path vision;
    static Path projector;

    @BeforeAll
    static void pair() throws IOException {
        Path vocab = Path.of("..", "native", "target", "llama.cpp", "models", "ggml-vocab-qwen2.gguf").toAbsolutePath().normalize();
        model = SyntheticModels.write(ModelSpec.tiny("qwen2vl", vocab), dir.resolve("qwen2vl.gguf"));
        mmproj = SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), dir.resolve("mmproj.gguf"));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String img = "img-" + i + ".png";
            SyntheticMedia.writePng(dir.resolve(img), 56, 56, 50 + i);
            lines.add("{\"id\": \"s" + i + "\", \"question\": \"What is shown?\", \"image\": \"" + img + "\", \"answers\": [\"a chart\"], "
                    + "\"labels\": {\"domain\": \"" + (i % 2 == 0 ? "charts" : "photos") + "\"}}");
        }
        data = Files.write(dir.resolve("data.jsonl"), lines);
        // the synthetic pair's shapes: language 3 layers of 128 (ffn.act), vision 1 layer of 64, the merger's MLP 1 of 128
        language = set(Module.LANGUAGE, 3, 128, 1, "language.json");
        vision = set(Module.VISION, 1, 64, 2, "vision.json");
        projector = set(Module.PROJECTOR, 1, 128, 3, "projector.json");
    }

    /** A quarter of each layer's neurons per group, drawn at random (a hand-made selection of {@code module}). */
    static Path set(Module module, int layers, int neurons, long seed, String name) throws IOException {
        NeuronSet s = new NeuronSet("hand", module, HookPoint.FFN_ACT, layers, neurons, Map.of());
        SplittableRandom r = new SplittableRandom(seed);
        for (String g : List.of("charts", "photos")) {
            s.ensureGroup(g);
            for (int l = 0; l < layers; l++) {
                for (int n : r.ints(0, neurons).distinct().limit(neurons / 4).toArray()) {
                    s.add(g, l, n, 1.0);
                }
            }
        }
        Path f = dir.resolve(name);
        s.save(f);
        return f;
    }

    /** ablate with the pair and the dataset; {@code extra} last. */
    static NeuronScopeCliTest.Run ablate(String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("ablate", "--model", model.toString(), "--mmproj", mmproj.toString(), "--threads", "2",
                "--image-max-tokens", "16", "--dataset", data.toString(), "--group-by", "label:domain", "--max-tokens", "0",
                "--out", dir.resolve(out).toString()));
        a.addAll(List.of(extra));
        return NeuronScopeCliTest.cli(a.toArray(String[]::new));
    }

    /** table.csv as (run, group, metric) → value. */
    static Map<String, Double> table(String out) throws IOException {
        Map<String, Double> m = new HashMap<>();
        List<String> rows = Files.readAllLines(dir.resolve(out).resolve("table.csv"));
        for (String row : rows.subList(1, rows.size())) {
            String[] f = row.split(",");
            m.put(f[2] + "|" + f[0] + "|" + f[1], Double.parseDouble(f[3]));
        }
        return m;
    }

    static double v(Map<String, Double> t, String run, String group, String metric) {
        Double x = t.get(run + "|" + group + "|" + metric);
        if (x == null) {
            throw new AssertionError("no " + run + " / " + group + " / " + metric + " in " + t.keySet());
        }
        return x;
    }

    @Test
    void moduleSetsEqualTheirOwnSetsAblations() throws IOException {
        NeuronScopeCliTest.Run all = ablate("modules", "--set", language.toString(), "--set", vision.toString(), "--set", projector.toString(),
                "--modules", "none,language,vision,projector,all");
        assertEquals(0, all.code(), all.err());
        NeuronScopeCliTest.Run lang = ablate("lang", "--set", language.toString());
        assertEquals(0, lang.code(), lang.err());
        // the vision set is the second --set: its random draw took seed 42 + 1, so the lone run takes 43
        NeuronScopeCliTest.Run vis = ablate("vis", "--set", vision.toString(), "--random-seed", "43");
        assertEquals(0, vis.code(), vis.err());
        Map<String, Double> t = table("modules");
        Map<String, Double> tl = table("lang");
        Map<String, Double> tv = table("vis");
        List<String> metrics = List.of("logit_change", "top1_agreement", "answer_nll");
        for (String g : List.of("charts", "photos")) {
            for (String m : metrics) {
                // none: nothing switched off, so exactly the baseline; and every run's baseline is the same
                assertEquals(v(t, "none", g, m), v(t, "none deactivate", g, m), 0.0, g + " " + m);
                assertEquals(v(t, "none", g, m), v(tl, "none", g, m), 0.0, g + " " + m);
                assertEquals(v(tl, "hand deactivate", g, m), v(t, "language deactivate", g, m), 0.0, g + " " + m);
                assertEquals(v(tl, "random deactivate", g, m), v(t, "random language deactivate", g, m), 0.0, g + " " + m);
                assertEquals(v(tv, "hand deactivate", g, m), v(t, "vision deactivate", g, m), 0.0, g + " " + m);
                assertEquals(v(tv, "random deactivate", g, m), v(t, "random vision deactivate", g, m), 0.0, g + " " + m);
            }
            assertEquals(0.0, v(t, "none deactivate", g, "logit_change"), 0.0);
            assertFalse(t.containsKey("random none deactivate|" + g + "|logit_change"), "none has no random control");
            // each module's set moves the logits, and together they move them differently from any one alone
            double l = v(t, "language deactivate", g, "logit_change");
            double vi = v(t, "vision deactivate", g, "logit_change");
            double p = v(t, "projector deactivate", g, "logit_change");
            double a = v(t, "all deactivate", g, "logit_change");
            assertTrue(l > 0 && vi > 0 && p > 0, l + " " + vi + " " + p);
            assertNotEquals(l, a);
            assertNotEquals(vi, a);
            assertNotEquals(p, a);
        }
        // the report names each module's neurons per layer
        String html = Files.readString(dir.resolve("modules").resolve("report").resolve("index.html"));
        for (String point : List.of("ffn.act (language", "vision.ffn.act (vision", "projector.ffn.act (projector")) {
            assertTrue(html.contains(point), point);
        }
        assertTrue(Files.exists(dir.resolve("modules").resolve("random-2-vision.json")));
    }

    /**
     * {@code export --mmproj}: the vision and projector sets written into one mmproj (and the language
     * set into the model) encode exactly as the in-graph deactivation of both sets, and the exported
     * pair answers as {@code ablate --modules all} does on the original pair.
     */
    @Test
    void exportedPairEqualsTheInGraphAblationOfAllModules() throws Exception {
        Path m = dir.resolve("exported.gguf");
        Path p = dir.resolve("exported-mmproj.gguf");
        NeuronScopeCliTest.Run ex = NeuronScopeCliTest.cli("export", "--model", model.toString(), "--mmproj", mmproj.toString(),
                "--set", language.toString(), "--set", vision.toString(), "--set", projector.toString(), "--out", m.toString(),
                "--mmproj-out", p.toString());
        assertEquals(0, ex.code(), ex.err());
        assertTrue(ex.out().contains("wrote " + m) && ex.out().contains("wrote " + p), ex.out());
        try (var f = org.neuronscope.gguf.GgufFile.open(p)) {
            assertEquals("vision.json", f.getString("neuronscope.export.vision.ffn.act.set"));
            assertEquals("projector", f.getString("neuronscope.export.projector.ffn.act.module"));
        }
        // an encoder set alone: --out is the projector's copy
        Path visionOnly = dir.resolve("vision-mmproj.gguf");
        NeuronScopeCliTest.Run one = NeuronScopeCliTest.cli("export", "--mmproj", mmproj.toString(), "--set", vision.toString(),
                "--out", visionOnly.toString());
        assertEquals(0, one.code(), one.err());

        // the embeddings: exported mmproj against the in-graph deactivation of the vision and projector sets
        var params = org.neuronscope.media.ProjectorParams.defaults().withThreads(2).withWarmup(false).withImageTokens(0, 16);
        var item = org.neuronscope.media.Media.image(dir.resolve("img-1.png"));
        float[] plain;
        float[] inGraph;
        float[] visionInGraph;
        try (var lm = org.neuronscope.model.Model.load(model);
             var proj = org.neuronscope.media.Projector.load(lm, mmproj, params)) {
            plain = proj.encode(item);
            try (var hooks = proj.openHooks(1)) {
                for (Path f : List.of(vision, projector)) {
                    NeuronSet s = NeuronSet.load(f);
                    hooks.apply(s.module(), org.neuronscope.methods.InterventionMask.of(s, s.groupNames(),
                            org.neuronscope.methods.Intervention.deactivate()), s.hookPoint());
                }
                inGraph = proj.encode(item);
            }
            try (var hooks = proj.openHooks(1)) {
                NeuronSet s = NeuronSet.load(vision);
                hooks.apply(s.module(), org.neuronscope.methods.InterventionMask.of(s, s.groupNames(),
                        org.neuronscope.methods.Intervention.deactivate()), s.hookPoint());
                visionInGraph = proj.encode(item);
            }
        }
        float[] exported;
        float[] visionExported;
        try (var lm = org.neuronscope.model.Model.load(model)) {
            try (var proj = org.neuronscope.media.Projector.load(lm, p, params)) {
                exported = proj.encode(item);
            }
            try (var proj = org.neuronscope.media.Projector.load(lm, visionOnly, params)) {
                visionExported = proj.encode(item);
            }
        }
        assertFalse(java.util.Arrays.equals(plain, inGraph), "the deactivation changes nothing");
        assertTrue(maxDiff(exported, inGraph) <= 1e-6f, "exported mmproj vs in-graph: " + maxDiff(exported, inGraph));
        assertTrue(maxDiff(visionExported, visionInGraph) <= 1e-6f, "vision only: " + maxDiff(visionExported, visionInGraph));
        assertTrue(maxDiff(visionExported, inGraph) > 1e-4f, "the projector set changes nothing");

        // the answers: the exported pair's baseline is the original pair's "all" condition
        NeuronScopeCliTest.Run orig = ablate("all-orig", "--set", language.toString(), "--set", vision.toString(), "--set", projector.toString(),
                "--modules", "all");
        assertEquals(0, orig.code(), orig.err());
        List<String> a = new ArrayList<>(List.of("ablate", "--model", m.toString(), "--mmproj", p.toString(), "--threads", "2",
                "--image-max-tokens", "16", "--dataset", data.toString(), "--group-by", "label:domain", "--max-tokens", "0",
                "--out", dir.resolve("all-exported").toString(), "--set", language.toString(), "--modules", "none"));
        NeuronScopeCliTest.Run exp = NeuronScopeCliTest.cli(a.toArray(String[]::new));
        assertEquals(0, exp.code(), exp.err());
        Map<String, Double> to = table("all-orig");
        Map<String, Double> te = table("all-exported");
        for (String g : List.of("charts", "photos")) {
            double want = v(to, "all deactivate", g, "answer_nll");
            double got = v(te, "none", g, "answer_nll");
            assertEquals(want, got, 1e-5 * Math.abs(want), g);
            assertNotEquals(v(to, "none", g, "answer_nll"), want, g + ": the ablation moves nothing");
        }
    }

    static float maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    @Test
    void badModuleSetsAreRefusedBeforeAnyWork() {
        NeuronScopeCliTest.Run noSet = ablate("bad1", "--set", language.toString(), "--modules", "none,vision");
        assertNotEquals(0, noSet.code());
        assertTrue(noSet.err().contains("needs a set of the vision module") && noSet.err().contains("language (language.json)"), noSet.err());
        NeuronScopeCliTest.Run unknown = ablate("bad2", "--set", language.toString(), "--modules", "language,retina");
        assertNotEquals(0, unknown.code());
        assertTrue(unknown.err().contains("unknown module 'retina'"), unknown.err());
        NeuronScopeCliTest.Run twice = ablate("bad3", "--set", language.toString(), "--set", vision.toString(), "--modules", "vision+language,language+vision");
        assertNotEquals(0, twice.code());
        assertTrue(twice.err().contains("repeats the module set"), twice.err());
        NeuronScopeCliTest.Run samePoint = ablate("bad4", "--set", language.toString(), "--set", language.toString(), "--modules", "all");
        assertNotEquals(0, samePoint.code());
        assertTrue(samePoint.err().contains("two of its neuron sets are at ffn.act"), samePoint.err());
        NeuronScopeCliTest.Run group = ablate("bad5", "--set", language.toString(), "--set", vision.toString(), "--modules", "all", "--groups", "maps");
        assertNotEquals(0, group.code());
        assertTrue(group.err().contains("no group 'maps'"), group.err());
        List<String> noMmproj = new ArrayList<>(List.of("ablate", "--model", model.toString(), "--dataset", data.toString(), "--set",
                vision.toString(), "--out", dir.resolve("bad6").toString()));
        NeuronScopeCliTest.Run np = NeuronScopeCliTest.cli(noMmproj.toArray(String[]::new));
        assertNotEquals(0, np.code());
        assertTrue(np.err().contains("needs --mmproj"), np.err());
        for (String out : List.of("bad1", "bad2", "bad3", "bad4", "bad5", "bad6")) {
            assertFalse(Files.exists(dir.resolve(out).resolve("table.csv")), out);
        }
    }
}
