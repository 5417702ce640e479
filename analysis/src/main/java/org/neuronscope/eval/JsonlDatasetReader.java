package org.neuronscope.eval;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Reads the JSONL format described in {@link Dataset}. */
final class JsonlDatasetReader {
    private static final Logger LOG = LoggerFactory.getLogger(JsonlDatasetReader.class);
    /** Problems listed in one exception; the rest are counted. */
    static final int MAX_LISTED_PROBLEMS = 50;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private static final Set<String> KNOWN = Set.of("id", "prompt", "question", "system", "image", "images", "audio",
            "audios", "video", "videos", "answer", "answers", "choices", "options", "labels", "domain", "language", "split");
    private static final List<String> LABEL_FIELDS = List.of("domain", "language", "split");

    private final Path file;
    private final Path baseDir;
    private final List<String> problems = new ArrayList<>();
    private int firstProblemLine;
    private int problemCount;
    private int line;

    private JsonlDatasetReader(Path file) {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        this.baseDir = parent != null ? parent : Path.of("").toAbsolutePath();
    }

    static List<Sample> read(Path file) {
        return new JsonlDatasetReader(file).readAll();
    }

    /**
     * One line of a dataset, read by the rules of {@link #read} (media relative to {@code baseDir}),
     * for readers that split a file among processes; {@code line} (1-based) names it in errors.
     */
    static Sample parse(Path file, Path baseDir, int line, String text) {
        JsonlDatasetReader r = new JsonlDatasetReader(file, baseDir);
        r.line = line;
        Sample s = r.parseLine(text, new TreeSet<>());
        if (s == null || r.problemCount > 0) {
            throw new DatasetException(file, line, r.problems, r.problemCount, null);
        }
        return s;
    }

    private JsonlDatasetReader(Path file, Path baseDir) {
        this.file = file;
        this.baseDir = baseDir.toAbsolutePath();
    }

    private List<Sample> readAll() {
        List<Sample> samples = new ArrayList<>();
        Map<String, Integer> idLines = new HashMap<>();
        Set<String> ignored = new TreeSet<>();
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        // Lines are split on bytes and decoded one by one, so invalid UTF-8 is reported at its own
        // line (a decoding reader reads ahead and fails lines early, before it counts them).
        try (java.io.InputStream in = new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            String text;
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            while (true) {
                bytes.reset();
                int c;
                while ((c = in.read()) >= 0 && c != '\n') {
                    bytes.write(c);
                }
                if (c < 0 && bytes.size() == 0) {
                    break;
                }
                line++;
                byte[] raw = bytes.toByteArray();
                int length = raw.length > 0 && raw[raw.length - 1] == '\r' ? raw.length - 1 : raw.length;
                try {
                    text = decoder.decode(java.nio.ByteBuffer.wrap(raw, 0, length)).toString();
                } catch (CharacterCodingException e) {
                    problem("invalid UTF-8 (" + e.getMessage() + ") at byte " + firstInvalid(raw, length) + " of the line");
                    continue;
                }
                if (line == 1 && text.startsWith("\uFEFF")) {
                    text = text.substring(1);
                }
                if (text.isBlank()) {
                    continue;
                }
                Sample s = parseLine(text, ignored);
                if (s != null) {
                    Integer first = idLines.putIfAbsent(s.id(), line);
                    if (first != null) {
                        problem("duplicate id '" + s.id() + "' (first on line " + first + ")");
                    } else {
                        samples.add(s);
                    }
                }
            }
        } catch (NoSuchFileException e) {
            throw new DatasetException(file, 0, "dataset file not found: " + file);
        } catch (IOException e) {
            throw new DatasetException(file, line, List.of(file + ": cannot read dataset: " + e), e);
        }
        if (problemCount > 0) {
            List<String> listed = new ArrayList<>(problems);
            if (problemCount > problems.size()) {
                listed.add("... and " + (problemCount - problems.size()) + " more problems");
            }
            throw new DatasetException(file, firstProblemLine, listed, problemCount, null);
        }
        if (samples.isEmpty()) {
            throw new DatasetException(file, 0, file + ": the dataset has no samples");
        }
        if (!ignored.isEmpty()) {
            LOG.debug("{}: ignored unknown fields {}", file, ignored);
        }
        return samples;
    }

    /** The offset of the first byte of {@code raw[0, length)} that does not start valid UTF-8. */
    private static int firstInvalid(byte[] raw, int length) {
        var d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(raw, 0, length);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(length + 1);
        d.decode(in, out, true);
        return in.position();
    }

