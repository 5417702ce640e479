package org.neuronscope.experiments;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.collect.LensCollector;
import org.neuronscope.collect.LensCollector.Positions;
import org.neuronscope.collect.LensCollector.PromptLens;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.hooks.LensRow;
import org.neuronscope.hooks.LensSpec;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.TokenGrouping;
import org.neuronscope.stats.Npy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The {@code lens} experiment: the logit lens (MMNeuron's analysis) over a dataset, saved under
 * {@code <out>/lens}: per lensed (sample, layer, entry) the top-k ids and probabilities, the entropy
 * (nats) and the target's probability, as flat {@code .npy} tables ({@code rows_*.npy}, one row per
 * (sample, layer, entry)); per (layer, group) the weighted sums over the whole dataset and their means
 * ({@code group_*.npy}, [layers, groups]); {@code lens.json} with the parameters, the group names, the
 * mean entropy per layer and group, and {@code samples_done}. The directory is rewritten every few
 * samples; a run that finds an unfinished one with the same parameters resumes after its last sample.
 */
public final class LensExperiment {
    private static final Logger LOG = LoggerFactory.getLogger(LensExperiment.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param spec            layers (empty: all), top-k, target token (-1: none)
     * @param positions       all entries, the last, or one group's
     * @param group           the group's name when positions is GROUP (else null)
     * @param checkpointEvery samples between rewrites of the output
     */
    public record Params(LensSpec spec, Positions positions, String group, int checkpointEvery) {
        public Params {
            if (checkpointEvery <= 0) {
                throw new IllegalArgumentException("checkpointEvery must be positive, got " + checkpointEvery);
            }
            if ((positions == Positions.GROUP) != (group != null)) {
                throw new IllegalArgumentException("a group name goes with positions GROUP, and only with it");
            }
        }
    }

    /** What {@link #run} leaves in {@code <out>/lens}, read back. */
    public record Result(List<String> groups, int[] layers, int topK, int target, int samples, long[] rowSample, long[] rowLayer,
                         long[] rowEntry, double[] rowEntropy, double[] rowTarget, long[] rowIds, double[] rowProbs,
                         double[][] groupEntropySum, double[][] groupTargetSum, double[][] groupWeight) {
        public int rows() {
            return rowSample.length;
        }

        public double groupMeanEntropy(int layer, int group) {
            return groupWeight[layer][group] == 0 ? Double.NaN : groupEntropySum[layer][group] / groupWeight[layer][group];
        }

        public double groupMeanTarget(int layer, int group) {
            return groupWeight[layer][group] == 0 ? Double.NaN : groupTargetSum[layer][group] / groupWeight[layer][group];
        }

        /** Mean entropy by [layer][entry] over the samples that have that entry (NaN where none). */
        public double[][] entropyByLayerAndEntry(int modelLayers) {
            int maxEntry = 0;
            for (long e : rowEntry) {
                maxEntry = Math.max(maxEntry, (int) e + 1);
            }
            double[][] sum = new double[modelLayers][maxEntry];
            int[][] n = new int[modelLayers][maxEntry];
            for (int r = 0; r < rows(); r++) {
                sum[(int) rowLayer[r]][(int) rowEntry[r]] += rowEntropy[r];
                n[(int) rowLayer[r]][(int) rowEntry[r]]++;
            }
            for (int l = 0; l < modelLayers; l++) {
                for (int e = 0; e < maxEntry; e++) {
                    sum[l][e] = n[l][e] == 0 ? Double.NaN : sum[l][e] / n[l][e];
                }
            }
            return sum;
        }
    }

    private LensExperiment() {
    }

    public static Path lensDir(Path out) {
        return out.resolve("lens");
    }

    /** Runs (or resumes) the lens over {@code data} and writes it under {@code <out>/lens}. */
    public static Result run(Workbench wb, Dataset data, TokenGrouping grouping, Params params, Path out, Progress.Listener listener) {
        List<String> groups = grouping.groupNames();
        int group = -1;
        if (params.positions() == Positions.GROUP) {
            group = groups.indexOf(params.group());
            if (group < 0) {
                throw new IllegalArgumentException("no token group '" + params.group() + "'; the groups are " + groups);
            }
        }
        int layers = wb.model().layerCount();
        for (int l : params.spec().layers()) {
            if (l >= layers) {
                throw new IndexOutOfBoundsException("layer " + l + " is out of range [0, " + layers + ") of " + wb.model().path().getFileName());
            }
        }
        if (params.spec().target() >= wb.model().vocabularySize()) {
            throw new IllegalArgumentException("target token " + params.spec().target() + " is outside the vocabulary of "
                    + wb.model().vocabularySize() + " tokens");
        }
        Path dir = lensDir(out);
        State st = State.resume(dir, params, groups, datasetId(data), layers);
        try (LensCollector c = LensCollector.start(wb.session(), params.spec(), groups.size(), params.positions(), group)) {
            int[] lensed = c.lens().lensedLayers();
            Progress progress = new Progress("lens", data.size(), st.samples, listener);
            for (int i = st.samples; i < data.size(); i++) {
                Sample s = data.samples().get(i);
                try (Prompt p = wb.prompts().prepare(s)) {
                    int[] g = grouping.groups(s, p);
                    PromptLens pl;
                    try {
                        pl = c.add(p, g);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("sample " + s.id() + ": " + e.getMessage(), e);
                    }
                    st.add(i, pl, lensed);
                }
                progress.step();
                if ((i + 1) % params.checkpointEvery() == 0 && i + 1 < data.size()) {
                    st.write(dir, params, groups, datasetId(data), wb.model().path().getFileName().toString(), lensed);
                }
            }
            st.write(dir, params, groups, datasetId(data), wb.model().path().getFileName().toString(), lensed);
            return st.result(groups, lensed, params);
        } catch (IOException e) {
            throw new UncheckedIOException("lens under " + out + ": " + e.getMessage(), e);
        }
    }

    /** Reads a finished (or unfinished) lens directory. */
    public static Result read(Path dir) {
        try {
            JsonNode meta = JSON.readTree(dir.resolve("lens.json").toFile());
            State st = State.read(dir, meta);
            List<String> groups = new ArrayList<>();
            meta.path("groups").forEach(n -> groups.add(n.asText()));
            int[] layers = new int[meta.path("layers").size()];
            for (int i = 0; i < layers.length; i++) {
                layers[i] = meta.path("layers").get(i).asInt();
            }
            LensSpec spec = new LensSpec(layers, meta.path("top_k").asInt(), meta.path("target").asInt(), true, true);
            Params p = new Params(spec, Positions.ALL, null, 1);
            return st.result(groups, layers, p);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the lens in " + dir + ": " + e.getMessage(), e);
        }
    }

    static String datasetId(Dataset data) {
        return StatsExperiment.datasetId(data);
    }

    /** The rows and sums gathered so far. */
    private static final class State {
        int samples;
        final int topK;
        final List<long[]> meta = new ArrayList<>();   // sample, layer, entry
        final List<double[]> values = new ArrayList<>(); // entropy, target
        final List<long[]> ids = new ArrayList<>();
        final List<double[]> probs = new ArrayList<>();
        final double[][] h, t, w;

        State(int layers, int groups, int topK) {
            this.topK = topK;
            h = new double[layers][groups];
            t = new double[layers][groups];
            w = new double[layers][groups];
        }

        void add(int sample, PromptLens pl, int[] lensed) {
            for (LensRow r : pl.rows()) {
                meta.add(new long[] {sample, r.layer(), r.batchEntry()});
                values.add(new double[] {r.entropy(), r.targetProb()});
                ids.add(Arrays.stream(r.ids()).asLongStream().toArray());
                double[] p = new double[r.topK()];
                for (int j = 0; j < p.length; j++) {
                    p[j] = r.probs()[j];
                }
                probs.add(p);
            }
            for (int l : lensed) {
                for (int g = 0; g < h[l].length; g++) {
                    h[l][g] += pl.entropySum()[l][g];
                    t[l][g] += pl.targetSum()[l][g];
                    w[l][g] += pl.weight()[l][g];
                }
            }
            samples = sample + 1;
        }

        static State resume(Path dir, Params params, List<String> groups, String dataset, int layers) {
            Path use = Files.isRegularFile(dir.resolve("lens.json")) ? dir
                    : Files.isRegularFile(sibling(dir, ".old").resolve("lens.json")) ? sibling(dir, ".old") : null;
            if (use == null) {
                return new State(layers, groups.size(), params.spec().topK());
            }
            try {
                JsonNode meta = JSON.readTree(use.resolve("lens.json").toFile());
                String was = meta.path("params").asText();
                if (!was.equals(paramsId(params, groups)) || !meta.path("dataset").asText().equals(dataset)) {
                    throw new IllegalArgumentException(use + " holds a lens of " + meta.path("dataset").asText() + " with " + was
                            + "; this run asks for " + dataset + " with " + paramsId(params, groups)
                            + ": remove it or use another output directory");
                }
                State st = read(use, meta);
                LOG.info("resuming {} after {} samples", use, st.samples);
                return st;
            } catch (IOException e) {
                throw new UncheckedIOException("resuming the lens in " + use + ": " + e.getMessage(), e);
            }
        }

        static State read(Path dir, JsonNode meta) throws IOException {
            int layers = meta.path("model_layers").asInt();
            int groups = meta.path("groups").size();
            int k = meta.path("top_k").asInt();
            State st = new State(layers, groups, k);
            st.samples = meta.path("samples_done").asInt();
            long rows = meta.path("rows").asLong();
            long[] sample = Npy.readLongs(dir.resolve("rows_sample.npy"), new long[] {rows});
            long[] layer = Npy.readLongs(dir.resolve("rows_layer.npy"), new long[] {rows});
            long[] entry = Npy.readLongs(dir.resolve("rows_entry.npy"), new long[] {rows});
            double[] ent = Npy.readDoubles(dir.resolve("rows_entropy.npy"), new long[] {rows});
            double[] tgt = Npy.readDoubles(dir.resolve("rows_target_prob.npy"), new long[] {rows});
            long[] id = Npy.readLongs(dir.resolve("rows_top_ids.npy"), new long[] {rows, k});
            double[] pr = Npy.readDoubles(dir.resolve("rows_top_probs.npy"), new long[] {rows, k});
            for (int r = 0; r < rows; r++) {
                st.meta.add(new long[] {sample[r], layer[r], entry[r]});
                st.values.add(new double[] {ent[r], tgt[r]});
                st.ids.add(Arrays.copyOfRange(id, r * k, (r + 1) * k));
                st.probs.add(Arrays.copyOfRange(pr, r * k, (r + 1) * k));
            }
            long[] shape = {layers, groups};
            unflatten(Npy.readDoubles(dir.resolve("group_entropy_sum.npy"), shape), st.h);
            unflatten(Npy.readDoubles(dir.resolve("group_target_sum.npy"), shape), st.t);
            unflatten(Npy.readDoubles(dir.resolve("group_weight.npy"), shape), st.w);
            return st;
        }

        /** Writes everything into a fresh directory, then swaps it in (an interruption leaves the old one or the new one). */
        void write(Path dir, Params params, List<String> groups, String dataset, String model, int[] lensed) throws IOException {
            Path tmp = sibling(dir, ".tmp");
            Path old = sibling(dir, ".old");
            deleteTree(tmp);
            Files.createDirectories(tmp);
            int rows = meta.size();
            long[] sample = new long[rows], layer = new long[rows], entry = new long[rows];
            double[] ent = new double[rows], tgt = new double[rows];
            long[] id = new long[(long) rows * topK > Integer.MAX_VALUE ? 0 : rows * topK];
            double[] pr = new double[id.length];
            for (int r = 0; r < rows; r++) {
                sample[r] = meta.get(r)[0];
                layer[r] = meta.get(r)[1];
                entry[r] = meta.get(r)[2];
                ent[r] = values.get(r)[0];
                tgt[r] = values.get(r)[1];
                System.arraycopy(ids.get(r), 0, id, r * topK, topK);
                System.arraycopy(probs.get(r), 0, pr, r * topK, topK);
            }
            Npy.writeLongs(tmp.resolve("rows_sample.npy"), new long[] {rows}, sample);
            Npy.writeLongs(tmp.resolve("rows_layer.npy"), new long[] {rows}, layer);
            Npy.writeLongs(tmp.resolve("rows_entry.npy"), new long[] {rows}, entry);
            Npy.writeDoubles(tmp.resolve("rows_entropy.npy"), new long[] {rows}, ent);
            Npy.writeDoubles(tmp.resolve("rows_target_prob.npy"), new long[] {rows}, tgt);
            Npy.writeLongs(tmp.resolve("rows_top_ids.npy"), new long[] {rows, topK}, id);
            Npy.writeDoubles(tmp.resolve("rows_top_probs.npy"), new long[] {rows, topK}, pr);
            long[] shape = {h.length, groups.size()};
            Npy.writeDoubles(tmp.resolve("group_entropy_sum.npy"), shape, flatten(h));
            Npy.writeDoubles(tmp.resolve("group_target_sum.npy"), shape, flatten(t));
            Npy.writeDoubles(tmp.resolve("group_weight.npy"), shape, flatten(w));
            double[][] mean = new double[h.length][groups.size()];
            for (int l = 0; l < h.length; l++) {
                for (int g = 0; g < groups.size(); g++) {
                    mean[l][g] = w[l][g] == 0 ? Double.NaN : h[l][g] / w[l][g];
                }
            }
            Npy.writeDoubles(tmp.resolve("group_mean_entropy.npy"), shape, flatten(mean));
            ObjectNode j = JSON.createObjectNode();
            j.put("model", model);
            j.put("dataset", dataset);
            j.put("params", paramsId(params, groups));
            j.put("positions", params.positions().name().toLowerCase(java.util.Locale.ROOT) + (params.group() == null ? "" : ":" + params.group()));
            j.put("top_k", topK);
            j.put("target", params.spec().target());
            j.put("model_layers", h.length);
            ArrayNode ls = j.putArray("layers");
            Arrays.stream(lensed).forEach(ls::add);
            ArrayNode gs = j.putArray("groups");
            groups.forEach(gs::add);
            j.put("rows", rows);
            j.put("samples_done", samples);
            ObjectNode means = j.putObject("group_mean_entropy");
            for (int g = 0; g < groups.size(); g++) {
                ArrayNode a = means.putArray(groups.get(g));
                for (int l : lensed) {
                    if (Double.isNaN(mean[l][g])) {
                        a.addNull();
                    } else {
                        a.add(mean[l][g]);
                    }
                }
            }
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve("lens.json").toFile(), j);
            deleteTree(old);
            if (Files.exists(dir)) {
                Files.move(dir, old);
            }
            Files.move(tmp, dir);
            deleteTree(old);
        }

        Result result(List<String> groups, int[] lensed, Params params) {
            int rows = meta.size();
            long[] sample = new long[rows], layer = new long[rows], entry = new long[rows], id = new long[rows * topK];
            double[] ent = new double[rows], tgt = new double[rows], pr = new double[rows * topK];
            for (int r = 0; r < rows; r++) {
                sample[r] = meta.get(r)[0];
                layer[r] = meta.get(r)[1];
                entry[r] = meta.get(r)[2];
                ent[r] = values.get(r)[0];
                tgt[r] = values.get(r)[1];
                System.arraycopy(ids.get(r), 0, id, r * topK, topK);
                System.arraycopy(probs.get(r), 0, pr, r * topK, topK);
            }
            return new Result(List.copyOf(groups), lensed.clone(), topK, params.spec().target(), samples, sample, layer, entry, ent, tgt, id, pr,
                    h, t, w);
        }
    }

    /** What must match for a resume: layers, top-k, target, positions, groups. */
    static String paramsId(Params p, List<String> groups) {
        return "layers=" + (p.spec().allLayers() ? "all" : Arrays.toString(p.spec().layers())) + " top_k=" + p.spec().topK() + " target="
                + p.spec().target() + " positions=" + p.positions() + (p.group() == null ? "" : ":" + p.group()) + " groups=" + groups;
    }

    private static Path sibling(Path dir, String suffix) {
        return dir.resolveSibling(dir.getFileName() + suffix);
    }

    private static double[] flatten(double[][] a) {
        return Arrays.stream(a).flatMapToDouble(Arrays::stream).toArray();
    }

    private static void unflatten(double[] flat, double[][] into) {
        int cols = into.length == 0 ? 0 : into[0].length;
        for (int l = 0; l < into.length; l++) {
            System.arraycopy(flat, l * cols, into[l], 0, cols);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
