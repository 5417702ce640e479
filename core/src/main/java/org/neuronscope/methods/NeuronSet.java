package org.neuronscope.methods;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.NeuronScopeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The result of a selection: per group (modality, domain, language, "forget"...), the chosen neurons
 * of each layer with the score that chose them, plus the method and parameters used.
 *
 * <p>JSON form ({@code neuronscope-neuron-set/1}):
 * <pre>{"format": "neuronscope-neuron-set/1", "method": "lape", "hook_point": "ffn.act",
 *  "layers": 24, "neurons": 4864, "params": {"top_rate": "0.01", ...},
 *  "groups": {"image": {"3": {"neurons": [12, 40], "scores": [0.1, 0.2]}, ...}, ...}}</pre>
 */
public final class NeuronSet {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One chosen neuron with its score. */
    public record Neuron(int layer, int neuron, double score) {
    }

    private final String method;
    private final String hookPoint;
    private final int layers;
    private final int neurons;
    private final Map<String, String> params;
    /** group -> layer -> sorted neurons (with scores). */
    private final Map<String, TreeMap<Integer, List<Neuron>>> groups = new LinkedHashMap<>();

    public NeuronSet(String method, String hookPoint, int layers, int neurons, Map<String, String> params) {
        this.method = method;
        this.hookPoint = hookPoint;
        this.layers = layers;
        this.neurons = neurons;
        this.params = Map.copyOf(params);
    }

    /** Adds a neuron to a group (a neuron may be in several groups). */
    public NeuronSet add(String group, int layer, int neuron, double score) {
        if (layer < 0 || layer >= layers || neuron < 0 || neuron >= neurons) {
            throw new NeuronScopeException("(" + layer + ", " + neuron + ") out of range (" + layers + ", " + neurons + ")");
        }
        List<Neuron> list = groups.computeIfAbsent(group, g -> new TreeMap<>()).computeIfAbsent(layer, l -> new ArrayList<>());
        for (Neuron n : list) {
            if (n.neuron() == neuron) {
                throw new NeuronScopeException("neuron (" + layer + ", " + neuron + ") is already in group " + group);
            }
        }
        list.add(new Neuron(layer, neuron, score));
        list.sort((a, b) -> Integer.compare(a.neuron(), b.neuron()));
        return this;
    }

    /** Declares a group even if it ends up empty. */
    public NeuronSet ensureGroup(String group) {
        groups.computeIfAbsent(group, g -> new TreeMap<>());
        return this;
    }

    public String method() {
        return method;
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

    public Map<String, String> params() {
        return params;
    }

    public List<String> groupNames() {
        return List.copyOf(groups.keySet());
    }

    /** The chosen neurons of a group, by layer then neuron. */
    public List<Neuron> neurons(String group) {
        TreeMap<Integer, List<Neuron>> g = groups.get(group);
        if (g == null) {
            throw new NeuronScopeException("no group '" + group + "' in this neuron set (groups: " + groups.keySet() + ")");
        }
        return g.values().stream().flatMap(List::stream).toList();
    }

    /** Sorted neuron indices of a group in one layer. */
    public int[] neurons(String group, int layer) {
        TreeMap<Integer, List<Neuron>> g = groups.get(group);
        if (g == null || !g.containsKey(layer)) {
            return new int[0];
        }
        return g.get(layer).stream().mapToInt(Neuron::neuron).toArray();
    }

    public int size(String group) {
        return neurons(group).size();
    }

    /** Distinct (layer, neuron) pairs over all groups. */
    public int distinctSize() {
        return (int) groups.values().stream().flatMap(m -> m.values().stream()).flatMap(List::stream)
                .map(n -> (long) n.layer() * neurons + n.neuron()).distinct().count();
    }

    /** Neurons per layer of a group. */
    public int[] perLayerCounts(String group) {
        int[] c = new int[layers];
        for (Neuron n : neurons(group)) {
            c[n.layer()]++;
        }
        return c;
    }

    /** Overlap between two groups: shared neurons and Jaccard index. */
    public record Overlap(int shared, int sizeA, int sizeB, double jaccard) {
    }

    public Overlap overlap(String a, String b) {
        var sa = neurons(a).stream().map(n -> (long) n.layer() * neurons + n.neuron()).collect(java.util.stream.Collectors.toSet());
        var sb = neurons(b).stream().map(n -> (long) n.layer() * neurons + n.neuron()).collect(java.util.stream.Collectors.toSet());
        long shared = sa.stream().filter(sb::contains).count();
        long union = sa.size() + sb.size() - shared;
        return new Overlap((int) shared, sa.size(), sb.size(), union == 0 ? 0 : (double) shared / union);
    }

    /** Every pairwise overlap, as "a|b" -> overlap. */
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

    public void save(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", "neuronscope-neuron-set/1");
        root.put("method", method);
        root.put("hook_point", hookPoint);
        root.put("layers", layers);
        root.put("neurons", neurons);
        ObjectNode p = root.putObject("params");
        params.forEach(p::put);
        ObjectNode gs = root.putObject("groups");
        groups.forEach((g, byLayer) -> {
            ObjectNode go = gs.putObject(g);
            byLayer.forEach((l, list) -> {
                ObjectNode lo = go.putObject(Integer.toString(l));
                ArrayNode ns = lo.putArray("neurons");
                ArrayNode sc = lo.putArray("scores");
                list.forEach(n -> {
                    ns.add(n.neuron());
                    sc.add(n.score());
                });
            });
        });
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    public static NeuronSet load(Path file) throws IOException {
        JsonNode root = JSON.readTree(file.toFile());
        if (!"neuronscope-neuron-set/1".equals(root.path("format").asText())) {
            throw new NeuronScopeException(file + " is not a neuron set (format " + root.path("format") + ")");
        }
        Map<String, String> params = new LinkedHashMap<>();
        root.path("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
        NeuronSet set = new NeuronSet(root.path("method").asText(), root.path("hook_point").asText(), root.path("layers").asInt(),
                root.path("neurons").asInt(), params);
        root.path("groups").fields().forEachRemaining(g -> {
            set.ensureGroup(g.getKey());
            g.getValue().fields().forEachRemaining(l -> {
                JsonNode ns = l.getValue().path("neurons");
                JsonNode sc = l.getValue().path("scores");
                if (ns.size() != sc.size()) {
                    throw new NeuronScopeException(file + ": group " + g.getKey() + " layer " + l.getKey() + " has " + ns.size()
                            + " neurons but " + sc.size() + " scores");
                }
                for (int i = 0; i < ns.size(); i++) {
                    set.add(g.getKey(), Integer.parseInt(l.getKey()), ns.get(i).asInt(), sc.get(i).asDouble());
                }
            });
        });
        return set;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("NeuronSet[" + method + ", " + hookPoint);
        groups.keySet().forEach(g -> b.append(", ").append(g).append('=').append(size(g)));
        return b.append(']').toString();
    }

    /** For tests and debugging: all (layer, neuron) of a group as "l:n". */
    public String describe(String group) {
        return Arrays.toString(neurons(group).stream().map(n -> n.layer() + ":" + n.neuron()).toArray());
    }
}
