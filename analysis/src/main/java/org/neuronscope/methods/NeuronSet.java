package org.neuronscope.methods;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.FormatException;
import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The result of a selection: per group (modality, domain, language, "forget", ...), the chosen
 * neurons of each layer with the score that chose them, plus the method and the parameters used.
 * A neuron may be in several groups, at most once per group.
 *
 * <p>JSON form ({@value #FORMAT}), written by {@link #save} and read by {@link #load}:
 * <pre>{
 *   "format": "neuronscope-neuron-set/1",
 *   "method": "lape", "hook_point": "ffn.act", "layers": 28, "neurons": 18944,
 *   "params": {"top_rate": "0.01", ...},            // strings, as the method recorded them
 *   "groups": {
 *     "image": {"3": {"neurons": [12, 40], "scores": [0.10, 0.21]}, ...},   // layer -> sorted neurons
 *     "text": {}                                                           // a group may be empty
 *   }
 * }</pre>
 * Layers with no neuron are left out; group order is kept. Not thread-safe while being built.
 */
public final class NeuronSet {
    public static final String FORMAT = "neuronscope-neuron-set/1";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One chosen neuron with its score. */
    public record Neuron(int layer, int neuron, double score) {
    }

    /** Overlap between two groups: neurons in both, the groups' sizes, and |A∩B| / |A∪B| (0 for two empty groups). */
    public record Overlap(int shared, int sizeA, int sizeB, double jaccard) {
    }

    private final String method;
    private final org.neuronscope.Module module;
    private final HookPoint hookPoint;
    private final int layers;
    private final int neurons;
    private final Map<String, String> params;
    private final Map<String, Group> groups = new LinkedHashMap<>();

    /** The neurons of one group: per layer, growable arrays sorted lazily. */
    private final class Group {
        final int[][] index = new int[layers][];
        final double[][] score = new double[layers][];
        final int[] count = new int[layers];
        final boolean[] unsorted = new boolean[layers];
        final BitSet members = new BitSet();
        int size;

        void add(int layer, int neuron, double s) {
            int flat = layer * neurons + neuron;
            if (members.get(flat)) {
                return;
            }
            members.set(flat);
            int c = count[layer];
            if (index[layer] == null) {
                index[layer] = new int[8];
                score[layer] = new double[8];
            } else if (c == index[layer].length) {
                index[layer] = Arrays.copyOf(index[layer], c * 2);
                score[layer] = Arrays.copyOf(score[layer], c * 2);
            }
            if (c > 0 && index[layer][c - 1] > neuron) {
                unsorted[layer] = true;
            }
            index[layer][c] = neuron;
            score[layer][c] = s;
            count[layer] = c + 1;
            size++;
        }

        void sort(int layer) {
            if (!unsorted[layer]) {
                return;
            }
            int c = count[layer];
            long[] keys = new long[c];
            for (int i = 0; i < c; i++) {
                keys[i] = ((long) index[layer][i] << 32) | i;
            }
            Arrays.sort(keys);
            int[] idx = new int[c];
            double[] sc = new double[c];
            for (int i = 0; i < c; i++) {
                idx[i] = (int) (keys[i] >>> 32);
                sc[i] = score[layer][(int) keys[i]];
            }
            index[layer] = idx;
            score[layer] = sc;
            unsorted[layer] = false;
        }
    }

    public NeuronSet(String method, HookPoint hookPoint, int layers, int neurons, Map<String, String> params) {
        this(method, org.neuronscope.Module.LANGUAGE, hookPoint, layers, neurons, params);
    }

    /** A set of neurons of {@code module} (an encoder's, the projector's, or the language model's) at {@code hookPoint}. */
    public NeuronSet(String method, org.neuronscope.Module module, HookPoint hookPoint, int layers, int neurons, Map<String, String> params) {
        if (module == null) {
            throw new IllegalArgumentException("module must not be null");
        }
        this.module = module;
        if (layers <= 0 || neurons <= 0) {
            throw new IllegalArgumentException("a neuron set needs layers and neurons > 0, got " + layers + " x " + neurons);
        }
        if ((long) layers * neurons > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many neurons: " + layers + " x " + neurons);
        }
        this.method = method;
        this.hookPoint = hookPoint;
        this.layers = layers;
        this.neurons = neurons;
        this.params = Map.copyOf(params);
    }

    /** Adds a neuron to a group (creating the group); adding a neuron the group already holds throws. */
    public NeuronSet add(String group, int layer, int neuron, double score) {
        if (layer < 0 || layer >= layers || neuron < 0 || neuron >= neurons) {
            throw new IndexOutOfBoundsException("(layer " + layer + ", neuron " + neuron + ") out of range (" + layers + " x " + neurons + ")");
        }
        Group g = groups.computeIfAbsent(group, x -> new Group());
        if (g.members.get(layer * neurons + neuron)) {
            throw new IllegalArgumentException("neuron (" + layer + ", " + neuron + ") is already in group " + group);
        }
        g.add(layer, neuron, score);
        return this;
    }

    /**
     * Adds neurons given by flat index ({@code layer · neurons() + neuron}) with their scores, as
     * {@link #add} for each but all or nothing; cheapest when the indices ascend (no sorting later).
     */
    public NeuronSet addAll(String group, int[] flatIndices, double[] scores) {
        if (flatIndices.length != scores.length) {
            throw new IllegalArgumentException(flatIndices.length + " indices but " + scores.length + " scores");
        }
        Group existing = groups.get(group);
        long total = (long) layers * neurons;
        boolean ascending = true;
        for (int j = 0; j < flatIndices.length; j++) {
            int flat = flatIndices[j];
            if (flat < 0 || flat >= total) {
                throw new IndexOutOfBoundsException("flat index " + flat + " out of range (" + layers + " x " + neurons + ")");
            }
            if (existing != null && existing.members.get(flat)) {
                throw new IllegalArgumentException("neuron (" + flat / neurons + ", " + flat % neurons + ") is already in group " + group);
            }
            ascending &= j == 0 || flatIndices[j - 1] < flat;
        }
        if (!ascending) { // duplicates within the call are only possible out of order
            BitSet seen = new BitSet();
            for (int flat : flatIndices) {
                if (seen.get(flat)) {
                    throw new IllegalArgumentException("neuron (" + flat / neurons + ", " + flat % neurons + ") is given twice for group " + group);
                }
                seen.set(flat);
            }
        }
        Group g = existing != null ? existing : groups.computeIfAbsent(group, x -> new Group());
        for (int j = 0; j < flatIndices.length; j++) {
            g.add(flatIndices[j] / neurons, flatIndices[j] % neurons, scores[j]);
        }
        return this;
    }

    /** Declares a group even if it ends up empty. */
    public NeuronSet ensureGroup(String group) {
        groups.computeIfAbsent(group, x -> new Group());
        return this;
    }

    public String method() {
        return method;
    }

    /** The module whose neurons these are (LANGUAGE for sets of the language model). */
    public org.neuronscope.Module module() {
        return module;
    }

    /** The hook point with its module: {@code vision.ffn.act}, or {@code ffn.act} for the language model. */
    public String qualifiedPoint() {
        return module.pointName(hookPoint);
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

    public Map<String, String> params() {
        return params;
    }

    public List<String> groupNames() {
        return List.copyOf(groups.keySet());
    }

    public boolean hasGroup(String group) {
        return groups.containsKey(group);
    }

    private Group group(String name) {
        Group g = groups.get(name);
        if (g == null) {
            throw new IllegalArgumentException("no group '" + name + "' in this neuron set (groups: " + groups.keySet() + ")");
        }
        return g;
    }

    /** The chosen neurons of a group, by layer then neuron. */
    public List<Neuron> neurons(String group) {
        Group g = group(group);
        List<Neuron> out = new ArrayList<>(g.size);
        for (int l = 0; l < layers; l++) {
            g.sort(l);
            for (int i = 0; i < g.count[l]; i++) {
                out.add(new Neuron(l, g.index[l][i], g.score[l][i]));
            }
        }
        return out;
    }

    /** Sorted neuron indices of a group in one layer (a copy). */
    public int[] neurons(String group, int layer) {
        Group g = group(group);
        checkLayer(layer);
        g.sort(layer);
        return g.index[layer] == null ? new int[0] : Arrays.copyOf(g.index[layer], g.count[layer]);
    }

    /** The scores of {@link #neurons(String, int)}, in the same order (a copy). */
    public double[] scores(String group, int layer) {
        Group g = group(group);
        checkLayer(layer);
        g.sort(layer);
        return g.score[layer] == null ? new double[0] : Arrays.copyOf(g.score[layer], g.count[layer]);
    }

    public boolean contains(String group, int layer, int neuron) {
        checkLayer(layer);
        return neuron >= 0 && neuron < neurons && group(group).members.get(layer * neurons + neuron);
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= layers) {
            throw new IndexOutOfBoundsException("layer " + layer + " out of range [0, " + layers + ")");
        }
    }

    /** The neurons in a group. */
    public int size(String group) {
        return group(group).size;
    }

    /** Distinct (layer, neuron) pairs over all groups. */
    public int size() {
        return union(groups.keySet()).cardinality();
    }

    /** Neurons per layer of a group. */
    public int[] perLayerCounts(String group) {
        return group(group).count.clone();
    }

    /** Distinct neurons per layer over all groups. */
    public int[] perLayerCounts() {
        BitSet u = union(groups.keySet());
        int[] c = new int[layers];
        for (int i = u.nextSetBit(0); i >= 0; i = u.nextSetBit(i + 1)) {
            c[i / neurons]++;
        }
        return c;
    }

    /** The neurons of the given groups as a bit set over flat indices layer·N + neuron. */
    public BitSet union(Collection<String> names) {
        BitSet u = new BitSet();
        for (String name : names) {
            u.or(group(name).members);
        }
        return u;
    }

    public Overlap overlap(String a, String b) {
        BitSet sa = group(a).members;
        BitSet sb = group(b).members;
        BitSet both = (BitSet) sa.clone();
        both.and(sb);
        int shared = both.cardinality();
        int union = sa.cardinality() + sb.cardinality() - shared;
        return new Overlap(shared, sa.cardinality(), sb.cardinality(), union == 0 ? 0 : (double) shared / union);
    }

    /** Every pairwise overlap of the groups, keyed "a|b" in group order. */
    public Map<String, Overlap> overlaps() {
        Map<String, Overlap> m = new LinkedHashMap<>();
        List<String> names = groupNames();
        for (int i = 0; i < names.size(); i++) {
            for (int j = i + 1; j < names.size(); j++) {
                m.put(names.get(i) + "|" + names.get(j), overlap(names.get(i), names.get(j)));
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ JSON

    /** Writes the JSON form (to a temporary file renamed into place). */
    public void save(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("method", method);
        root.put("hook_point", hookPoint.id());
        if (module != org.neuronscope.Module.LANGUAGE) {
            root.put("module", module.id()); // absent: the language model (files before encoder sets)
        }
        root.put("layers", layers);
        root.put("neurons", neurons);
        ObjectNode p = root.putObject("params");
        params.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> p.put(e.getKey(), e.getValue()));
        ObjectNode gs = root.putObject("groups");
        for (String name : groups.keySet()) {
            Group g = groups.get(name);
            ObjectNode go = gs.putObject(name);
            for (int l = 0; l < layers; l++) {
                if (g.count[l] == 0) {
                    continue;
                }
                g.sort(l);
                ObjectNode lo = go.putObject(Integer.toString(l));
                ArrayNode ns = lo.putArray("neurons");
                ArrayNode sc = lo.putArray("scores");
                for (int i = 0; i < g.count[l]; i++) {
                    ns.add(g.index[l][i]);
                    sc.add(g.score[l][i]);
                }
            }
        }
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp");
        if (Files.isDirectory(abs)) {
            throw new IOException("cannot save a neuron set to " + file + ": it is a directory");
        }
        try {
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp); // no half-written file left behind
            throw e;
        }
    }

    /** Reads the JSON form, checking the format, ranges, and that every neuron has a score. */
    public static NeuronSet load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException("no neuron set at " + file);
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new FormatException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !FORMAT.equals(root.path("format").asText())) {
            throw new FormatException(file + " is not a neuron set (format " + (root == null ? "none" : root.path("format")) + ", expected " + FORMAT + ")");
        }
        if (!root.path("groups").isObject()) {
            throw new FormatException(file + " lacks groups (an object of group name to layers)");
        }
        int layers = org.neuronscope.JsonFields.integer(root, "layers", 1, 1 << 16, file);
        int neurons = org.neuronscope.JsonFields.integer(root, "neurons", 1, 1 << 24, file);
        Map<String, String> params = new LinkedHashMap<>();
        root.path("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
        org.neuronscope.Module module;
        try {
            module = root.has("module") ? org.neuronscope.Module.parse(root.path("module").asText()) : org.neuronscope.Module.LANGUAGE;
        } catch (IllegalArgumentException e) {
            throw new FormatException(file + ": " + e.getMessage());
        }
        NeuronSet set = new NeuronSet(root.path("method").asText(), module, hookPointOf(root.path("hook_point").asText()), layers, neurons, params);
        root.path("groups").fields().forEachRemaining(g -> {
            set.ensureGroup(g.getKey());
            g.getValue().fields().forEachRemaining(l -> {
                int layer;
                try {
                    layer = Integer.parseInt(l.getKey());
                } catch (NumberFormatException e) {
                    throw new FormatException(file + ": group " + g.getKey() + " has a layer key '" + l.getKey() + "' that is not a number");
                }
                JsonNode ns = l.getValue().path("neurons");
                JsonNode sc = l.getValue().path("scores");
                if (!ns.isArray() || !sc.isArray() || ns.size() != sc.size()) {
                    throw new FormatException(file + ": group " + g.getKey() + " layer " + layer + " has " + ns.size()
                            + " neurons but " + sc.size() + " scores");
                }
                for (int i = 0; i < ns.size(); i++) {
                    if (!ns.get(i).isIntegralNumber() || !ns.get(i).canConvertToInt()) {
                        throw new FormatException(file + ": group " + g.getKey() + " layer " + layer + ": neuron " + ns.get(i) + " is not an index");
                    }
                    double score = org.neuronscope.JsonFields.numberValue(sc.get(i), "group " + g.getKey() + " layer " + layer + " score " + i, file);
                    try {
                        set.add(g.getKey(), layer, ns.get(i).asInt(), score);
                    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                        throw new FormatException(file + ": group " + g.getKey() + ": " + e.getMessage(), e);
                    }
                }
            });
        });
        return set;
    }

    /** Files written before the hook point was recorded hold none: they were all taken at ffn.act. */
    private static HookPoint hookPointOf(String name) {
        if (name.isEmpty()) {
            return HookPoint.FFN_ACT;
        }
        try {
            return HookPoint.parse(name);
        } catch (IllegalArgumentException e) {
            throw new FormatException("neuron set: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("NeuronSet[" + method + ", " + qualifiedPoint() + ", " + layers + " x " + neurons);
        groups.forEach((name, g) -> b.append(", ").append(name).append('=').append(g.size));
        return b.append(']').toString();
    }

    /** All (layer, neuron) of a group as "l:n", for tests and debugging. */
    public String describe(String group) {
        return Arrays.toString(neurons(group).stream().map(n -> n.layer() + ":" + n.neuron()).toArray());
    }
}