    private void problem(String what) {
        if (problemCount == 0) {
            firstProblemLine = line;
        }
        problemCount++;
        if (problems.size() < MAX_LISTED_PROBLEMS) {
            problems.add(file + ":" + line + ": " + what);
        }
    }

    /** The sample of one line, or null after reporting its problems. */
    private Sample parseLine(String text, Set<String> ignored) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            problem("bad JSON" + (loc != null && loc.getColumnNr() > 0 ? " at column " + loc.getColumnNr() : "")
                    + ": " + e.getOriginalMessage());
            return null;
        }
        if (!node.isObject()) {
            problem("expected a JSON object, got " + kind(node));
            return null;
        }
        int before = problemCount;
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!KNOWN.contains(f)) {
                ignored.add(f);
            }
        }

        String id = null;
        JsonNode idNode = node.get("id");
        if (idNode == null || idNode.isNull()) {
            problem("missing \"id\"");
        } else if (idNode.isTextual()) {
            id = idNode.textValue();
            if (id.isBlank()) {
                problem("\"id\" is blank");
                id = null;
            }
        } else if (idNode.isIntegralNumber()) {
            id = idNode.asText();
        } else {
            problem("\"id\" must be a string or an integer, got " + kind(idNode));
        }
        String where = id == null ? "" : " (sample " + id + ")";

        String prompt = null;
        JsonNode p = node.get("prompt");
        JsonNode q = node.get("question");
        if (present(p) && present(q)) {
            problem("both \"prompt\" and \"question\"" + where + "; give one");
        } else if (!present(p) && !present(q)) {
            problem("missing \"prompt\" (or \"question\")" + where);
        } else {
            prompt = string(present(p) ? p : q, present(p) ? "prompt" : "question", where);
        }
        String system = present(node.get("system")) ? string(node.get("system"), "system", where) : null;

        List<Path> images = media(node, "image", "images", where);
        List<Path> audio = media(node, "audio", "audios", where);
        List<Path> video = media(node, "video", "videos", where);

        List<String> choices = List.of();
        JsonNode choiceNode = alias(node, "choices", "options", where);
        if (present(choiceNode)) {
            choices = strings(choiceNode, node.has("choices") ? "choices" : "options", where);
            if (choices != null && (choices.isEmpty() || choices.size() > 26)) {
                problem("\"choices\" must have 1 to 26 options, has " + choices.size() + where);
                choices = null;
            }
        }
        List<String> answers = new ArrayList<>();
        int answerIndex = Sample.NO_ANSWER;
        JsonNode a = node.get("answer");
        JsonNode as = node.get("answers");
        if (choices == null) {
            answers = null;   // already reported
        } else if (!choices.isEmpty()) {
            if (present(as)) {
                problem("\"answers\" is for open questions; with \"choices\" give the correct option as \"answer\"" + where);
            }
            if (present(a)) {
                answerIndex = optionIndex(a, choices, where);
                if (answerIndex >= 0) {
                    answers.add(choices.get(answerIndex));
                }
            }
        } else {
            if (present(a)) {
                String s = string(a, "answer", where);
                if (s != null) {
                    answers.add(s);
                }
            }
            if (present(as)) {
                List<String> list = strings(as, "answers", where);
                if (list != null) {
                    for (String s : list) {
                        if (!answers.contains(s)) {
                            answers.add(s);
                        }
                    }
                }
            }
        }

        Map<String, String> labels = new LinkedHashMap<>();
        JsonNode l = node.get("labels");
        if (present(l)) {
            if (!l.isObject()) {
                problem("\"labels\" must be an object of strings, got " + kind(l) + where);
            } else {
                for (Iterator<Map.Entry<String, JsonNode>> it = l.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (e.getValue().isTextual()) {
                        labels.put(e.getKey(), e.getValue().textValue());
                    } else {
                        problem("label \"" + e.getKey() + "\" must be a string, got " + kind(e.getValue()) + where);
                    }
                }
            }
        }
        for (String f : LABEL_FIELDS) {
            JsonNode v = node.get(f);
            if (present(v)) {
                String s = string(v, f, where);
                if (s != null) {
                    String old = labels.putIfAbsent(f, s);
                    if (old != null && !old.equals(s)) {
                        problem("\"" + f + "\" is \"" + s + "\" but labels." + f + " is \"" + old + "\"" + where);
                    }
                }
            }
        }

        if (problemCount > before) {
            return null;
        }
        return new Sample(id, prompt, system, images, audio, video, answers, choices, answerIndex, labels);
    }

    private int optionIndex(JsonNode a, List<String> choices, String where) {
        int n = choices.size();
        String range = "A-" + OptionExtractor.letter(n - 1);
        if (a.isIntegralNumber()) {
            long i = a.longValue();
            if (i < 0 || i >= n) {
                problem("\"answer\" index " + i + " is outside the " + n + " choices (0-" + (n - 1) + ")" + where);
                return Sample.NO_ANSWER;
            }
            return (int) i;
        }
        if (!a.isTextual()) {
            problem("\"answer\" must be an option letter, a 0-based index or an option's text, got " + kind(a) + where);
            return Sample.NO_ANSWER;
        }
        String s = a.textValue().strip();
        boolean isLetter = s.length() == 1 && s.charAt(0) < 128 && Character.isLetter(s.charAt(0));
        int letterIndex = isLetter && Character.toUpperCase(s.charAt(0)) - 'A' < n
                ? Character.toUpperCase(s.charAt(0)) - 'A' : Sample.NO_ANSWER;
        int found = choices.indexOf(a.textValue());
        int textIndex = found >= 0 && choices.lastIndexOf(a.textValue()) == found ? found : Sample.NO_ANSWER;
        if (letterIndex >= 0 && textIndex >= 0 && letterIndex != textIndex) {
            problem("\"answer\" '" + s + "' is ambiguous: option letter " + s.toUpperCase(java.util.Locale.ROOT)
                    + " or the text of option " + OptionExtractor.letter(textIndex) + where);
            return Sample.NO_ANSWER;
        }
        if (letterIndex >= 0) {
            return letterIndex;
        }
        if (textIndex >= 0) {
            return textIndex;
        }
        if (isLetter) {
            problem("\"answer\" '" + s + "' is not one of the " + n + " choices (" + range + ")" + where);
        } else {
            problem("\"answer\" \"" + a.textValue() + "\" is neither an option letter (" + range
                    + "), nor a 0-based index, nor the text of exactly one option" + where);
        }
        return Sample.NO_ANSWER;
    }

    private List<Path> media(JsonNode node, String key, String plural, String where) {
        JsonNode m = alias(node, key, plural, where);
        if (!present(m)) {
            return List.of();
        }
        String name = node.has(key) ? key : plural;
        List<String> raw = m.isTextual() ? List.of(m.textValue()) : strings(m, name, where);
        if (raw == null) {
            return List.of();
        }
        List<Path> out = new ArrayList<>(raw.size());
        for (String r : raw) {
            Path resolved;
            try {
                resolved = baseDir.resolve(r).normalize();
            } catch (InvalidPathException e) {
                problem(key + " path \"" + r + "\" is invalid: " + e.getReason() + where);
                continue;
            }
            if (r.isBlank()) {
                problem(key + " path is blank" + where);
            } else if (!Files.exists(resolved)) {
                problem(key + " file not found: " + resolved + " (\"" + r + "\")" + where);
            } else if (!Files.isRegularFile(resolved)) {
                problem(key + " path is not a regular file: " + resolved + where);
            } else {
                out.add(resolved);
            }
        }
        return out;
    }

    /** The node of {@code key} or of its alias; both present is a problem. */
    private JsonNode alias(JsonNode node, String key, String other, String where) {
        JsonNode a = node.get(key);
        JsonNode b = node.get(other);
        if (present(a) && present(b)) {
            problem("both \"" + key + "\" and \"" + other + "\"" + where + "; give one");
        }
        return present(a) ? a : b;
    }

    private String string(JsonNode n, String name, String where) {
        if (!n.isTextual()) {
            problem("\"" + name + "\" must be a string, got " + kind(n) + where);
            return null;
        }
        return n.textValue();
    }

    private List<String> strings(JsonNode n, String name, String where) {
        if (!n.isArray()) {
            problem("\"" + name + "\" must be a list of strings, got " + kind(n) + where);
            return null;
        }
        List<String> out = new ArrayList<>(n.size());
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            if (!e.isTextual()) {
                problem("\"" + name + "\"[" + i + "] must be a string, got " + kind(e) + where);
                return null;
            }
            out.add(e.textValue());
        }
        return out;
    }

    private static boolean present(JsonNode n) {
        return n != null && !n.isNull();
    }

    private static String kind(JsonNode n) {
        return switch (n.getNodeType()) {
            case ARRAY -> "a list";
            case OBJECT -> "an object";
            case NUMBER -> "a number (" + n.asText() + ")";
            case BOOLEAN -> "a boolean (" + n.asText() + ")";
            case STRING -> "a string";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
