package org.neuronscope.collect;


import org.neuronscope.NeuronScopeException;
import org.neuronscope.methods.Miner;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.Hooks;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

/**
 * Runs one sample through a session and computes MINER's per-sample inputs (docs/METHODS.md §2, stage 2)
 * from the raw taps, layer by layer, without keeping any layer's activations: per modality the
 * activation COUNT (a > 0), SUM and MAX, and with attention on, the attention-weighted sums
 * attn_k[n] = Σ_j w_k[j]·a[j,n] (w_k[j]: attention token j receives from the modality's tokens) and
 * attn_q[n] = Σ_j w_q[j]·a[j,n] (w_q[j]: attention token j pays to them), both restricted to the
 * modality's tokens and averaged over heads. Attention needs flash attention off; with it the sample
 * is decoded twice (first the attention of every micro-batch, then the weighted activations), so a
 * sample may span any number of decodes and micro-batches.
 *
 * <p>With {@link Miner.Attention#REFERENCE} the attention weights are those of MINER's code
 * ({@code invasive_modification_for_attn_score.py:15-50}, {@code utils/func.py:96-108}): A = the mean
 * over heads of softmax(q·k/√d) over the whole prompt with <em>no</em> mask, future positions
 * included, from the causal model's queries and keys; per group A_m = A[T_m, T_m] is softmaxed again,
 * and attn_k weighs entry i with Σ_j softmax(A_m, dim 0)[i, j] (its row sum), attn_q entry j with
 * Σ_i softmax(A_m, dim 1)[i, j] (its column sum). The unmasked attention needs every key of the prompt
 * before the first query: the sample is decoded into sequence 0 (filling KV cells 0..n-1), then again
 * into sequence 1 beside it, where the attn.probs tap in its unmasked form
 * ({@link org.neuronscope.hooks.Hooks#setAttentionUnmasked}) scores each query of sequence 1 against
 * cells 0..n-1; then the activations pass. So the session needs 2 sequences and 2n KV cells, and the
 * sample is decoded three times; memory O(layers × n²) floats for A.
 */
public final class MinerCollector {
    private final List<String> modalities;
    private final boolean attention;
    private final Miner.Attention protocol;
    private final List<String> groups;           // modalities, then unions
    private final int[][][] common;             // [base i][base j] -> groups holding both

    public MinerCollector(List<String> modalities, boolean attention) {
        this(modalities, attention, java.util.Map.of());
    }

    /**
     * A collector that also measures unions of modalities as groups of their own (MINER's derived
     * groupings, e.g. {@code ModalityGrouping.DERIVED}: special_text, prompt): their attention metrics
     * count attention between all the union's tokens, which per-modality sums cannot give. Unions are
     * appended to the groups of the result, in the map's iteration order.
     */
    public MinerCollector(List<String> modalities, boolean attention, java.util.Map<String, List<String>> unions) {
        this(modalities, attention, unions, Miner.Attention.SPECIFICATION);
    }

    /** A collector whose attention metrics follow {@code protocol} (see the class comment). */
    public MinerCollector(List<String> modalities, boolean attention, java.util.Map<String, List<String>> unions, Miner.Attention protocol) {
        if (protocol == null) {
            throw new IllegalArgumentException("the attention protocol must not be null");
        }
        this.protocol = protocol;
        this.modalities = List.copyOf(modalities);
        this.attention = attention;
        List<String> all = new ArrayList<>(this.modalities);
        List<java.util.Set<Integer>> members = new ArrayList<>();
        for (int m = 0; m < this.modalities.size(); m++) {
            members.add(java.util.Set.of(m));
        }
        for (var u : unions.entrySet()) {
            if (all.contains(u.getKey())) {
                throw new IllegalArgumentException("union " + u.getKey() + " has the name of a group");
            }
            java.util.Set<Integer> set = new java.util.HashSet<>();
            for (String name : u.getValue()) {
                int idx = this.modalities.indexOf(name);
                if (idx < 0) {
                    throw new IllegalArgumentException("union " + u.getKey() + " names " + name + ", not one of " + this.modalities);
                }
                set.add(idx);
            }
            all.add(u.getKey());
            members.add(set);
        }
        this.groups = List.copyOf(all);
        int nb = this.modalities.size();
        this.common = new int[nb][nb][];
        for (int a = 0; a < nb; a++) {
            for (int b = 0; b < nb; b++) {
                List<Integer> both = new ArrayList<>();
                for (int g = 0; g < members.size(); g++) {
                    if (members.get(g).contains(a) && members.get(g).contains(b)) {
                        both.add(g);
                    }
                }
                common[a][b] = both.stream().mapToInt(Integer::intValue).toArray();
            }
        }
    }

