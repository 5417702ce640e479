package org.neuronscope.collect;

import org.neuronscope.HookPoint;
import org.neuronscope.eval.Sample;
import org.neuronscope.hooks.Accumulator;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.Hooks;
import org.neuronscope.hooks.TokenWeights;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptBatcher;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Pooled representations per sample and layer, computed in the graph: every (sample, pooling) pair
 * is one weight column of the session's token weights, holding the pooling's weight for each of the
 * sample's entries, and the weighted-sum reduction at {@code resid.post} adds {@code Σ w[t] x[t]}
 * per layer on the backend that runs the layer. Only those sums (columns x n_embd per layer) leave
 * it; the collector divides by {@code Σ w[t]} in double precision. Nothing per token is copied.
 *
 * <pre>{@code
 * try (RepresentationCollector c = RepresentationCollector.open(session, List.of(Pooling.last(), Pooling.mean(Modality.TEXT)), 1)) {
 *     double[][] pooled = c.pool(sample, prompt);   // [pooling][layer * n_embd + j]
 * }
 * }</pre>
 *
 * <p>Each call decodes its prompts with an empty KV cache (the session's memory is cleared first).
 */
public final class RepresentationCollector implements AutoCloseable {
    private final Session session;
    private final HookScope scope;
    private final TokenWeights weights;
    private final Accumulator sums;
    private final List<Pooling> poolings;
    private final int samplesPerDecode;
    private final int layers;
    private final int width;
    // the prompts of the decode in progress: entry codes are offset[p] + entry
    private int[] offsets = new int[0];
    private float[][][] entryWeights = new float[0][][];

    private RepresentationCollector(Session session, List<Pooling> poolings, int samplesPerDecode) {
        this.session = session;
        this.poolings = List.copyOf(poolings);
        this.samplesPerDecode = samplesPerDecode;
        Hooks hooks = session.hooks();
        this.layers = hooks.layers();
        this.width = hooks.uniformWidth(HookPoint.RESID_POST);
        this.scope = hooks.openScope();
        try {
            this.weights = scope.tokenWeights(samplesPerDecode * poolings.size());
            this.sums = scope.reduce(HookPoint.RESID_POST, Statistic.WEIGHTED_SUM, 0f);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    /**
     * Opens a collector on {@code session}; it holds the session's token weights until closed.
     *
     * @param samplesPerDecode prompts decoded together, one sequence each (the session needs that many)
     */
    public static RepresentationCollector open(Session session, List<Pooling> poolings, int samplesPerDecode) {
        if (poolings.isEmpty()) {
            throw new IllegalArgumentException("at least one pooling is required");
        }
        if (poolings.stream().map(Pooling::name).distinct().count() != poolings.size()) {
            throw new IllegalArgumentException("poolings must have distinct names, got " + poolings.stream().map(Pooling::name).toList());
        }
        if (samplesPerDecode <= 0 || samplesPerDecode > session.maxSequences()) {
            throw new IllegalArgumentException(samplesPerDecode + " samples per decode: need 1 to the session's " + session.maxSequences()
                    + " sequences");
        }
        if ((long) samplesPerDecode * poolings.size() > 4096) {
            throw new IllegalArgumentException(samplesPerDecode + " samples x " + poolings.size() + " poolings exceed the 4096 weight columns");
        }
        return new RepresentationCollector(session, poolings, samplesPerDecode);
    }

    public List<Pooling> poolings() {
        return poolings;
    }

    public int layers() {
        return layers;
    }

    /** n_embd: the width of every pooled vector. */
    public int width() {
        return width;
    }

    /** One sample: {@code [pooling][layer * width + j]}. */
    public double[][] pool(Sample sample, Prompt prompt) {
        return poolAll(Arrays.asList(sample), List.of(prompt)).getFirst();
    }

    /**
     * Several samples in one pass (each in its own sequence; at most {@code samplesPerDecode}):
     * element i is sample i's {@code [pooling][layer * width + j]}. {@code samples} may hold nulls
     * when the poolings do not look at samples (last, mean, mean over a modality).
     *
     * @throws IllegalArgumentException if a pooling selects no entry of a prompt (e.g. mean:image of a prompt without an image)
     */
    public List<double[][]> poolAll(List<Sample> samples, List<? extends Prompt> prompts) {
        int n = prompts.size();
        if (n == 0 || n > samplesPerDecode || samples.size() != n) {
            throw new IllegalArgumentException(n + " prompts and " + samples.size() + " samples for a collector of " + samplesPerDecode
                    + " per decode");
        }
        int k = poolings.size();
        float[][][] w = new float[n][k][];
        double[][] totals = new double[n][k];
        int[] offs = new int[n + 1];
        for (int p = 0; p < n; p++) {
            Prompt prompt = prompts.get(p);
            for (int q = 0; q < k; q++) {
                w[p][q] = poolings.get(q).weights(samples.get(p), prompt);
                if (w[p][q].length != prompt.length()) {
                    throw new IllegalArgumentException("pooling " + poolings.get(q).name() + " gave " + w[p][q].length + " weights for "
                            + prompt.length() + " entries");
                }
                for (float v : w[p][q]) {
                    if (!(v >= 0) || Float.isInfinite(v)) {
                        throw new IllegalArgumentException("pooling " + poolings.get(q).name() + " gave weight " + v + "; weights must be finite and >= 0");
                    }
                    totals[p][q] += v;
                }
                if (totals[p][q] == 0) {
                    Sample s = samples.get(p);
                    throw new IllegalArgumentException((s != null ? "sample " + s.id() : "prompt " + p) + " has no tokens for pooling "
                            + poolings.get(q).name());
                }
            }
            offs[p + 1] = offs[p] + prompt.length();
        }
        offsets = offs;
        entryWeights = w;
        List<int[]> codes = new ArrayList<>();
        for (int p = 0; p < n; p++) {
            int[] c = new int[prompts.get(p).length()];
            for (int e = 0; e < c.length; e++) {
                c[e] = offs[p] + e;
            }
            codes.add(c);
        }
        sums.reset();
        session.clearMemory();
        if (n == 1) {
            prompts.getFirst().decode(session, 0, 0, codes.getFirst(), this::decodeWeighted);
        } else {
            PromptBatcher.decode(session, prompts, java.util.stream.IntStream.range(0, n).toArray(), codes, this::decodeWeighted, (p, i) -> { });
        }
        MemorySegment acc = sums.segment();
        int columns = samplesPerDecode * k;
        List<double[][]> out = new ArrayList<>(n);
        for (int p = 0; p < n; p++) {
            double[][] pooled = new double[k][layers * width];
            for (int q = 0; q < k; q++) {
                int column = p * k + q;
                for (int l = 0; l < layers; l++) {
                    long base = ((long) l * columns + column) * width;
                    for (int j = 0; j < width; j++) {
                        pooled[q][l * width + j] = acc.getAtIndex(ValueLayout.JAVA_DOUBLE, base + j) / totals[p][q];
                    }
                }
            }
            out.add(pooled);
        }
        return out;
    }

    /** Sets the weights of the batch's entries (each code names a prompt and entry), then decodes. */
    private void decodeWeighted(Batch batch, int[] codeOfEntry) {
        weights.clear();
        int k = poolings.size();
        for (int i = 0; i < codeOfEntry.length; i++) {
            int code = codeOfEntry[i];
            int p = Arrays.binarySearch(offsets, code);
            p = p >= 0 ? p : -p - 2;
            while (p + 1 < offsets.length && offsets[p + 1] <= code) {
                p++; // an empty prompt cannot occur, but equal offsets would land on the earlier one
            }
            int e = code - offsets[p];
            for (int q = 0; q < k; q++) {
                float v = entryWeights[p][q][e];
                if (v != 0f) {
                    weights.set(i, p * k + q, v);
                }
            }
        }
        session.decode(batch);
    }

    /** Removes the reduction and frees its memory (and the token weights it held). */
    @Override
    public void close() {
        scope.close();
    }
}
