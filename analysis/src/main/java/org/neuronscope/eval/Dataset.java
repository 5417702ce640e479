package org.neuronscope.eval;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * A named, ordered list of {@link Sample}s with unique ids. Immutable.
 *
 * <h2>File format (JSONL)</h2>
 * UTF-8, one JSON object per line; blank lines are skipped. Fields:
 * <table>
 *   <caption>Dataset fields</caption>
 *   <tr><th>field</th><th>type</th><th>meaning</th></tr>
 *   <tr><td>{@code id}</td><td>string or integer, required</td><td>unique in the file</td></tr>
 *   <tr><td>{@code prompt} or {@code question}</td><td>string, required (one of them)</td><td>the user prompt</td></tr>
 *   <tr><td>{@code system}</td><td>string</td><td>system prompt</td></tr>
 *   <tr><td>{@code image}, {@code audio}, {@code video} (or {@code images}, {@code audios}, {@code videos})</td>
 *       <td>string or list of strings</td><td>media files, relative to the dataset file's directory
 *       (or absolute); every file must exist</td></tr>
 *   <tr><td>{@code answer}</td><td>string; with choices also a letter or a 0-based integer index</td><td>the reference answer</td></tr>
 *   <tr><td>{@code answers}</td><td>list of strings (open questions only)</td><td>all accepted answers
 *       (merged with {@code answer} if both are given, {@code answer} first)</td></tr>
 *   <tr><td>{@code choices} (or {@code options})</td><td>list of 1 to 26 strings</td><td>options A, B, ...; then
 *       {@code answer} is a letter ("B", any case), a 0-based index (1), or the exact text of one option
 *       (a one-letter answer that reads both as a letter and as another option's text is an error)</td></tr>
 *   <tr><td>{@code labels}</td><td>object of string → string</td><td>free labels</td></tr>
 *   <tr><td>{@code domain}, {@code language}, {@code split}</td><td>string</td><td>labels too</td></tr>
 * </table>
 * Other fields are ignored (logged at debug level). Every problem is reported as a
 * {@link DatasetException} naming the file and line: malformed JSON, a missing id or prompt, a
 * duplicate id, a media file that does not exist, a field of the wrong type; all problems of a file
 * are collected into one exception.
 *
 * <pre>{@code
 * {"id": "q1", "question": "What is shown?", "image": "img/1.png", "answers": ["cat", "a cat"], "domain": "everyday"}
 * {"id": "q2", "prompt": "Capital of France?", "choices": ["Rome", "Paris"], "answer": "B", "labels": {"split": "forget"}}
 * }</pre>
 */
public final class Dataset implements Iterable<Sample> {
    private final String name;
    private final Path path;
    private final List<Sample> samples;
    private final Map<String, Sample> byId;

    private Dataset(String name, Path path, List<Sample> samples) {
        if (name == null || name.isBlank()) {
            throw new DatasetException(path, 0, "a dataset needs a non-blank name");
        }
        this.name = name;
        this.path = path;
        this.samples = List.copyOf(samples);
        Map<String, Sample> ids = new HashMap<>();
        for (Sample s : this.samples) {
            if (ids.putIfAbsent(s.id(), s) != null) {
                throw new DatasetException(path, 0, "dataset " + name + ": duplicate sample id '" + s.id() + "'");
            }
        }
        this.byId = Collections.unmodifiableMap(ids);
    }

    /** A dataset of samples built in memory (no file). */
    public static Dataset of(String name, List<Sample> samples) {
        return new Dataset(name, null, samples);
    }

    /**
     * Reads a JSONL dataset file; its name is the file name without a {@code .jsonl} / {@code .json}
     * extension.
     *
     * @throws DatasetException if the file cannot be read, is empty, or has any invalid line
     */
    public static Dataset load(Path file) {
        String n = file.getFileName().toString().replaceFirst("\\.(jsonl|json|ndjson)$", "");
        return load(file, n);
    }

    /** Reads a JSONL dataset file under the given name. */
    public static Dataset load(Path file, String name) {
        return new Dataset(name, file, JsonlDatasetReader.read(file));
    }

    /**
     * One sample from one line of a dataset file in the format above, for readers that split a file
     * among processes (the Spark module): media paths resolve against {@code baseDir}; {@code file} and
     * {@code line} (1-based) only name the line in errors.
     *
     * @throws DatasetException if the line is not a valid sample
     */
    public static Sample parseLine(Path file, Path baseDir, int line, String json) {
        return JsonlDatasetReader.parse(file, baseDir, line, json);
    }

    public String name() {
        return name;
    }

    /** The file read (kept by the datasets filtered from it), or null for a dataset built in memory. */
    public Path path() {
        return path;
    }

    public List<Sample> samples() {
        return samples;
    }

    public int size() {
        return samples.size();
    }

    public boolean isEmpty() {
        return samples.isEmpty();
    }

    /** The sample with this id, or null. */
    public Sample get(String id) {
        return byId.get(id);
    }

    public Stream<Sample> stream() {
        return samples.stream();
    }

    @Override
    public Iterator<Sample> iterator() {
        return samples.iterator();
    }

    /** The samples whose label {@code label} is {@code value}, named {@code name[label=value]}. */
    public Dataset filter(String label, String value) {
        return filter(name + "[" + label + "=" + value + "]", s -> value.equals(s.label(label)));
    }

    /** The samples that pass {@code keep}, in order, under a new name. */
    public Dataset filter(String newName, Predicate<Sample> keep) {
        List<Sample> kept = new ArrayList<>();
        for (Sample s : samples) {
            if (keep.test(s)) {
                kept.add(s);
            }
        }
        return new Dataset(newName, path, kept);
    }

    /**
     * The distinct values of a label, in order of first appearance (samples without it aside).
     */
    public List<String> labelValues(String label) {
        return List.copyOf(groupBy(label).keySet());
    }

    /**
     * The values of a label as a grouping by it needs them ({@code --group-by label:<name>}), checked
     * before anything is decoded: some sample must have the label, and every sample must, so that no
     * sample falls into no group halfway through a run. The rule of {@code stats}, {@code ablate} and
     * the Spark job.
     */
    public List<String> requireLabelValues(String label) {
        if (label.isBlank()) {
            throw new IllegalArgumentException("--group-by label:<name> needs a label name, e.g. label:language");
        }
        List<String> values = labelValues(label);
        if (values.isEmpty()) {
            java.util.Set<String> known = new java.util.TreeSet<>();
            samples.forEach(s -> known.addAll(s.labels().keySet()));
            throw new IllegalArgumentException("no sample of " + name() + " has the label '" + label + "'"
                    + (known.isEmpty() ? " (its samples have no labels)" : " (labels in the dataset: " + String.join(", ", known) + ")"));
        }
        List<String> missing = samples.stream().filter(s -> s.label(label) == null).map(Sample::id).toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(missing.size() + " of " + size() + " samples of " + name() + " have no label '" + label
                    + "': " + String.join(", ", missing.subList(0, Math.min(5, missing.size()))) + (missing.size() > 5 ? ", ..." : ""));
        }
        return values;
    }

    /**
     * One dataset per value of a label ({@code name[label=value]}), in order of first appearance.
     * Samples without the label are in none of them; {@link #filter(String, Predicate)} with
     * {@code s -> s.label(label) == null} finds them.
     */
    public Map<String, Dataset> groupBy(String label) {
        Map<String, List<Sample>> groups = new LinkedHashMap<>();
        for (Sample s : samples) {
            String v = s.label(label);
            if (v != null) {
                groups.computeIfAbsent(v, k -> new ArrayList<>()).add(s);
            }
        }
        Map<String, Dataset> out = new LinkedHashMap<>();
        groups.forEach((v, list) -> out.put(v, new Dataset(name + "[" + label + "=" + v + "]", path, list)));
        return Collections.unmodifiableMap(out);
    }

    @Override
    public String toString() {
        return "Dataset[" + name + ", " + samples.size() + " samples" + (path == null ? "" : ", " + path) + "]";
    }
}