    /** The groups of the statistics this collector returns: the modalities, then the unions. */
    public List<String> groups() {
        return groups;
    }

    /** The attention protocol of the attn_k/attn_q metrics. */
    public Miner.Attention protocol() {
        return protocol;
    }

    /**
     * Clears the session's memory and decodes {@code batch} (one sample: sequence 0, positions
     * 0..n-1 in order), entry i belonging to modality {@code modalityOfEntry[i]} (an index into the
     * modalities, or -1 for tokens no modality measures).
     */
    public Miner.SampleStatistics collect(Session session, Batch batch, int[] modalityOfEntry) {
        int n = batch.size();
        if (modalityOfEntry.length != n) {
            throw new IllegalArgumentException(modalityOfEntry.length + " modality labels for a batch of " + n);
        }
        for (int i = 0; i < n; i++) {
            if (batch.position(i) != i || batch.sequenceCount(i) != 1 || batch.sequence(i, 0) != 0) {
                throw new IllegalArgumentException("a MINER sample is one sequence (0) at positions 0..n-1; entry " + i + " is not");
            }
        }
        return collect(session, n, modalityOfEntry, (seq, step) -> {
            if (seq == 0) {
                step.decode(batch, modalityOfEntry);
            } else {
                try (Batch copy = inSequence(batch, seq)) {
                    step.decode(copy, modalityOfEntry);
                }
            }
        });
    }

    /** {@code batch}'s entries (tokens or embeddings, same positions and outputs) in sequence {@code seq}. */
    private static Batch inSequence(Batch batch, int seq) {
        int n = batch.size();
        Batch copy = batch.holdsEmbeddings() ? Batch.ofEmbeddings(n, batch.embeddingSize(), batch.positionsPerToken()) : Batch.ofTokens(n);
        try {
            for (int i = 0; i < n; i++) {
                if (batch.holdsEmbeddings()) {
                    copy.addEmbedding(batch.embedding(i), batch.positions(i), seq, batch.isOutput(i));
                } else {
                    copy.add(batch.token(i), batch.position(i), seq, batch.isOutput(i));
                }
            }
            return copy;
        } catch (RuntimeException e) {
            copy.close();
            throw e;
        }
    }

    /**
     * MINER's per-sample inputs for a prompt of any length and any number of decodes (text and media
     * chunks, micro-batches): clears the session's memory and decodes {@code prompt} into sequence 0,
     * entry i belonging to modality {@code modalityOfEntry[i]} (or -1). With attention on, the prompt
     * is decoded twice: first to gather, per layer, the attention each entry receives from and pays to
     * each modality (head-averaged probabilities, rows of every micro-batch); then to weight the
     * activations with them. Memory stays O(layers × modalities × entries), never activations × entries.
     */
    public Miner.SampleStatistics collect(Session session, org.neuronscope.media.Prompt prompt, int[] modalityOfEntry) {
        if (modalityOfEntry.length != prompt.length()) {
            throw new IllegalArgumentException(modalityOfEntry.length + " modality labels for a prompt of " + prompt.length() + " entries");
        }
        return collect(session, prompt.length(), modalityOfEntry, (seq, step) -> prompt.decode(session, seq, 0, modalityOfEntry, step));
    }

