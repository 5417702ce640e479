package org.neuronscope.probe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.FormatException;
import org.neuronscope.stats.Npy;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Pooled representations of samples, one vector per (sample, layer) for each pooling (last token,
 * mean over text tokens, ...), with the samples' ids and labels: what a layer-wise probe trains on.
 * Held on the heap as doubles laid out [sample][layer][width] per pooling; saved as a directory with
 * one {@code .npy} file per pooling (float64, shape (samples, layers, width)) and {@code meta.json}
 * (docs/FORMATS.md, "Pooled representations"). Not thread-safe while being filled.
 */
public final class Representations {
    /** The {@code format} field of meta.json. */
    public static final String FORMAT = "neuronscope-representations/1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<String> poolings;
    private final int layers;
    private final int width;
    private final int capacity;
    private final String hookPoint;
    private final Map<String, double[]> values = new LinkedHashMap<>();
    private final List<String> sampleIds = new ArrayList<>();
    private final List<Map<String, String>> labels = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /**
     * Room for {@code capacity} samples.
     *
     * @param poolings  the poolings' names (e.g. {@code last}, {@code mean:text}), distinct
     * @param hookPoint where the vectors were taken (the id, e.g. {@code resid.post})
     */
    public Representations(List<String> poolings, String hookPoint, int layers, int width, int capacity) {
        if (poolings.isEmpty() || poolings.stream().distinct().count() != poolings.size()) {
            throw new IllegalArgumentException("poolings must be distinct and at least one, got " + poolings);
        }
        if (layers <= 0 || width <= 0 || capacity < 0) {
            throw new IllegalArgumentException("layers and width must be positive and capacity not negative, got " + layers + ", " + width
                    + ", " + capacity);
        }
        long n = (long) capacity * layers * width;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(capacity + " samples x " + layers + " layers x " + width + " do not fit one Java array per pooling;"
                    + " split the dataset");
        }
        this.poolings = List.copyOf(poolings);
        this.hookPoint = hookPoint;
        this.layers = layers;
        this.width = width;
        this.capacity = capacity;
        for (String p : poolings) {
            fileName(p); // checks the name
            values.put(p, new double[(int) n]);
        }
    }

    public List<String> poolings() {
        return poolings;
    }

    public String hookPoint() {
        return hookPoint;
    }

    public int layers() {
        return layers;
    }

    public int width() {
        return width;
    }

    public int capacity() {
        return capacity;
    }

    /** Samples added so far. */
    public int size() {
        return sampleIds.size();
    }

    public List<String> sampleIds() {
        return Collections.unmodifiableList(sampleIds);
    }

    /** The labels of sample {@code i}. */
    public Map<String, String> labels(int i) {
        return labels.get(i);
    }

    /** Free-form metadata (model, dataset, ...), saved with the arrays. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Adds a sample: {@code pooled[k]} is pooling k's vectors, layers x width doubles, layer-major.
     */
    public void add(String sampleId, Map<String, String> sampleLabels, double[][] pooled) {
        if (size() == capacity) {
            throw new IllegalStateException("all " + capacity + " samples are added");
        }
        if (pooled.length != poolings.size()) {
            throw new IllegalArgumentException(pooled.length + " pooled arrays for " + poolings.size() + " poolings");
        }
        int stride = layers * width;
        for (int k = 0; k < pooled.length; k++) {
            if (pooled[k].length != stride) {
                throw new IllegalArgumentException("pooling " + poolings.get(k) + ": " + pooled[k].length + " values, expected layers x width = " + stride);
            }
            System.arraycopy(pooled[k], 0, values.get(poolings.get(k)), size() * stride, stride);
        }
        sampleIds.add(sampleId);
        labels.add(Map.copyOf(sampleLabels));
    }

    public double get(String pooling, int sample, int layer, int j) {
        if (sample < 0 || sample >= size() || layer < 0 || layer >= layers || j < 0 || j >= width) {
            throw new IndexOutOfBoundsException("(" + sample + ", " + layer + ", " + j + ") out of range (" + size() + ", " + layers + ", " + width + ")");
        }
        return data(pooling)[(sample * layers + layer) * width + j];
    }

    /** One layer's vectors of every sample added: samples x width (a copy). */
    public double[][] layer(String pooling, int layer) {
        if (layer < 0 || layer >= layers) {
            throw new IndexOutOfBoundsException("layer " + layer + " is out of range [0, " + layers + ")");
        }
        double[] d = data(pooling);
        double[][] x = new double[size()][width];
        for (int s = 0; s < size(); s++) {
            System.arraycopy(d, (s * layers + layer) * width, x[s], 0, width);
        }
        return x;
    }

    private double[] data(String pooling) {
        double[] d = values.get(pooling);
        if (d == null) {
            throw new IllegalArgumentException("no pooling '" + pooling + "' here; there are " + poolings);
        }
        return d;
    }

    /** The file a pooling is saved in: its name with every character outside [A-Za-z0-9._-] replaced by '_', and .npy. */
    public static String fileName(String pooling) {
        if (pooling == null || pooling.isBlank()) {
            throw new IllegalArgumentException("a pooling needs a name");
        }
        return pooling.replaceAll("[^A-Za-z0-9._-]", "_") + ".npy";
    }

    /** Whether {@code dir} holds saved representations. */
    public static boolean isSavedIn(Path dir) {
        return Files.isRegularFile(dir.resolve("meta.json"));
    }

    /**
     * Saves the samples added so far: written to {@code <dir>.tmp} and moved into place, so a reader
     * never sees half a save.
     */
    public void save(Path dir) throws IOException {
        dir = dir.toAbsolutePath();
        Files.createDirectories(dir.getParent());
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
        deleteRecursively(tmp);
        Files.createDirectory(tmp);
        int n = size();
        long[] shape = {n, layers, width};
        for (String p : poolings) {
            double[] d = values.get(p);
            Npy.writeDoubles(tmp.resolve(fileName(p)), shape, n * layers * width == d.length ? d : java.util.Arrays.copyOf(d, n * layers * width));
        }
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", FORMAT);
        meta.put("hook_point", hookPoint);
        meta.put("layers", layers);
        meta.put("width", width);
        meta.put("samples", n);
        meta.put("capacity", capacity);
        ArrayNode pools = meta.putArray("poolings");
        for (String p : poolings) {
            pools.addObject().put("name", p).put("file", fileName(p));
        }
        sampleIds.forEach(meta.putArray("sample_ids")::add);
        ArrayNode labelArray = meta.putArray("labels");
        for (Map<String, String> l : labels) {
            ObjectNode o = labelArray.addObject();
            new java.util.TreeMap<>(l).forEach(o::put);
        }
        ObjectNode md = meta.putObject("metadata");
        metadata.forEach(md::put);
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve("meta.json").toFile(), meta);
        Path old = dir.resolveSibling(dir.getFileName() + ".old");
        deleteRecursively(old);
        if (Files.exists(dir)) {
            Files.move(dir, old);
        }
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dir);
        }
        deleteRecursively(old);
    }

    /** Reads a saved directory, checking every array's dtype and shape against meta.json. */
    public static Representations read(Path dir) throws IOException {
        Path metaFile = dir.resolve("meta.json");
        if (!Files.isRegularFile(metaFile)) {
            throw new FormatException(dir + " has no meta.json: not a representations directory");
        }
        JsonNode meta;
        try {
            meta = JSON.readTree(metaFile.toFile());
        } catch (IOException e) {
            throw new FormatException(metaFile + ": " + e.getMessage());
        }
        if (!FORMAT.equals(meta.path("format").asText())) {
            throw new FormatException(metaFile + ": format is '" + meta.path("format").asText() + "', expected " + FORMAT);
        }
        for (String field : List.of("layers", "width", "samples", "poolings", "sample_ids", "labels")) {
            if (meta.path(field).isMissingNode()) {
                throw new FormatException(metaFile + " has no '" + field + "'");
            }
        }
        int n = meta.get("samples").asInt();
        int layers = meta.get("layers").asInt();
        int width = meta.get("width").asInt();
        List<String> poolings = new ArrayList<>();
        meta.get("poolings").forEach(p -> poolings.add(p.path("name").asText()));
        if (meta.get("sample_ids").size() != n || meta.get("labels").size() != n) {
            throw new FormatException(metaFile + ": " + n + " samples but " + meta.get("sample_ids").size() + " ids and "
                    + meta.get("labels").size() + " label sets");
        }
        Representations r;
        try {
            r = new Representations(poolings, meta.path("hook_point").asText("resid.post"), layers, width, Math.max(n, meta.path("capacity").asInt(n)));
        } catch (IllegalArgumentException e) {
            throw new FormatException(metaFile + ": " + e.getMessage());
        }
        long[] shape = {n, layers, width};
        for (String p : poolings) {
            double[] d = Npy.readDoubles(dir.resolve(fileName(p)), shape);
            System.arraycopy(d, 0, r.values.get(p), 0, d.length);
        }
        for (int i = 0; i < n; i++) {
            r.sampleIds.add(meta.get("sample_ids").get(i).asText());
            Map<String, String> l = new LinkedHashMap<>();
            meta.get("labels").get(i).fields().forEachRemaining(e -> l.put(e.getKey(), e.getValue().asText()));
            r.labels.add(Map.copyOf(l));
        }
        meta.path("metadata").fields().forEachRemaining(e -> r.metadata.put(e.getKey(), e.getValue().asText()));
        return r;
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
