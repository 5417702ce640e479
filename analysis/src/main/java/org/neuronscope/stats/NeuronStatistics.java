package org.neuronscope.stats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.FormatException;
import org.neuronscope.HookPoint;
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
 * <p>Saved as a directory (see {@link #save(Path)} and {@code docs/FORMATS.md}): one numpy
 * {@code .npy} file per statistic (float64, shape (L, G, N), C order), {@code tokens.npy} (int64,
 * shape (G,)) and {@code meta.json}; written to a temporary directory and moved into place, so a saved
 * directory is always complete and doubles as a checkpoint that a long job resumes from.
 *
 * <p>Not thread-safe; the arrays live until {@link #close()}, after which every access throws.
 */
public final class NeuronStatistics implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The {@code format} field of meta.json. */
    public static final String FORMAT = "neuronscope-statistics/1";
    /** The metadata key of the model's name. */
    public static final String MODEL = "model";
    /** The metadata key of the module (vision, audio, projector); absent: the language model. */
    public static final String MODULE = "module";

    private final Arena arena = Arena.ofShared();
    private final HookPoint hookPoint;
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
    public NeuronStatistics(HookPoint hookPoint, int layers, int neurons, List<String> groups, Set<Statistic> statistics,
                            float countThreshold, float countAbsThreshold) {
        if (layers <= 0 || neurons <= 0 || groups.isEmpty()) {
            throw new IllegalArgumentException("statistics need layers, neurons and groups (got " + layers + ", " + neurons + ", " + groups.size() + ")");
        }
        if (groups.stream().distinct().count() != groups.size()) {
            throw new IllegalArgumentException("group names must be unique: " + groups);
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

    public HookPoint hookPoint() {
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
            throw new IllegalArgumentException("no group '" + name + "' (groups: " + groups + ")");
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
        checkOpen();
        MemorySegment seg = values.get(s);
        if (seg == null) {
            throw new IllegalArgumentException("these statistics do not hold " + s + " (they hold " + values.keySet() + ")");
        }
        return seg;
    }

    private static HookPoint hookPointOf(String name, Path dir) {
        try {
            return HookPoint.parse(name);
        } catch (IllegalArgumentException e) {
            throw new FormatException(dir.resolve("meta.json") + ": " + e.getMessage());
        }
    }

    /** Whether {@code dir} holds saved statistics (or the complete previous save an interrupted one left). */
    public static boolean isSavedIn(Path dir) {
        return Files.isRegularFile(dir.resolve("meta.json"))
                || Files.isRegularFile(dir.toAbsolutePath().resolveSibling(dir.getFileName() + ".old").resolve("meta.json"));
    }

    /** Element index of (layer, group, neuron 0). */
    public long offset(int layer, int group) {
        if (layer < 0 || layer >= layers || group < 0 || group >= groups.size()) {
            throw new IndexOutOfBoundsException("(layer " + layer + ", group " + group + ") out of range (" + layers + ", " + groups.size() + ")");
        }
        return ((long) layer * groups.size() + group) * neurons;
    }

    public double get(Statistic s, int layer, int group, int neuron) {
        if (neuron < 0 || neuron >= neurons) {
            throw new IndexOutOfBoundsException("neuron " + neuron + " out of range [0, " + neurons + ")");
        }
        return segment(s).getAtIndex(ValueLayout.JAVA_DOUBLE, offset(layer, group) + neuron);
    }

    public void set(Statistic s, int layer, int group, int neuron, double v) {
        if (neuron < 0 || neuron >= neurons) {
            throw new IndexOutOfBoundsException("neuron " + neuron + " out of range [0, " + neurons + ")");
        }
        segment(s).setAtIndex(ValueLayout.JAVA_DOUBLE, offset(layer, group) + neuron, v);
    }

    /** The number of tokens counted for a group. */
    public long tokens(int group) {
        checkOpen();
        return tokens.getAtIndex(ValueLayout.JAVA_LONG, checkGroup(group));
    }

    /** Adds {@code n} tokens to a group's count. */
    public void addTokens(int group, long n) {
        setTokens(group, tokens(group) + n);
    }

    public void setTokens(int group, long n) {
        if (n < 0) {
            throw new IllegalArgumentException("token count of group " + group + " cannot be negative: " + n);
        }
        checkOpen();
        tokens.setAtIndex(ValueLayout.JAVA_LONG, checkGroup(group), n);
    }

    /** The token counts as G int64 values (zero-copy, settable, valid until close). */
    public MemorySegment tokenCounts() {
        checkOpen();
        return tokens;
    }

    /** The model's name from the metadata ({@value #MODEL}), or null if none was recorded. */
    public String modelName() {
        return metadata.get(MODEL);
    }

    public NeuronStatistics setModelName(String model) {
        metadata.put(MODEL, model);
        return this;
    }

    /** The module whose neurons these are ({@value #MODULE} in the metadata; the language model when absent). */
    public org.neuronscope.Module module() {
        String m = metadata.get(MODULE);
        return m == null ? org.neuronscope.Module.LANGUAGE : org.neuronscope.Module.parse(m);
    }

    /** Records the module (statistics of an encoder or the projector); copies and files keep it. */
    public NeuronStatistics setModule(org.neuronscope.Module module) {
        if (module == org.neuronscope.Module.LANGUAGE) {
            metadata.remove(MODULE);
        } else {
            metadata.put(MODULE, module.id());
        }
        return this;
    }

    /** The threshold a counting statistic used: COUNT's (x > t) or COUNT_ABS's (|x| > t). */
    public float threshold(Statistic s) {
        return switch (s) {
            case COUNT -> countThreshold;
            case COUNT_ABS -> countAbsThreshold;
            default -> throw new IllegalArgumentException(s + " has no threshold");
        };
    }

    private void checkOpen() {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("these statistics (" + hookPoint + ") are closed");
        }
    }

    private int checkGroup(int group) {
        if (group < 0 || group >= groups.size()) {
            throw new IndexOutOfBoundsException("group " + group + " out of range [0, " + groups.size() + ")");
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
            throw new IllegalArgumentException(s + " does not add");
        }
        if (columns <= 0 || columnOffset < 0 || columnOffset + groups.size() > columns) {
            throw new IllegalArgumentException("these statistics have " + groups.size() + " groups " + groups + ", which do not fit in columns "
                    + columnOffset + ".." + (columnOffset + groups.size() - 1) + " of sums with " + columns + " columns"
                    + " (the hooks' token weights were opened with a different number of groups?)");
        }
        long expected = (long) layers * columns * neurons * Double.BYTES;
        if (sums.byteSize() != expected) {
            long per = (long) columns * neurons * Double.BYTES;
            String why = sums.byteSize() % per == 0
                    ? "they hold " + sums.byteSize() / per + " layers, these statistics " + layers
                    : sums.byteSize() % ((long) layers * columns * Double.BYTES) == 0
                    ? "they hold " + sums.byteSize() / ((long) layers * columns * Double.BYTES) + " neurons per layer, these statistics " + neurons
                    : "neither the layer count nor the width matches";
            throw new IllegalArgumentException("sums of " + sums.byteSize() + " bytes are not " + layers + " layers x " + columns + " columns x "
                    + neurons + " neurons x 8 bytes = " + expected + ": " + why);
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

    /**
     * Adds another run's statistics: sums and counts add, MAX and MIN combine, token counts add.
     * Both must agree on hook point, shape, groups (in order), statistics, thresholds and, when both
     * name one, the model; otherwise nothing changes and the exception names the difference.
     */
    public void merge(NeuronStatistics other) {
        checkOpen();
        other.checkOpen();
        String why = module() != other.module() ? "module " + module() + " vs " + other.module()
                : hookPoint != other.hookPoint ? "hook point " + hookPoint + " vs " + other.hookPoint
                : layers != other.layers || neurons != other.neurons ? "shape " + layers + " x " + neurons + " vs " + other.layers + " x " + other.neurons
                : !groups.equals(other.groups) ? "groups " + groups + " vs " + other.groups
                : !values.keySet().equals(other.values.keySet()) ? "statistics " + values.keySet() + " vs " + other.values.keySet()
                : countThreshold != other.countThreshold || countAbsThreshold != other.countAbsThreshold
                        ? "thresholds (" + countThreshold + ", " + countAbsThreshold + ") vs (" + other.countThreshold + ", " + other.countAbsThreshold + ")"
                : modelName() != null && other.modelName() != null && !modelName().equals(other.modelName())
                        ? "model " + modelName() + " vs " + other.modelName()
                : null;
        if (why != null) {
            throw new IllegalArgumentException("cannot merge statistics that differ in " + why);
        }
        long n = (long) layers * groups.size() * neurons;
        for (var e : values.entrySet()) {
            MemorySegment a = e.getValue();
            MemorySegment b = other.values.get(e.getKey());
            Statistic st = e.getKey();
            for (long i = 0; i < n; i++) {
                double x = a.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                double y = b.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                a.setAtIndex(ValueLayout.JAVA_DOUBLE, i, st == Statistic.MAX ? Math.max(x, y) : st == Statistic.MIN ? Math.min(x, y) : x + y);
            }
        }
        for (int g = 0; g < groups.size(); g++) {
            addTokens(g, other.tokens(g));
        }
        if (modelName() == null && other.modelName() != null) {
            setModelName(other.modelName());
        }
    }

    /**
     * A copy with extra groups that unite existing ones (e.g. MINER's {@code special_text} = text ∪
     * special and {@code prompt} = all): sums and counts add, MAX/MIN combine, token counts add — exact,
     * since every statistic held is a sum, a count or an extremum over the union's tokens.
     *
     * @param unions new group name → the existing groups it unites (in the order to append)
     */
    public NeuronStatistics withUnions(Map<String, List<String>> unions) {
        checkOpen();
        List<String> all = new java.util.ArrayList<>(groups);
        List<int[]> members = new java.util.ArrayList<>();
        for (var u : unions.entrySet()) {
            if (all.contains(u.getKey())) {
                throw new IllegalArgumentException("group " + u.getKey() + " already exists");
            }
            if (u.getValue().isEmpty()) {
                throw new IllegalArgumentException("union " + u.getKey() + " has no groups");
            }
            int[] idx = new int[u.getValue().size()];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = groupIndex(u.getValue().get(i));
            }
            all.add(u.getKey());
            members.add(idx);
        }
        NeuronStatistics c = new NeuronStatistics(hookPoint, layers, neurons, all, statistics(), countThreshold, countAbsThreshold);
        c.metadata.putAll(metadata);
        for (var e : values.entrySet()) {
            Statistic st = e.getKey();
            MemorySegment src = e.getValue();
            MemorySegment dst = c.values.get(st);
            for (int l = 0; l < layers; l++) {
                for (int g = 0; g < groups.size(); g++) {
                    MemorySegment.copy(src, offset(l, g) * Double.BYTES, dst, c.offset(l, g) * Double.BYTES, (long) neurons * Double.BYTES);
                }
                for (int u = 0; u < members.size(); u++) {
                    long d = c.offset(l, groups.size() + u);
                    for (int n = 0; n < neurons; n++) {
                        double acc = st == Statistic.MAX ? Double.NEGATIVE_INFINITY : st == Statistic.MIN ? Double.POSITIVE_INFINITY : 0;
                        for (int g : members.get(u)) {
                            double v = src.getAtIndex(ValueLayout.JAVA_DOUBLE, offset(l, g) + n);
                            acc = st == Statistic.MAX ? Math.max(acc, v) : st == Statistic.MIN ? Math.min(acc, v) : acc + v;
                        }
                        dst.setAtIndex(ValueLayout.JAVA_DOUBLE, d + n, acc);
                    }
                }
            }
        }
        for (int g = 0; g < groups.size(); g++) {
            c.setTokens(g, tokens(g));
        }
        for (int u = 0; u < members.size(); u++) {
            long t = 0;
            for (int g : members.get(u)) {
                t += tokens(g);
            }
            c.setTokens(groups.size() + u, t);
        }
        return c;
    }

    /** A copy holding only {@code keep} (existing groups, in the order given): e.g. LAPE over base modalities. */
    public NeuronStatistics subset(List<String> keep) {
        return subset(keep, statistics());
    }

    /** As {@link #subset(List)}, with only the statistics {@code only} (each must be held). */
    public NeuronStatistics subset(List<String> keep, Set<Statistic> only) {
        checkOpen();
        for (Statistic st : only) {
            if (!has(st)) {
                throw new IllegalArgumentException("these statistics hold no " + st);
            }
        }
        int[] idx = new int[keep.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = groupIndex(keep.get(i));
        }
        NeuronStatistics c = new NeuronStatistics(hookPoint, layers, neurons, keep, only, countThreshold, countAbsThreshold);
        c.metadata.putAll(metadata);
        for (var e : values.entrySet()) {
            MemorySegment dst = c.values.get(e.getKey());
            if (dst == null) {
                continue;
            }
            for (int l = 0; l < layers; l++) {
                for (int i = 0; i < idx.length; i++) {
                    MemorySegment.copy(e.getValue(), offset(l, idx[i]) * Double.BYTES, dst, c.offset(l, i) * Double.BYTES, (long) neurons * Double.BYTES);
                }
            }
        }
        for (int i = 0; i < idx.length; i++) {
            c.setTokens(i, tokens(idx[i]));
        }
        return c;
    }

    /** An independent copy (same arrays, token counts and metadata). */
    public NeuronStatistics copy() {
        checkOpen();
        NeuronStatistics c = new NeuronStatistics(hookPoint, layers, neurons, groups, statistics(), countThreshold, countAbsThreshold);
        values.forEach((s, seg) -> c.values.get(s).copyFrom(seg));
        c.tokens.copyFrom(tokens);
        c.metadata.putAll(metadata);
        return c;
    }

    /**
     * Statistics from plain arrays, for tests and imports: {@code values.get(s)[layer][group][neuron]}.
     * The statistics held are the map's keys; every array must have the same shape.
     */
    public static NeuronStatistics fromArrays(HookPoint hookPoint, List<String> groups, Map<Statistic, double[][][]> values, long[] tokens,
                                              float countThreshold, float countAbsThreshold) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("fromArrays needs at least one statistic");
        }
        double[][][] first = values.values().iterator().next();
        int layers = first.length;
        int neurons = layers == 0 || first[0].length == 0 ? 0 : first[0][0].length;
        if (tokens.length != groups.size()) {
            throw new IllegalArgumentException(tokens.length + " token counts for " + groups.size() + " groups");
        }
        NeuronStatistics st = new NeuronStatistics(hookPoint, layers, neurons, groups, values.keySet(), countThreshold, countAbsThreshold);
        try {
            for (var e : values.entrySet()) {
                double[][][] v = e.getValue();
                if (v.length != layers) {
                    throw new IllegalArgumentException(e.getKey() + " has " + v.length + " layers, expected " + layers);
                }
                for (int l = 0; l < layers; l++) {
                    if (v[l].length != groups.size()) {
                        throw new IllegalArgumentException(e.getKey() + " layer " + l + " has " + v[l].length + " groups, expected " + groups.size());
                    }
                    for (int g = 0; g < groups.size(); g++) {
                        if (v[l][g].length != neurons) {
                            throw new IllegalArgumentException(e.getKey() + " layer " + l + " group " + g + " has " + v[l][g].length
                                    + " neurons, expected " + neurons);
                        }
                        MemorySegment.copy(v[l][g], 0, st.values.get(e.getKey()), ValueLayout.JAVA_DOUBLE, st.offset(l, g) * Double.BYTES, neurons);
                    }
                }
            }
            for (int g = 0; g < tokens.length; g++) {
                st.setTokens(g, tokens[g]);
            }
            return st;
        } catch (RuntimeException e) {
            st.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ persistence

    /**
     * Writes the directory, atomically replacing an older one: the files go to {@code <dir>.tmp}, an
     * older {@code dir} is renamed to {@code <dir>.old}, the new one renamed into place, and the old
     * one deleted. A crash at any point leaves either {@code dir} or {@code <dir>.old} complete, and
     * {@link #read(Path)} falls back to {@code <dir>.old} when {@code dir} is missing: a checkpoint.
     */
    public void save(Path dir) throws IOException {
        checkOpen();
        dir = dir.toAbsolutePath();
        Path parent = dir.getParent();
        Files.createDirectories(parent);
        Path tmp = sibling(dir, ".tmp");
        Path old = sibling(dir, ".old");
        if (Files.exists(tmp)) {
            deleteRecursively(tmp); // left by an interrupted save: never complete
        }
        Files.createDirectory(tmp);
        long[] shape = {layers, groups.size(), neurons};
        for (var e : values.entrySet()) {
            Npy.writeDoubles(tmp.resolve(e.getKey().fileName()), shape, e.getValue());
        }
        Npy.writeLongs(tmp.resolve("tokens.npy"), new long[] {groups.size()}, tokens.toArray(ValueLayout.JAVA_LONG));
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", FORMAT);
        meta.put("hook_point", hookPoint.id());
        meta.put("layers", layers);
        meta.put("neurons", neurons);
        groups.forEach(meta.putArray("groups")::add);
        values.keySet().forEach(s -> meta.withArray("statistics").add(s.name()));
        meta.put("count_threshold", countThreshold);
        meta.put("count_abs_threshold", countAbsThreshold);
        ObjectNode md = meta.putObject("metadata");
        metadata.forEach(md::put);
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve("meta.json").toFile(), meta);
        if (Files.exists(dir)) {
            if (Files.exists(old)) {
                deleteRecursively(old);
            }
            Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dir);
        }
        if (Files.exists(old)) {
            deleteRecursively(old);
        }
    }

    private static Path sibling(Path dir, String suffix) {
        return dir.resolveSibling(dir.getFileName() + suffix);
    }

    /** Same as {@link #read(Path)}. */
    public static NeuronStatistics load(Path dir) throws IOException {
        return read(dir);
    }

    /**
     * Reads a saved directory (or, if it is missing, the {@code <dir>.old} an interrupted
     * {@link #save} left), checking every array's dtype and shape against meta.json.
     */
    public static NeuronStatistics read(Path dir) throws IOException {
        if (!Files.isDirectory(dir) && Files.isRegularFile(sibling(dir.toAbsolutePath(), ".old").resolve("meta.json"))) {
            dir = sibling(dir.toAbsolutePath(), ".old");
        }
        Path metaFile = dir.resolve("meta.json");
        if (!Files.isRegularFile(metaFile)) {
            throw new FormatException(dir + " has no meta.json: not a statistics directory");
        }
        JsonNode meta;
        try {
            meta = JSON.readTree(metaFile.toFile());
        } catch (IOException e) {
            throw new FormatException(metaFile + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!FORMAT.equals(meta.path("format").asText())) {
            throw new FormatException(metaFile + ": unknown format " + meta.path("format") + ", expected " + FORMAT);
        }
        for (String field : List.of("hook_point", "layers", "neurons", "groups", "statistics", "count_threshold", "count_abs_threshold")) {
            if (meta.path(field).isMissingNode()) {
                throw new FormatException(metaFile + " lacks the field '" + field + "'");
            }
        }
        if (!meta.path("groups").isArray() || meta.path("groups").isEmpty() || !meta.path("statistics").isArray()) {
            throw new FormatException(metaFile + ": 'groups' and 'statistics' must be arrays (of names), groups not empty");
        }
        List<String> groups = new ArrayList<>();
        for (JsonNode g : meta.path("groups")) {
            if (!g.isTextual()) {
                throw new FormatException(metaFile + ": group names must be strings, found " + g);
            }
            groups.add(g.asText());
        }
        int layers = org.neuronscope.JsonFields.integer(meta, "layers", 1, 1 << 16, metaFile);
        int neurons = org.neuronscope.JsonFields.integer(meta, "neurons", 1, 1 << 24, metaFile);
        float countThreshold = (float) org.neuronscope.JsonFields.number(meta, "count_threshold", metaFile);
        float countAbsThreshold = (float) org.neuronscope.JsonFields.number(meta, "count_abs_threshold", metaFile);
        EnumSet<Statistic> stats = EnumSet.noneOf(Statistic.class);
        for (JsonNode s : meta.path("statistics")) {
            try {
                stats.add(Statistic.valueOf(s.asText()));
            } catch (IllegalArgumentException e) {
                throw new FormatException(metaFile + ": unknown statistic " + s.asText());
            }
        }
        // the arrays are allocated from meta.json's sizes: each must be backed by a file that holds that many values
        long need = (long) layers * groups.size() * neurons * Double.BYTES;
        for (Statistic s : stats) {
            Path f = dir.resolve(s.fileName());
            if (!Files.isRegularFile(f)) {
                throw new FormatException(f + " is missing (" + metaFile.getFileName() + " lists " + s + ")");
            }
            if (Files.size(f) < need) {
                throw new FormatException(f + " holds " + Files.size(f) + " bytes, but the shape (" + layers + ", " + groups.size() + ", "
                        + neurons + ") in " + metaFile.getFileName() + " needs " + need + " bytes of float64 values");
            }
        }
        NeuronStatistics st = new NeuronStatistics(hookPointOf(meta.path("hook_point").asText(), dir), layers, neurons,
                groups, stats, countThreshold, countAbsThreshold);
        try {
            long[] shape = {st.layers, groups.size(), st.neurons};
            for (Statistic s : stats) {
                Path f = dir.resolve(s.fileName());
                try {
                    Npy.readDoubles(f, shape, st.values.get(s));
                } catch (IllegalArgumentException e) {
                    throw new FormatException(f + ": " + e.getMessage(), e);
                }
                checkFinite(f, s, st.values.get(s));
            }
            long[] t = Npy.readLongs(dir.resolve("tokens.npy"), new long[] {groups.size()});
            for (int g = 0; g < t.length; g++) {
                st.setTokens(g, t[g]);
            }
            meta.path("metadata").fields().forEachRemaining(e -> st.metadata.put(e.getKey(), e.getValue().asText()));
            return st;
        } catch (IOException | RuntimeException e) {
            st.close();
            throw e;
        }
    }

    /**
     * No NaN anywhere, and no infinity except the identities of an empty group's MAX (-inf) and MIN
     * (+inf): a statistic computed by the library is never anything else.
     */
    private static void checkFinite(Path file, Statistic s, MemorySegment values) {
        long n = values.byteSize() / Double.BYTES;
        for (long i = 0; i < n; i++) {
            double v = values.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            boolean ok = Double.isFinite(v)
                    || (s == Statistic.MAX && v == Double.NEGATIVE_INFINITY)
                    || (s == Statistic.MIN && v == Double.POSITIVE_INFINITY);
            if (!ok) {
                throw new FormatException(file + ": value " + i + " is " + v + " (a " + s + " statistic must be a finite number)");
            }
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