    /**
     * The collection itself: {@code decodeAll} runs every decode of one sample (n entries, into the
     * sequence it is given from position 0) through the step it is given; it is called once, twice
     * with attention, three times with the reference attention (sequence 1 in its second call).
     */
    private Miner.SampleStatistics collect(Session session, int n, int[] modalityOfEntry,
                                           java.util.function.BiConsumer<Integer, org.neuronscope.media.DecodeStep> decodeAll) {
        int nb = modalities.size();
        int nm = groups.size();
        for (int i = 0; i < n; i++) {
            if (modalityOfEntry[i] < -1 || modalityOfEntry[i] >= nb) {
                throw new IllegalArgumentException("modality " + modalityOfEntry[i] + " of entry " + i + " is out of range");
            }
        }
        Hooks hooks = session.hooks();
        int layers = hooks.layers();
        int width = hooks.uniformWidth(HookPoint.FFN_ACT);
        int[] base = {0}; // entry index of the current batch's first entry
        org.neuronscope.media.DecodeStep counting = (batch, groups) -> {
            session.decode(batch);
            base[0] += batch.size();
        };
        // pass 1: attention received (k) and paid (q) by each entry, per layer and modality.
        // After clearMemory a single sequence fills KV cells in entry order, so cell j is entry j.
        double[][][] wk = attention ? new double[layers][nm][n] : null;
        double[][][] wq = attention ? new double[layers][nm][n] : null;
        if (attention && protocol == Miner.Attention.REFERENCE) {
            referenceWeights(session, n, modalityOfEntry, decodeAll, counting, base, wk, wq);
        } else if (attention) {
            try (HookScope scope = hooks.openScope()) {
                scope.tap(HookPoint.ATTN_PROBS, -1, (p, layer, data, w, rows, idx) -> {
                    int cols = Math.min(w, n);
                    for (int r = 0; r < rows; r++) {
                        int i = base[0] + idx[r];
                        MemorySegment row = data.asSlice((long) r * w * Float.BYTES, (long) cols * Float.BYTES);
                        int mi = modalityOfEntry[i];
                        for (int j = 0; j < cols; j++) {
                            float pij = row.getAtIndex(ValueLayout.JAVA_FLOAT, j);
                            if (pij == 0f) {
                                continue;
                            }
                            int mj = modalityOfEntry[j];
                            if (mi >= 0 && mj >= 0) {
                                for (int g : common[mi][mj]) {
                                    wk[layer][g][j] += pij; // j receives from a query of its group
                                    wq[layer][g][i] += pij; // i pays to a key of its group
                                }
                            }
                        }
                    }
                });
                session.clearMemory();
                base[0] = 0;
                decodeAll.accept(0, counting);
            }
        }
        // pass 2: activations, weighted by the attention gathered above
        NeuronStatistics act = new NeuronStatistics(HookPoint.FFN_ACT, layers, width, groups, EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.MAX), 0f, 0f);
        NeuronStatistics attnK = attention ? new NeuronStatistics(HookPoint.FFN_ACT, layers, width, groups, EnumSet.of(Statistic.WEIGHTED_SUM), 0f, 0f) : null;
        NeuronStatistics attnQ = attention ? new NeuronStatistics(HookPoint.FFN_ACT, layers, width, groups, EnumSet.of(Statistic.WEIGHTED_SUM), 0f, 0f) : null;
        // the running sums, held off-heap as [layer][group][neuron] doubles: one fused pass per row
        // updates count, sum, max and both weighted sums (the same additions in the same order as
        // element-by-element get/set, so the result is bit-identical to that)
        MemorySegment cnt = act.segment(Statistic.COUNT);
        MemorySegment sum = act.segment(Statistic.SUM);
        MemorySegment max = act.segment(Statistic.MAX);
        MemorySegment ks = attention ? attnK.segment(Statistic.WEIGHTED_SUM) : null;
        MemorySegment qs = attention ? attnQ.segment(Statistic.WEIGHTED_SUM) : null;
        try (HookScope scope = hooks.openScope()) {
            scope.tap(HookPoint.FFN_ACT, -1, (p, layer, data, w, rows, idx) -> {
                if (w != width) {
                    throw new IllegalStateException("ffn.act of layer " + layer + " is " + w + " wide, not " + width);
                }
                for (int r = 0; r < rows; r++) {
                    int e = base[0] + idx[r];
                    int mb = modalityOfEntry[e];
                    if (mb < 0) {
                        continue;
                    }
                    MemorySegment row = data.asSlice((long) r * w * Float.BYTES, (long) w * Float.BYTES);
                    for (int m : common[mb][mb]) {
                        long at = act.offset(layer, m) * Double.BYTES;
                        if (attention) {
                            accumulate(row, w, cnt, sum, max, at, ks, qs, attnK.offset(layer, m) * Double.BYTES,
                                    wk[layer][m][e], wq[layer][m][e]);
                        } else {
                            accumulate(row, w, cnt, sum, max, at);
                        }
                    }
                }
            });
            session.clearMemory();
            base[0] = 0;
            decodeAll.accept(0, counting);
        } catch (RuntimeException e) {
            act.close();
            if (attnK != null) {
                attnK.close();
                attnQ.close();
            }
            throw e;
        }
        for (int m = 0; m < nm; m++) {
            final int group = m;
            long count = java.util.Arrays.stream(modalityOfEntry)
                    .filter(x -> x >= 0 && java.util.Arrays.stream(common[x][x]).anyMatch(g -> g == group)).count();
            act.addTokens(m, count);
            if (attention) {
                attnK.addTokens(m, count);
                attnQ.addTokens(m, count);
            }
        }
        return new Miner.SampleStatistics(act, attnK, attnQ);
    }

    /**
     * The reference code's attention weights (class comment): sequence 0 puts the prompt's keys into
     * cells 0..n-1, sequence 1's queries are scored against them without a mask (attn.probs
     * unmasked), and per layer and group the second softmax turns A[T_g, T_g] into the weights.
     */
    private void referenceWeights(Session session, int n, int[] modalityOfEntry,
                                  java.util.function.BiConsumer<Integer, org.neuronscope.media.DecodeStep> decodeAll,
                                  org.neuronscope.media.DecodeStep counting, int[] base, double[][][] wk, double[][][] wq) {
        if (session.maxSequences() < 2) {
            throw new IllegalArgumentException("MINER's reference attention decodes each sample a second time as sequence 1 beside sequence 0: "
                    + "it needs a session of 2 sequences (SessionParams.withMaxSequences(2)), this one has " + session.maxSequences());
        }
        if (session.contextSize() < 2L * n) {
            throw new IllegalArgumentException("MINER's reference attention holds a sample twice in the KV cache: a sample of " + n
                    + " entries needs a context of " + 2L * n + " cells, the session has " + session.contextSize() + " (raise --ctx)");
        }
        if ((long) n * n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("MINER's reference attention keeps the sample's n × n attention per layer; n = " + n + " is too long");
        }
        Hooks hooks = session.hooks();
        int layers = hooks.layers();
        float[][] a = new float[layers][];
        // pass 0: the whole prompt into sequence 0: after clearMemory its keys fill cells 0..n-1 in entry order
        session.clearMemory();
        base[0] = 0;
        decodeAll.accept(0, counting);
        // pass 1: the same prompt as sequence 1; each of its queries against cells 0..n-1, unmasked
        hooks.setAttentionUnmasked(n);
        try (HookScope scope = hooks.openScope()) {
            scope.tap(HookPoint.ATTN_PROBS, -1, (p, layer, data, w, rows, idx) -> {
                if (w != n) {
                    throw new IllegalStateException("unmasked attn.probs of layer " + layer + " is " + w + " wide, not the sample's " + n);
                }
                float[] al = a[layer] == null ? (a[layer] = new float[n * n]) : a[layer];
                for (int r = 0; r < rows; r++) {
                    int i = base[0] + idx[r];
                    MemorySegment.copy(data, ValueLayout.JAVA_FLOAT, (long) r * w * Float.BYTES, al, i * n, n);
                }
            });
            base[0] = 0;
            decodeAll.accept(1, counting);
        } finally {
            hooks.setAttentionUnmasked(0);
        }
        session.clearMemory();
        for (int layer = 0; layer < layers; layer++) {
            if (a[layer] == null) {
                throw new IllegalStateException("no unmasked attention was tapped in layer " + layer);
            }
            for (int g = 0; g < groups.size(); g++) {
                secondSoftmax(a[layer], n, members(modalityOfEntry, g), wk[layer][g], wq[layer][g]);
            }
        }
    }

    /** The entries of group g, in order. */
    private int[] members(int[] modalityOfEntry, int g) {
        return java.util.stream.IntStream.range(0, modalityOfEntry.length)
                .filter(e -> modalityOfEntry[e] >= 0 && java.util.Arrays.stream(common[modalityOfEntry[e]][modalityOfEntry[e]]).anyMatch(x -> x == g))
                .toArray();
    }

    /**
     * utils/func.py:96-108 on A_m = a[t, t] (rows: queries): wk[i] = Σ_j exp(A[i,j]) / Σ_i' exp(A[i',j])
     * (the row sums of softmax over dim 0), wq[j] = Σ_i exp(A[i,j]) / Σ_j' exp(A[i,j']) (the column
     * sums of softmax over dim 1). A lies in [0, 1], so exp needs no shift by the maximum.
     */
    static void secondSoftmax(float[] a, int n, int[] t, double[] wk, double[] wq) {
        int m = t.length;
        double[] colSum = new double[m];
        double[] rowSum = new double[m];
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < m; c++) {
                double e = Math.exp(a[t[r] * n + t[c]]);
                rowSum[r] += e;
                colSum[c] += e;
            }
        }
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < m; c++) {
                double e = Math.exp(a[t[r] * n + t[c]]);
                wk[t[r]] += e / colSum[c];
                wq[t[c]] += e / rowSum[r];
            }
        }
    }

    /** count (a &gt; 0), sum and max of one row into the doubles at byte offset {@code at}. */
    private static void accumulate(MemorySegment row, int w, MemorySegment cnt, MemorySegment sum, MemorySegment max, long at) {
        MemorySegment c = cnt.asSlice(at, (long) w * Double.BYTES);
        MemorySegment s = sum.asSlice(at, (long) w * Double.BYTES);
        MemorySegment x = max.asSlice(at, (long) w * Double.BYTES);
        for (int k = 0; k < w; k++) {
            double a = row.getAtIndex(ValueLayout.JAVA_FLOAT, k);
            if (a > 0) {
                c.setAtIndex(ValueLayout.JAVA_DOUBLE, k, c.getAtIndex(ValueLayout.JAVA_DOUBLE, k) + 1);
            }
            s.setAtIndex(ValueLayout.JAVA_DOUBLE, k, s.getAtIndex(ValueLayout.JAVA_DOUBLE, k) + a);
            if (a > x.getAtIndex(ValueLayout.JAVA_DOUBLE, k)) {
                x.setAtIndex(ValueLayout.JAVA_DOUBLE, k, a);
            }
        }
    }

    /** {@link #accumulate(MemorySegment, int, MemorySegment, MemorySegment, MemorySegment, long)} and the weighted sums k1·a, q1·a. */
    private static void accumulate(MemorySegment row, int w, MemorySegment cnt, MemorySegment sum, MemorySegment max, long at,
                                   MemorySegment ks, MemorySegment qs, long atW, double k1, double q1) {
        accumulate(row, w, cnt, sum, max, at);
        MemorySegment kk = ks.asSlice(atW, (long) w * Double.BYTES);
        MemorySegment qq = qs.asSlice(atW, (long) w * Double.BYTES);
        for (int k = 0; k < w; k++) {
            double a = row.getAtIndex(ValueLayout.JAVA_FLOAT, k);
            kk.setAtIndex(ValueLayout.JAVA_DOUBLE, k, kk.getAtIndex(ValueLayout.JAVA_DOUBLE, k) + k1 * a);
            qq.setAtIndex(ValueLayout.JAVA_DOUBLE, k, qq.getAtIndex(ValueLayout.JAVA_DOUBLE, k) + q1 * a);
        }
    }
}
