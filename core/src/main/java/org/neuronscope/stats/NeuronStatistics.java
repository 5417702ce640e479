package org.neuronscope.stats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Per-neuron statistics of one hook point, split by token group: for each {@link Statistic} held, a
 * double array laid out [layer][group][neuron] (neuron fastest) in off-heap memory, plus the token
 * count of each group. Sums and counts merge exactly by addition (so a job split over processes or
 * machines merges to the whole), maxima and minima by max and min.
 *
 * <p>Saved as a directory (see {@link #save(Path)}): one numpy {@code .npy} file per statistic,
 * {@code tokens.npy}, and {@code meta.json}; written to a temporary directory and moved into place,
 * so a saved directory is always complete and doubles as a checkpoint.
 */
public final class NeuronStatistics implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Arena arena = Arena.ofShared();
    private final String hookPoint;
    private final int layers;
    private final int neurons;
    private final List<String> groups;
    private final Map<Statistic, MemorySegment> values = new EnumMap<>(Statistic.class);
    private final MemorySegment tokens;
    private final float countThreshold;
    private final float countAbsThreshold;
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /**
     * Empty statistics (sums 0, maxima -inf, minima +inf).
     *
     * @param countThreshold    the threshold of COUNT (x > threshold)
     * @param countAbsThreshold the threshold of COUNT_ABS (|x| > threshold)
     */
    public NeuronStatistics(String hookPoint, int layers, int neurons, List<String> groups, Set<Statistic> statistics,
                            float countThreshold, float countAbsThreshold) {
        if (layers <= 0 || neurons <= 0 || groups.isEmpty()) {
            throw new NeuronScopeException("statistics need layers, neurons and groups (got " + layers + ", " + neurons + ", " + groups.size() + ")");
        }
        if (groups.stream().distinct().count() != groups.size()) {
            throw new NeuronScopeException("group names must be unique: " + groups);
        }
        this.hookPoint = hookPoint;
        this.layers = layers;
        this.neurons = neurons;
        this.groups = List.copyOf(groups);
        this.countThreshold = countThreshold;
        this.countAbsThreshold = countAbsThreshold;
        long n = (long) layers * groups.size() * neurons;
        for (Statistic s : statistics) {
            MemorySegment seg = arena.allocate(n * Double.BYTES, 64);
            if (s.identity() != 0.0) {
                for (long i = 0; i < n; i++) {
                    seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, s.identity());
                }
            }
            values.put(s, seg);
        }
        this.tokens = arena.allocate((long) groups.size() * Long.BYTES, 64);
    }

    public String hookPoint() {
        return hookPoint;
    }

    public int layers() {
        return layers;
    }

    public int neurons() {
        return neurons;
    }

    public int groupCount() {
        return groups.size();
    }

    public List<String> groups() {
        return groups;
    }

    public int groupIndex(String name) {
        int i = groups.indexOf(name);
        if (i < 0) {
            throw new NeuronScopeException("no group '" + name + "' (groups: " + groups + ")");
        }
        return i;
    }

    public Set<Statistic> statistics() {
        return values.isEmpty() ? EnumSet.noneOf(Statistic.class) : EnumSet.copyOf(values.keySet());
    }

    public boolean has(Statistic s) {
        return values.containsKey(s);
    }

    public float countThreshold() {
        return countThreshold;
    }

    public float countAbsThreshold() {
        return countAbsThreshold;
    }

    /** Free-form descriptive metadata (model, dataset, ...), saved with the statistics. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The array of a statistic, [layer][group][neuron] doubles (zero-copy, valid until close). */
    public MemorySegment segment(Statistic s) {
        MemorySegment seg = values.get(s);
        if (seg == null) {
            throw new NeuronScopeException("these statistics do not hold " + s + " (they hold " + values.keySet() + ")");
        }
        return seg;
    }

    /** Element index of (layer, group, neuron 0). */
    public long offset(int layer, int group) {
        if (layer < 0 || layer >= layers || group < 0 || group >= groups.size()) {
            throw new NeuronScopeException("(layer " + layer + ", group " + group + ") out of range (" + layers + ", " + groups.size() + ")");
        }
        return ((long) layer * groups.size() + group) * neurons;
    }

    public double get(Statistic s, int layer, int group, int neuron) {
        if (neuron < 0 || neuron >= neurons) {
            throw new NeuronScopeException("neuron " + neuron + " out of range [0, " + neurons + ")");
        }
        return segment(s).getAtIndex(ValueLayout.JAVA_DOUBLE, offset(layer, group) + neuron);
    }

    public void set(Statistic s, int layer, int group, int neuron, double v) {
        if (neuron < 0 || neuron >= neurons) {
            throw new NeuronScopeException("neuron " + neuron + " out of range [0, " + neurons + ")");
        }
        segment(s).setAtIndex(ValueLayout.JAVA_DOUBLE, offset(layer, group) + neuron, v);
    }

    public long tokens(int group) {
        return tokens.getAtIndex(ValueLayout.JAVA_LONG, checkGroup(group));
    }

    public void addTokens(int group, long n) {
        tokens.setAtIndex(ValueLayout.JAVA_LONG, checkGroup(group), tokens(group) + n);
    }

    private int checkGroup(int group) {
        if (group < 0 || group >= groups.size()) {
            throw new NeuronScopeException("group " + group + " out of range [0, " + groups.size() + ")");
        }
        return group;
    }

    /**
     * Adds raw sums laid out [layer][column][neuron] with {@code columns} columns, of which column
     * {@code columnOffset + g} is group g (how hook accumulators are laid out).
     */
    public void addSums(Statistic s, MemorySegment sums, int columns, int columnOffset) {
        MemorySegment dst = segment(s);
        if (s.isExtremum()) {
            throw new NeuronScopeException(s + " does not add");
        }
        if (sums.byteSize() != (long) layers * columns * neurons * Double.BYTES || columnOffset + groups.size() > columns) {
            throw new NeuronScopeException("sums of " + sums.byteSize() + " bytes do not match " + layers + " x " + columns + " x " + neurons);
        }
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < groups.size(); g++) {
                long d = offset(l, g);
                long src = ((long) l * columns + columnOffset + g) * neurons;
                for (int n = 0; n < neurons; n++) {
                    dst.setAtIndex(ValueLayout.JAVA_DOUBLE, d + n,
                            dst.getAtIndex(ValueLayout.JAVA_DOUBLE, d + n) + sums.getAtIndex(ValueLayout.JAVA_DOUBLE, src + n));
                }
            }
        }
    }

    /** Updates MAX/MIN (whichever are held) of group g, layer l with one token's row of neuron values. */
    public void observeExtrema(int layer, int group, MemorySegment row) {
        long base = offset(layer, group);
        MemorySegment max = values.get(Statistic.MAX);
        MemorySegment min = values.get(Statistic.MIN);
        for (int n = 0; n < neurons; n++) {
            double v = row.getAtIndex(ValueLayout.JAVA_FLOAT, n);
            if (max != null && v > max.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n)) {
                max.setAtIndex(ValueLayout.JAVA_DOUBLE, base + n, v);
            }
            if (min != null && v < min.getAtIndex(ValueLayout.JAVA_DOUBLE, base + n)) {
                min.setAtIndex(ValueLayout.JAVA_DOUBLE, base + n, v);
            }
        }
    }

    /** Adds another run's statistics (same hook point, shape, groups, statistics and thresholds). */
    public void merge(NeuronStatistics other) {
        if (!hookPoint.equals(other.hookPoint) || layers != other.layers || neurons != other.neurons || !groups.equals(other.groups)
                || !values.keySet().equals(other.values.keySet()) || countThreshold != other.countThreshold
                || countAbsThreshold != other.countAbsThreshold) {
            throw new NeuronScopeException("cannot merge statistics of different shape, groups, statistics or thresholds");
        }
        long n = (long) layers * groups.size() * neurons;
        for (var e : values.entrySet()) {
            MemorySegment a = e.getValue();
            MemorySegment b = other.values.get(e.getKey());
            for (long i = 0; i < n; i++) {
                double x = a.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                double y = b.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                a.setAtIndex(ValueLayout.JAVA_DOUBLE, i, switch (e.getKey()) {
                    case MAX -> Math.max(x, y);
                    case MIN -> Math.min(x, y);
                    default -> x + y;
                });
            }
        }
        for (int g = 0; g < groups.size(); g++) {
            addTokens(g, other.tokens(g));
        }
    }

    // ------------------------------------------------------------------ persistence

    /** Writes the directory (atomically replacing an older one). */
    public void save(Path dir) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, dir.getFileName() + ".tmp");
        long[] shape = {layers, groups.size(), neurons};
        for (var e : values.entrySet()) {
            Npy.writeDoubles(tmp.resolve(e.getKey().fileName()), shape, e.getValue().toArray(ValueLayout.JAVA_DOUBLE));
        }
        Npy.writeLongs(tmp.resolve("tokens.npy"), new long[] {groups.size()}, tokens.toArray(ValueLayout.JAVA_LONG));
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", "neuronscope-statistics/1");
        meta.put("hook_point", hookPoint);
        meta.put("layers", layers);
        meta.put("neurons", neurons);
        groups.forEach(meta.putArray("groups")::add);
        values.keySet().forEach(s -> meta.withArray("statistics").add(s.name()));
        meta.put("count_threshold", countThreshold);
        meta.put("count_abs_threshold", countAbsThreshold);
        ObjectNode md = meta.putObject("metadata");
        metadata.forEach(md::put);
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve("meta.json").toFile(), meta);
        Path old = null;
        if (Files.exists(dir)) {
            old = Files.createTempDirectory(parent, dir.getFileName() + ".old");
            Files.delete(old);
            Files.move(dir, old);
        }
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dir);
        }
        if (old != null) {
            deleteRecursively(old);
        }
    }

    /** Reads a saved directory, checking every array's shape against meta.json. */
    public static NeuronStatistics load(Path dir) throws IOException {
        Path metaFile = dir.resolve("meta.json");
        if (!Files.isRegularFile(metaFile)) {
            throw new NeuronScopeException(dir + " has no meta.json: not a statistics directory");
        }
        JsonNode meta = JSON.readTree(metaFile.toFile());
        if (!"neuronscope-statistics/1".equals(meta.path("format").asText())) {
            throw new NeuronScopeException(metaFile + ": unknown format " + meta.path("format"));
        }
        List<String> groups = new ArrayList<>();
        meta.path("groups").forEach(g -> groups.add(g.asText()));
        EnumSet<Statistic> stats = EnumSet.noneOf(Statistic.class);
        meta.path("statistics").forEach(s -> stats.add(Statistic.valueOf(s.asText())));
        NeuronStatistics st = new NeuronStatistics(meta.path("hook_point").asText(), meta.path("layers").asInt(), meta.path("neurons").asInt(),
                groups, stats, (float) meta.path("count_threshold").asDouble(), (float) meta.path("count_abs_threshold").asDouble());
        try {
            long[] shape = {st.layers, groups.size(), st.neurons};
            for (Statistic s : stats) {
                double[] v = Npy.readDoubles(dir.resolve(s.fileName()), shape);
                MemorySegment.copy(v, 0, st.values.get(s), ValueLayout.JAVA_DOUBLE, 0, v.length);
            }
            long[] t = Npy.readLongs(dir.resolve("tokens.npy"), new long[] {groups.size()});
            MemorySegment.copy(t, 0, st.tokens, ValueLayout.JAVA_LONG, 0, t.length);
            meta.path("metadata").fields().forEachRemaining(e -> st.metadata.put(e.getKey(), e.getValue().asText()));
            return st;
        } catch (IOException | RuntimeException e) {
            st.close();
            throw e;
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
