package org.neuronscope.reliability;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.FormatException;
import org.neuronscope.HookPoint;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Values the library's own files must not hold are refused, naming the file: non-integral indices
 * and sizes, thresholds that are not numbers, NaN and infinities in statistics, sizes in meta.json
 * that no file backs (before any allocation, instead of an OutOfMemoryError naming nothing).
 */
class StrictFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;

    private Path savedStatistics() throws IOException {
        Path d = dir.resolve("stats");
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 2, 4, List.of("en", "fr"),
                EnumSet.of(Statistic.SUM, Statistic.COUNT, Statistic.MAX), 0f, 0f)) {
            s.set(Statistic.SUM, 1, 0, 2, 3.5);
            s.setTokens(0, 7);
            s.save(d);
        }
        return d;
    }

    private void editMeta(Path d, Consumer<ObjectNode> edit) throws IOException {
        Path meta = d.resolve("meta.json");
        ObjectNode root = (ObjectNode) JSON.readTree(meta.toFile());
        edit.accept(root);
        JSON.writeValue(meta.toFile(), root);
    }

    /** Overwrites value {@code index} of a saved float64 .npy file. */
    private static void poke(Path npy, long index, double value) throws IOException {
        byte[] b = Files.readAllBytes(npy);
        int headerLen = (b[8] & 0xff) | (b[9] & 0xff) << 8; // version 1.0 header
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putDouble(10 + headerLen + (int) index * 8, value);
        Files.write(npy, b);
    }

    private static void assertRefused(Path named, String part, org.junit.jupiter.api.function.Executable load) {
        FormatException e = assertThrows(FormatException.class, load);
        assertTrue(e.getMessage().contains(named.getFileName().toString()) && e.getMessage().contains(part), e.getMessage());
    }

    @Test
    void theUnmodifiedStatisticsLoad() throws IOException {
        try (NeuronStatistics s = NeuronStatistics.read(savedStatistics())) {
            assertEquals(3.5, s.get(Statistic.SUM, 1, 0, 2));
            assertEquals(Double.NEGATIVE_INFINITY, s.get(Statistic.MAX, 0, 1, 0), "an empty group's maximum stays -inf");
        }
    }

    @Test
    void nonIntegralSizesAndNonNumericThresholdsAreRefused() throws IOException {
        Path d = savedStatistics();
        Path meta = d.resolve("meta.json");
        editMeta(d, m -> m.put("neurons", 128.5));
        assertRefused(meta, "'neurons' must be an integer", () -> NeuronStatistics.read(d));
        editMeta(d, m -> m.put("neurons", 4));
        editMeta(d, m -> m.put("count_threshold", "zero"));
        assertRefused(meta, "'count_threshold' must be a number", () -> NeuronStatistics.read(d));
        editMeta(d, m -> m.put("count_threshold", 0.0));
        editMeta(d, m -> m.put("layers", -2));
        assertRefused(meta, "'layers' = -2 is out of range", () -> NeuronStatistics.read(d));
    }

    @Test
    void hugeSizesInMetaJsonAreRefusedBeforeAllocating() throws IOException {
        Path d = savedStatistics();
        editMeta(d, m -> {
            m.put("layers", 60000);
            m.put("neurons", 16_000_000);
        });
        // 60,000 x 2 x 16M doubles would be 15 TB: the files hold 128 bytes
        assertRefused(d.resolve("meta.json"), "bytes of float64 values", () -> NeuronStatistics.read(d));
    }

    @Test
    void nanAndInfinityInsideStatisticsAreRefused() throws IOException {
        Path d = savedStatistics();
        poke(d.resolve("sum.npy"), 3, Double.NaN);
        assertRefused(d.resolve("sum.npy"), "NaN", () -> NeuronStatistics.read(d));
        poke(d.resolve("sum.npy"), 3, Double.POSITIVE_INFINITY);
        assertRefused(d.resolve("sum.npy"), "Infinity", () -> NeuronStatistics.read(d));
        poke(d.resolve("sum.npy"), 3, 0);
        poke(d.resolve("max.npy"), 0, Double.POSITIVE_INFINITY);
        assertRefused(d.resolve("max.npy"), "Infinity", () -> NeuronStatistics.read(d));
    }

    private Path savedSet() throws IOException {
        Path f = dir.resolve("set.json");
        NeuronSet set = new NeuronSet("lape", HookPoint.FFN_ACT, 2, 128, Map.of());
        set.add("en", 0, 5, 0.5).add("en", 1, 7, 0.25);
        set.save(f);
        return f;
    }

    @Test
    void neuronSetsRefuseFractionalIndicesSizesAndScores() throws IOException {
        Path f = savedSet();
        assertEquals(2, NeuronSet.load(f).layers());
        ObjectNode root = (ObjectNode) JSON.readTree(f.toFile());
        ArrayNode neurons = (ArrayNode) root.path("groups").path("en").path("0").path("neurons");
        neurons.set(0, JSON.getNodeFactory().numberNode(5.7));
        JSON.writeValue(f.toFile(), root);
        assertRefused(f, "5.7 is not an index", () -> NeuronSet.load(f));

        neurons.set(0, JSON.getNodeFactory().numberNode(5));
        root.put("neurons", 128.5);
        JSON.writeValue(f.toFile(), root);
        assertRefused(f, "'neurons' must be an integer", () -> NeuronSet.load(f));

        root.put("neurons", 128);
        ((ArrayNode) root.path("groups").path("en").path("0").path("scores")).set(0, JSON.getNodeFactory().textNode("high"));
        JSON.writeValue(f.toFile(), root);
        assertRefused(f, "must be a number", () -> NeuronSet.load(f));
    }

    @Test
    void invalidUtf8IsReportedAtItsOwnLine() throws IOException {
        Path f = dir.resolve("data.jsonl");
        byte[] good = "{\"id\": \"a\", \"prompt\": \"hello\"}\n{\"id\": \"b\", \"prompt\": \"world\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] bad = "{\"id\": \"c\", \"prompt\": \"caf\u00e9 \u00ff\"}\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.write(good);
        b.write(bad);
        b.write("{\"id\": \"d\", \"prompt\": \"fine\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Files.write(f, b.toByteArray());
        org.neuronscope.eval.DatasetException e = assertThrows(org.neuronscope.eval.DatasetException.class, () -> org.neuronscope.eval.Dataset.load(f));
        assertEquals(3, e.line(), e.getMessage());
        assertTrue(e.getMessage().contains("data.jsonl:3:") && e.getMessage().contains("invalid UTF-8"), e.getMessage());
        assertEquals(1, e.problems().size(), "the lines after it are read on: " + e.problems());
    }
}
