package org.neuronscope.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.Vocabularies;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a first-time user of the command line runs into: typos, options given a directory, labels no
 * sample has, mismatched neuron sets, logs redirected to a file; all on a model written with the
 * bundled tokenizer (no llama.cpp tree needed).
 */
class CliUsabilityTest {
    static Path dir;
    static Path model;
    static Path dataset;

    @BeforeAll
    static void fixtures() throws Exception {
        dir = Path.of("target", "cli-usability").toAbsolutePath();
        Files.createDirectories(dir);
        NeuronScopeCliTest.Run synth = NeuronScopeCliTest.cli("synth", "--out", dir.resolve("tiny.gguf").toString(), "--layers", "2");
        assertEquals(0, synth.code(), synth.err());
        assertTrue(synth.out().contains("tokenizer bundled"), synth.out());
        model = dir.resolve("tiny.gguf");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            lines.append(String.format("{\"id\": \"s%d\", \"prompt\": \"Sample %d: a sentence of the language %s.\", \"language\": \"%s\"}%n",
                    i, i, i % 2 == 0 ? "en" : "fr", i % 2 == 0 ? "en" : "fr"));
        }
        dataset = Files.writeString(dir.resolve("data.jsonl"), lines, StandardCharsets.UTF_8);
    }

    static NeuronScopeCliTest.Run cli(String... args) {
        return NeuronScopeCliTest.cli(args);
    }

    @Test
    void aTypoIsAnUnknownOptionWithTheNearestName() {
        NeuronScopeCliTest.Run r = cli("stats", "--model", model.toString(), "--datset", dataset.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("error: unknown option '--datset'; did you mean --dataset?"), r.err());
        assertFalse(r.err().contains("Missing required option"), r.err());
        NeuronScopeCliTest.Run eq = cli("ablate", "--model=" + model, "--grups=image");
        assertTrue(eq.err().contains("unknown option '--grups'; did you mean --groups?"), eq.err());
        NeuronScopeCliTest.Run far = cli("select", "--method", "entropy", "--xyzzy-plugh", "--out", "x.json");
        assertTrue(far.err().contains("unknown option '--xyzzy-plugh'") && !far.err().contains("did you mean"), far.err());
        // no unknown option: picocli's own message stays
        NeuronScopeCliTest.Run missing = cli("stats", "--model", model.toString(), "--dataset", dataset.toString());
        assertTrue(missing.err().contains("Missing required option: '--out=<out>'"), missing.err());
    }

    @Test
    void synthWritesAModelTheOtherCommandsRun() throws Exception {
        Path out = dir.resolve("stats-synth");
        NeuronScopeCliTest.Run r = cli("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--out", out.toString(),
                "--group-by", "label:language", "--threads", "2", "--ctx", "256", "--statistics", "count");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("tokens: text entries only"), r.out());
        assertTrue(r.out().matches("(?s).*tokens per group: en=\\d+, fr=\\d+.*"), r.out());
        NeuronScopeCliTest.Run d = cli("synth", "--out", dir.toString());
        assertEquals(2, d.code());
        assertTrue(d.err().contains("is a directory"), d.err());
        NeuronScopeCliTest.Run arch = cli("synth", "--out", dir.resolve("x.gguf").toString(), "--arch", "mamba");
        assertTrue(arch.err().contains("unsupported synthetic architecture 'mamba'"), arch.err());
    }

    /**
     * LAPE counts a language's own tokens: by default a label grouping counts text entries only, the
     * chat template's are left out; --tokens all counts every entry. Both are printed, both recorded,
     * and a checkpoint of one is not resumed with the other.
     */
    @Test
    void theTokenPolicyIsExplicitAndRecorded() throws Exception {
        Path text = dir.resolve("stats-text");
        Path all = dir.resolve("stats-all");
        deleteTree(text);
        deleteTree(all);
        List<String> common = List.of("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--group-by", "label:language",
                "--threads", "2", "--ctx", "256", "--statistics", "count");
        NeuronScopeCliTest.Run t = cli(with(common, "--out", text.toString()));
        NeuronScopeCliTest.Run a = cli(with(common, "--out", all.toString(), "--tokens", "all"));
        assertEquals(0, t.code(), t.err());
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("tokens: all entries"), a.out());
        try (var st = org.neuronscope.stats.NeuronStatistics.load(text.resolve("statistics"));
             var sa = org.neuronscope.stats.NeuronStatistics.load(all.resolve("statistics"))) {
            assertEquals("label:language text", st.metadata().get("grouping"));
            assertEquals("label:language all", sa.metadata().get("grouping"));
            for (int g = 0; g < 2; g++) {
                assertTrue(st.tokens(g) > 0 && st.tokens(g) < sa.tokens(g), "the template's tokens are left out: " + st.tokens(g) + " vs " + sa.tokens(g));
            }
        }
        NeuronScopeCliTest.Run other = cli(with(common, "--out", text.toString(), "--tokens", "all"));
        assertEquals(2, other.code());
        assertTrue(other.err().contains("groups tokens by label:language text, this run by label:language all"), other.err());
        NeuronScopeCliTest.Run modality = cli("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--out", dir.resolve("m").toString(),
                "--tokens", "text");
        assertTrue(modality.err().contains("--tokens applies to --group-by label:<name>"), modality.err());
    }

    /** ablate refuses, before anything is decoded, what stats refuses and what does not fit the model. */
    @Test
    void ablateValidatesBeforeTheFirstDecode() throws Exception {
        NeuronSet fits = new NeuronSet("test", HookPoint.FFN_ACT, 2, 128, Map.of());
        fits.add("en", 0, 3, 1.0);
        Path set = dir.resolve("fits.json");
        fits.save(set);
        NeuronSet wrongLayers = new NeuronSet("test", HookPoint.FFN_ACT, 3, 128, Map.of());
        wrongLayers.add("en", 0, 3, 1.0);
        Path layers = dir.resolve("layers.json");
        wrongLayers.save(layers);
        NeuronSet wrongWidth = new NeuronSet("test", HookPoint.FFN_ACT, 2, 256, Map.of());
        wrongWidth.add("en", 0, 3, 1.0);
        Path width = dir.resolve("width.json");
        wrongWidth.save(width);
        List<String> common = List.of("ablate", "--model", model.toString(), "--dataset", dataset.toString(), "--threads", "2", "--ctx", "256",
                "--max-tokens", "0", "--out", dir.resolve("ablate").toString());

        NeuronScopeCliTest.Run label = cli(with(common, "--set", set.toString(), "--group-by", "label:langauge"));
        assertEquals(2, label.code());
        assertTrue(label.err().contains("no sample of data has the label 'langauge' (labels in the dataset: language)"), label.err());
        NeuronScopeCliTest.Run group = cli(with(common, "--set", set.toString(), "--groups", "fr"));
        assertTrue(group.err().contains("fits.json has no group 'fr' (it has [en])"), group.err());
        NeuronScopeCliTest.Run l = cli(with(common, "--set", layers.toString()));
        assertTrue(l.err().contains("the neuron set has 3 layers, the model 2"), l.err());
        NeuronScopeCliTest.Run w = cli(with(common, "--set", width.toString()));
        assertTrue(w.err().contains("the neuron set has 256 neurons per layer, ffn.act of the model's layer 0 has 128"), w.err());
        for (NeuronScopeCliTest.Run r : List.of(label, group, l, w)) {
            assertFalse(r.err().contains("ablate: "), "no progress: nothing was decoded\n" + r.err());
        }
        Path partial = Files.writeString(dir.resolve("partial.jsonl"), Files.readString(dataset)
                + "{\"id\": \"unlabelled\", \"prompt\": \"no language here\"}\n");
        NeuronScopeCliTest.Run missing = cli("ablate", "--model", model.toString(), "--dataset", partial.toString(), "--set", set.toString(),
                "--group-by", "label:language", "--out", dir.resolve("ablate").toString());
        assertTrue(missing.err().contains("1 of 7 samples of partial have no label 'language': unlabelled"), missing.err());
        NeuronScopeCliTest.Run stats = cli("stats", "--model", model.toString(), "--dataset", partial.toString(), "--group-by", "label:language",
                "--out", dir.resolve("stats-partial").toString());
        assertTrue(stats.err().contains("1 of 7 samples of partial have no label 'language': unlabelled"), stats.err());

        NeuronScopeCliTest.Run ok = cli(with(common, "--set", set.toString(), "--group-by", "label:language"));
        assertEquals(0, ok.code(), ok.err());
        String table = Files.readString(dir.resolve("ablate").resolve("table.txt"));
        assertTrue(table.contains("en") && table.contains("fr") && !table.contains("null"), table);
        String report = Files.readString(dir.resolve("ablate").resolve("report").resolve("index.html"));
        assertTrue(report.contains("Samples per group: en 3, fr 3 (6 in all)"), report);
        assertTrue(report.contains("<a href=\"../table.csv\">") && report.contains("<a href=\"../random.json\">"), report);
        assertTrue(report.contains("<table>") && report.contains("<th>Δ random deactivate</th>"), report);
        assertTrue(NeuronSet.load(dir.resolve("ablate").resolve("random.json")).size() == fits.size(), "the matched random set is saved");
    }

    @Test
    void selectRefusesADirectoryAndNamesItsGroups() throws Exception {
        Path stats = dir.resolve("stats-select");
        deleteTree(stats);
        assertEquals(0, cli("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--out", stats.toString(),
                "--group-by", "label:language", "--threads", "2", "--ctx", "256", "--statistics", "count").code());
        Path outDir = Files.createDirectories(dir.resolve("a-directory"));
        NeuronScopeCliTest.Run r = cli("select", "--method", "entropy", "--stats", stats.toString(), "--out", outDir.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("is a directory; give the neuron set's file, e.g. " + outDir.resolve("entropy.json")), r.err());
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.toString().endsWith(".tmp")), "no .tmp left behind");
        }
        NeuronScopeCliTest.Run ok = cli("select", "--method", "entropy", "--stats", stats.toString(), "--top-rate", "0.05",
                "--out", dir.resolve("lape.json").toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().matches("(?s).*\\nen \\(\\d+ neurons, layer:neuron\\): \\[.*"), ok.out());
        assertTrue(ok.out().matches("(?s).*\\nfr \\(\\d+ neurons, layer:neuron\\): \\[.*"), ok.out());
        NeuronScopeCliTest.Run absent = cli("select", "--method", "entropy", "--stats", stats.toString(), "--groups", "en,de",
                "--out", dir.resolve("x.json").toString());
        assertTrue(absent.err().contains("--groups: no group 'de' in the statistics (groups: en, fr)"), absent.err());
    }

    /** Redirected (not a terminal): a line every few seconds, never a carriage return; a bar on a terminal; errors on their own line. */
    @Test
    void progressIsLinesInALogAndABarOnATerminal() {
        long[] now = {0};
        StringWriter log = new StringWriter();
        var lines = CliSupport.progress(new PrintWriter(log, true), CliSupport.ProgressStyle.LINES, () -> now[0]);
        for (int i = 0; i <= 1000; i++) {
            lines.update("stats", i, 1000, 50, Duration.ofSeconds((1000 - i) / 50));
            now[0] += 20_000_000L; // 20 ms a step: 20 s in all
        }
        String text = log.toString();
        assertFalse(text.contains("\r"), text);
        long count = text.lines().count();
        assertTrue(count >= 4 && count <= 6, count + " lines:\n" + text); // at 0, 5, 10, 15 s (and 20 s), and the end
        assertTrue(text.strip().endsWith("stats: 1000/1000 (100 %), 50.0/s, ETA 0s"), text);

        StringWriter term = new StringWriter();
        PrintWriter err = new PrintWriter(term, true);
        var bar = CliSupport.progress(err, CliSupport.ProgressStyle.BAR, () -> now[0]);
        bar.update("ablate", 3, 10, 1, Duration.ofSeconds(7));
        CliSupport.endLine(err);
        err.println("error: something");
        assertTrue(term.toString().startsWith("\rablate  [#########"), term.toString());
        assertTrue(term.toString().contains(" \nerror: something"), "the error starts a new line: " + term);
    }

    private static String[] with(List<String> args, String... more) {
        List<String> a = new java.util.ArrayList<>(args);
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private static void deleteTree(Path p) throws Exception {
        if (Files.exists(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(q);
                }
            }
        }
    }
}
