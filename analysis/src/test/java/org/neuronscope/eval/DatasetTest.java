package org.neuronscope.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DatasetTest {
    @TempDir
    Path dir;

    private Path write(String name, String... lines) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return p;
    }

    private Path media(String rel) throws IOException {
        Path p = dir.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.write(p, new byte[] {1, 2, 3});
        return p;
    }

    /** Loads a one-line-or-more file that must fail, and checks the message names file and line. */
    private DatasetException fails(int line, String expectedPart, String... lines) throws IOException {
        Path p = write("bad.jsonl", lines);
        DatasetException e = assertThrows(DatasetException.class, () -> Dataset.load(p));
        assertTrue(e.getMessage().contains(p + ":" + line + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expectedPart), e.getMessage());
        assertEquals(line, e.line());
        assertEquals(p, e.file());
        return e;
    }

    @Test
    void parsesAllFields() throws IOException {
        Path img = media("img/1.png");
        Path img2 = media("img/2.png");
        Path wav = media("audio/a.wav");
        Path mp4 = media("v.mp4");
        Path p = write("mixed.jsonl",
                "{\"id\": \"q1\", \"question\": \"What is shown?\", \"system\": \"Be brief.\", \"image\": \"img/1.png\","
                        + " \"answers\": [\"cat\", \"a cat\"], \"answer\": \"cat\", \"domain\": \"everyday\", \"extra\": 1}",
                "",
                "{\"id\": 7, \"prompt\": \"Capital of France?\", \"choices\": [\"Rome\", \"Paris\"], \"answer\": \"b\","
                        + " \"labels\": {\"split\": \"forget\", \"language\": \"en\"}, \"split\": \"forget\"}",
                "{\"id\": \"q3\", \"prompt\": \"Which?\", \"options\": [\"x\", \"y\", \"z\"], \"answer\": 2,"
                        + " \"images\": [\"img/1.png\", \"img/2.png\"], \"audio\": \"audio/a.wav\", \"video\": [\"v.mp4\"]}",
                "{\"id\": \"q4\", \"prompt\": \"Which?\", \"choices\": [\"x\", \"y\"], \"answer\": \"y\", \"system\": null}",
                "{\"id\": \"q5\", \"prompt\": \"Unlabelled\", \"choices\": [\"x\", \"y\"]}");
        Dataset d = Dataset.load(p);
        assertEquals("mixed", d.name());
        assertEquals(p, d.path());
        assertEquals(5, d.size());
        assertEquals(List.of("q1", "7", "q3", "q4", "q5"), d.stream().map(Sample::id).toList());

        Sample q1 = d.get("q1");
        assertEquals("What is shown?", q1.prompt());
        assertEquals("Be brief.", q1.system());
        assertEquals(List.of(img), q1.images());
        assertEquals(List.of("cat", "a cat"), q1.answers(), "answer first, answers merged without duplicates");
        assertFalse(q1.isMultipleChoice());
        assertEquals(Sample.NO_ANSWER, q1.answerIndex());
        assertEquals(Map.of("domain", "everyday"), q1.labels());

        Sample q2 = d.get("7");
        assertEquals(1, q2.answerIndex());
        assertEquals("B", q2.answerLetter());
        assertEquals(List.of("Paris"), q2.answers());
        assertEquals(Map.of("split", "forget", "language", "en"), q2.labels());
        assertNull(q2.system());

        Sample q3 = d.get("q3");
        assertEquals(2, q3.answerIndex());
        assertEquals(List.of(img, img2), q3.images());
        assertEquals(List.of(wav), q3.audio());
        assertEquals(List.of(mp4), q3.video());
        assertEquals(List.of(img, img2, wav, mp4), q3.media());
        assertTrue(q3.hasMedia());

        assertEquals(1, d.get("q4").answerIndex(), "answer given as an option's text");
        assertEquals(Sample.NO_ANSWER, d.get("q5").answerIndex());
        assertEquals(List.of(), d.get("q5").answers());
        assertThrows(UnsupportedOperationException.class, () -> q1.labels().put("x", "y"));
        assertThrows(UnsupportedOperationException.class, () -> d.samples().add(q1));
    }

    @Test
    void filterAndGroupBy() throws IOException {
        Path p = write("langs.jsonl",
                "{\"id\": \"1\", \"prompt\": \"a\", \"language\": \"en\", \"split\": \"forget\"}",
                "{\"id\": \"2\", \"prompt\": \"b\", \"language\": \"de\", \"split\": \"retain\"}",
                "{\"id\": \"3\", \"prompt\": \"c\", \"language\": \"en\", \"split\": \"retain\"}",
                "{\"id\": \"4\", \"prompt\": \"d\"}");
        Dataset d = Dataset.load(p, "tiny");
        Dataset en = d.filter("language", "en");
        assertEquals("tiny[language=en]", en.name());
        assertEquals(List.of("1", "3"), en.stream().map(Sample::id).toList());
        assertTrue(d.filter("language", "fr").isEmpty());

        Map<String, Dataset> bySplit = d.groupBy("split");
        assertEquals(List.of("forget", "retain"), List.copyOf(bySplit.keySet()));
        assertEquals(List.of("2", "3"), bySplit.get("retain").stream().map(Sample::id).toList());
        assertEquals(List.of("en", "de"), d.labelValues("language"));
        assertEquals(List.of("4"), d.filter("unlabelled", s -> s.label("language") == null).stream().map(Sample::id).toList());
    }

    @Test
    void inMemory() {
        Dataset d = Dataset.of("mem", List.of(Sample.text("a", "p", List.of("x")), Sample.text("b", "q", List.of())));
        assertNull(d.path());
        assertEquals(2, d.size());
        assertThrows(IllegalArgumentException.class,
                () -> Sample.multipleChoice("m", "p", List.of("x", "y"), 2));
        assertEquals("B", Sample.multipleChoice("m", "p", List.of("x", "y"), 1).answerLetter());
        assertThrows(DatasetException.class,
                () -> Dataset.of("dup", List.of(Sample.text("a", "p", List.of()), Sample.text("a", "q", List.of()))));
    }

    @Test
    void badJson() throws IOException {
        fails(2, "bad JSON at column", "{\"id\": \"1\", \"prompt\": \"ok\"}", "{\"id\": \"2\", \"prompt\": }");
        fails(1, "bad JSON", "{\"id\": \"1\", \"prompt\": \"a\"} {\"id\": \"2\"}");   // two objects on a line
        fails(1, "bad JSON", "{\"id\": \"1\", \"id\": \"2\", \"prompt\": \"a\"}");     // duplicate key
        fails(3, "expected a JSON object, got a list", "{\"id\": \"1\", \"prompt\": \"a\"}", "", "[1, 2]");
    }

    @Test
    void missingFields() throws IOException {
        fails(1, "missing \"id\"", "{\"prompt\": \"a\"}");
        fails(1, "\"id\" is blank", "{\"id\": \" \", \"prompt\": \"a\"}");
        fails(2, "missing \"prompt\" (or \"question\") (sample 2)", "{\"id\": \"1\", \"prompt\": \"a\"}", "{\"id\": \"2\"}");
        fails(1, "both \"prompt\" and \"question\"", "{\"id\": \"1\", \"prompt\": \"a\", \"question\": \"b\"}");
    }

    @Test
    void duplicateId() throws IOException {
        fails(3, "duplicate id 'x' (first on line 1)",
                "{\"id\": \"x\", \"prompt\": \"a\"}", "{\"id\": \"y\", \"prompt\": \"a\"}", "{\"id\": \"x\", \"prompt\": \"b\"}");
    }

    @Test
    void missingMediaIsReportedWithFileAndLine() throws IOException {
        media("img/ok.png");
        DatasetException e = fails(2, "image file not found: " + dir.resolve("img/missing.png"),
                "{\"id\": \"1\", \"prompt\": \"a\", \"image\": \"img/ok.png\"}",
                "{\"id\": \"2\", \"prompt\": \"b\", \"image\": [\"img/ok.png\", \"img/missing.png\"]}");
        assertTrue(e.getMessage().contains("(\"img/missing.png\")"), e.getMessage());
        fails(1, "audio file not found", "{\"id\": \"1\", \"prompt\": \"a\", \"audio\": \"nope.wav\"}");
        fails(1, "video path is not a regular file", "{\"id\": \"1\", \"prompt\": \"a\", \"video\": \"img\"}");
        fails(1, "both \"image\" and \"images\"",
                "{\"id\": \"1\", \"prompt\": \"a\", \"image\": \"img/ok.png\", \"images\": [\"img/ok.png\"]}");
    }

    @Test
    void wrongTypes() throws IOException {
        fails(1, "\"id\" must be a string or an integer, got a number (1.5)", "{\"id\": 1.5, \"prompt\": \"a\"}");
        fails(1, "\"prompt\" must be a string, got a list", "{\"id\": \"1\", \"prompt\": [\"a\"]}");
        fails(1, "\"image\" must be a list of strings, got a number (3)", "{\"id\": \"1\", \"prompt\": \"a\", \"image\": 3}");
        fails(1, "\"answers\"[1] must be a string, got a number (2)", "{\"id\": \"1\", \"prompt\": \"a\", \"answers\": [\"x\", 2]}");
        fails(1, "\"answer\" must be a string, got a number (4)", "{\"id\": \"1\", \"prompt\": \"a\", \"answer\": 4}");
        fails(1, "\"labels\" must be an object of strings, got a list", "{\"id\": \"1\", \"prompt\": \"a\", \"labels\": [\"x\"]}");
        fails(1, "label \"n\" must be a string, got a number (1)", "{\"id\": \"1\", \"prompt\": \"a\", \"labels\": {\"n\": 1}}");
        fails(1, "\"domain\" must be a string, got a boolean (true)", "{\"id\": \"1\", \"prompt\": \"a\", \"domain\": true}");
        fails(1, "\"split\" is \"retain\" but labels.split is \"forget\"",
                "{\"id\": \"1\", \"prompt\": \"a\", \"labels\": {\"split\": \"forget\"}, \"split\": \"retain\"}");
    }

    @Test
    void badChoices() throws IOException {
        fails(1, "\"answer\" 'E' is not one of the 4 choices (A-D)",
                "{\"id\": \"1\", \"prompt\": \"a\", \"choices\": [\"w\", \"x\", \"y\", \"z\"], \"answer\": \"E\"}");
        fails(1, "\"answer\" index 2 is outside the 2 choices (0-1)",
                "{\"id\": \"1\", \"prompt\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": 2}");
        fails(1, "is neither an option letter (A-B)",
                "{\"id\": \"1\", \"prompt\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": \"maybe\"}");
        fails(1, "\"answer\" 'a' is ambiguous: option letter A or the text of option B",
                "{\"id\": \"1\", \"prompt\": \"p\", \"choices\": [\"b\", \"a\"], \"answer\": \"a\"}");
        fails(1, "\"choices\" must have 1 to 26 options, has 0", "{\"id\": \"1\", \"prompt\": \"a\", \"choices\": []}");
        fails(1, "\"answers\" is for open questions",
                "{\"id\": \"1\", \"prompt\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": \"A\", \"answers\": [\"x\"]}");
    }

    @Test
    void allProblemsOfAFileInOneException() throws IOException {
        DatasetException e = fails(1, "3 problems:",
                "{\"prompt\": \"a\"}", "{\"id\": \"2\", \"prompt\": \"a\"}", "oops", "{\"id\": \"2\", \"prompt\": \"b\"}");
        assertEquals(3, e.problems().size());
        assertTrue(e.problems().get(1).contains(":3: bad JSON"), e.problems().get(1));
        assertTrue(e.problems().get(2).contains(":4: duplicate id '2' (first on line 2)"), e.problems().get(2));
        assertInstanceOf(org.neuronscope.NeuronScopeException.class, e);

        String[] many = new String[60];
        java.util.Arrays.fill(many, "{\"prompt\": \"no id\"}");
        DatasetException capped = fails(1, "60 problems:", many);
        assertEquals(JsonlDatasetReader.MAX_LISTED_PROBLEMS + 1, capped.problems().size());
        assertEquals("... and 10 more problems", capped.problems().get(capped.problems().size() - 1));
    }

    @Test
    void fileLevelErrors() throws IOException {
        Path missing = dir.resolve("none.jsonl");
        DatasetException e = assertThrows(DatasetException.class, () -> Dataset.load(missing));
        assertTrue(e.getMessage().contains("dataset file not found: " + missing), e.getMessage());
        Path empty = write("empty.jsonl", "", "  ");
        assertTrue(assertThrows(DatasetException.class, () -> Dataset.load(empty)).getMessage().contains("no samples"));
        Path latin1 = dir.resolve("latin1.jsonl");
        Files.write(latin1, "{\"id\": \"1\", \"prompt\": \"caf\u00e9\"}\n".getBytes(StandardCharsets.ISO_8859_1));
        assertTrue(assertThrows(DatasetException.class, () -> Dataset.load(latin1)).getMessage().contains("invalid UTF-8"));
        Path bom = dir.resolve("bom.jsonl");
        Files.writeString(bom, "\uFEFF{\"id\": \"1\", \"prompt\": \"a\"}\r\n{\"id\": \"2\", \"prompt\": \"b\"}\r\n");
        assertEquals(2, Dataset.load(bom).size(), "a BOM and CRLF line ends are accepted");
    }
}
