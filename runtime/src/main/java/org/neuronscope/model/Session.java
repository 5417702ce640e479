package org.neuronscope.model;

import org.neuronscope.hooks.Hooks;

import org.neuronscope.internal.ContextHooks;
import org.neuronscope.internal.CpuThreadPools;
import org.neuronscope.internal.NativeHandle;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.UnsupportedArchitectureException;
import org.neuronscope.bindings.llama_context_params;
import org.neuronscope.bindings.neuronscope_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A llama.cpp context on a {@link Model}: a KV cache for up to {@link SessionParams#maxSequences()}
 * sequences, decoding, the outputs of the last decode, and the session's one {@link Hooks} object.
 *
 * <p>Everything is checked in Java before llama.cpp sees it (batch size, token range, sequence
 * ids, output indices), so misuse is an exception, never a crash. A session serves one thread at a
 * time: a decode while another thread decodes, or changes the hooks, is refused with an
 * {@link IllegalStateException}; {@link #close()} waits for a decode in flight.
 */
public final class Session implements AutoCloseable {
    private static final java.util.concurrent.atomic.AtomicInteger IDS = new java.util.concurrent.atomic.AtomicInteger();
    private final int id = IDS.incrementAndGet();
    private final Model model;
    private final SessionParams params;
    private final NativeHandle handle;
    private final int nCtx;
    private final int nBatch;
    private final int nSeqMax;
    private final Hooks hooks;
    private final ContextHooks hookControl;
    /** Batch index of each output of the last decode, in order; -1 where not an output. */
    private int[] outputIndexOfBatchEntry = new int[0];
    /** Scope of the views of the last decode's outputs (logits, embeddings): closed by the next decode. */
    private Arena outputViews;

    Session(Model model, SessionParams params) {
        if (params == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        this.model = model;
        this.params = params;
        checkMemory(model, params);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = neuronscope_h.llama_context_default_params(arena);
            llama_context_params.n_ctx(p, params.contextSize());
            llama_context_params.n_batch(p, params.batchSize());
            llama_context_params.n_ubatch(p, params.ubatchSize());
            llama_context_params.n_seq_max(p, params.maxSequences());
            llama_context_params.n_threads(p, params.threads());
            llama_context_params.n_threads_batch(p, params.threadsBatch());
            llama_context_params.embeddings(p, params.embeddings());
            // several sequences share one KV buffer: a batch packed with several prompts is then
            // split into full micro-batches (llama.cpp splits per-sequence buffers into micro-batches
            // of equal parts of every sequence), and the sequences share the context
            llama_context_params.kv_unified(p, params.maxSequences() > 1);
            llama_context_params.flash_attn_type(p, switch (params.flashAttention()) {
                case AUTO -> neuronscope_h.LLAMA_FLASH_ATTN_TYPE_AUTO();
                case ON -> neuronscope_h.LLAMA_FLASH_ATTN_TYPE_ENABLED();
                case OFF -> neuronscope_h.LLAMA_FLASH_ATTN_TYPE_DISABLED();
            });
            MemorySegment ctx = NativeHandle.of(model).shared(m -> neuronscope_h.llama_init_from_model(m, p));
            if (ctx.equals(MemorySegment.NULL)) {
                throw new ModelLoadException("llama.cpp could not create a context with " + params + ": "
                        + org.neuronscope.internal.LlamaRuntime.lastNativeError());
            }
            // the pool's threads serve this context only; it is freed after the context, which uses it until then
            MemorySegment pool = MemorySegment.NULL;
            try {
                if (params.cpuThreadPool() && Math.max(params.threads(), params.threadsBatch()) > 1) {
                    pool = CpuThreadPools.create(Math.max(params.threads(), params.threadsBatch()));
                    if (!pool.equals(MemorySegment.NULL)) {
                        neuronscope_h.llama_attach_threadpool(ctx, pool, pool);
                    }
                }
            } catch (RuntimeException | Error e) {
                neuronscope_h.llama_free(ctx);
                throw e;
            }
            MemorySegment threadPool = pool;
            this.handle = NativeHandle.create(this, "session", ctx, c -> {
                        neuronscope_h.llama_free(c);
                        CpuThreadPools.free(threadPool);
                    })
                    .named("session #" + id + " on " + model.path().getFileName());
            this.nCtx = neuronscope_h.llama_n_ctx(ctx);
            this.nBatch = neuronscope_h.llama_n_batch(ctx);
            this.nSeqMax = neuronscope_h.llama_n_seq_max(ctx);
        }
        this.hooks = Hooks.attach(handle, model.layerCount(), nBatch,
                "the " + model.architecture() + " model " + model.path().getFileName());
        this.hookControl = ContextHooks.of(handle);
    }

    /**
     * Refuses a context whose KV cache alone would not fit the machine's memory, before llama.cpp
     * allocates it ({@code --ctx 2000000000} otherwise allocates without bound). The estimate is
     * llama.cpp's default layout: K and V in F16 for every layer, {@code n_ctx} cells of n_head_kv ×
     * head size each. Anything that passes may still fail in llama.cpp, which then reports it.
     */
    static void checkMemory(Model model, SessionParams params) {
        long ctx = params.contextSize() == 0 ? model.trainingContextSize() : params.contextSize();
        long total = physicalMemory();
        long kv = kvCacheBytes(model, ctx);
        if (total > 0 && kv > total) {
            throw new IllegalArgumentException("a context of " + ctx + " tokens needs about " + (kv >> 20) + " MiB of KV cache for "
                    + model.path().getFileName() + " (" + model.layerCount() + " layers), more than the " + (total >> 20)
                    + " MiB of memory this machine has; choose a smaller context size");
        }
    }

    /** Bytes of an F16 KV cache of {@code ctx} cells: 2 (K and V) × layers × ctx × kv heads × head size × 2 bytes. */
    static long kvCacheBytes(Model model, long ctx) {
        long heads = Math.max(1, model.headCount());
        long headSize = Math.max(1, model.embeddingSize() / heads);
        long kvWidth = Math.max(1, model.kvHeadCount()) * headSize;
        double bytes = 2.0 * model.layerCount() * ctx * kvWidth * 2;
        return bytes > Long.MAX_VALUE ? Long.MAX_VALUE : (long) bytes;
    }

    private static long physicalMemory() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return -1;
    }

    public Model model() {
        return model;
    }

    public SessionParams params() {
        return params;
    }

    public int contextSize() {
        return nCtx;
    }

    public int batchSize() {
        return nBatch;
    }

    public int maxSequences() {
        return nSeqMax;
    }

    /**
     * Runs the model over a batch, adding it to the KV cache. Afterwards {@link #logits(int)} gives
     * the outputs of the entries marked as outputs.
     */
    public void decode(Batch batch) {
        if (batch == null) {
            throw new IllegalArgumentException("cannot decode a null batch");
        }
        handle.exclusive("decode", ctx -> {
            // the batch is pinned (no change, no close) before it is checked, until llama.cpp is done with it
            batch.pin(handle.name());
            try {
                validate(batch);
                return decodeChecked(ctx, batch);
            } finally {
                batch.unpin();
            }
        });
    }

    private Void decodeChecked(MemorySegment ctx, Batch batch) {
        {
            closeOutputViews();
            int rc = neuronscope_h.llama_decode(ctx, batch.nativeBatch());
            if (rc != 0) {
                outputIndexOfBatchEntry = new int[0];
                throw decodeFailure(ctx, rc);
            }
            int[] index = new int[batch.size()];
            int k = 0;
            for (int i = 0; i < batch.size(); i++) {
                index[i] = batch.isOutput(i) ? k++ : -1;
            }
            outputIndexOfBatchEntry = index;
            return null;
        }
    }

    private DecodeException decodeFailure(MemorySegment ctx, int rc) {
        String why = switch (rc) {
            case 1 -> "no room in the KV cache (context " + nCtx + " tokens); clear or shorten sequences";
            case 2 -> "aborted";
            case -1 -> "invalid batch: " + org.neuronscope.internal.LlamaRuntime.lastNativeError();
            default -> "llama_decode failed with " + rc;
        };
        String fromHooks = hookControl.lastNativeError();
        DecodeException failure = new DecodeException(fromHooks.isEmpty() ? why : why + ": " + fromHooks, rc);
        Throwable cause = hookControl.takeListenerFailure();
        if (cause != null) {
            failure.initCause(cause);
        }
        return failure;
    }

    private void validate(Batch batch) {
        if (batch == null || batch.isEmpty()) {
            throw new IllegalArgumentException("cannot decode an empty batch");
        }
        if (batch.size() > nBatch) {
            throw new IllegalArgumentException("batch of " + batch.size() + " exceeds the session's batch size " + nBatch);
        }
        if (batch.holdsEmbeddings()) {
            if (batch.embeddingSize() != model.embeddingSize()) {
                throw new IllegalArgumentException("embeddings of width " + batch.embeddingSize() + " for a model of width " + model.embeddingSize());
            }
            if (batch.positionsPerToken() != model.positionsPerEmbedding()) {
                throw new IllegalArgumentException("embeddings with " + batch.positionsPerToken() + " position(s) each; this model needs "
                        + model.positionsPerEmbedding());
            }
        }
        if (model.isEncoder()) {
            validateEncoderBatch(batch);
        }
        int vocab = model.vocabularySize();
        for (int i = 0; i < batch.size(); i++) {
            if (!batch.holdsEmbeddings()) {
                int t = batch.token(i);
                if (t >= vocab) {
                    throw new IllegalArgumentException("token " + t + " at batch entry " + i + " is out of range [0, " + vocab + ")");
                }
            }
            if (batch.position(i) >= nCtx && nSeqMax == 1) {
                throw new IllegalArgumentException("position " + batch.position(i) + " at batch entry " + i + " is beyond the context size " + nCtx);
            }
            for (int s = 0; s < batch.sequenceCount(i); s++) {
                int seq = batch.sequence(i, s);
                if (seq >= nSeqMax) {
                    throw new IllegalArgumentException("sequence id " + seq + " at batch entry " + i + " is out of range [0, " + nSeqMax + ")");
                }
            }
        }
    }

    /**
     * An encoder sees each decode on its own, in one micro-batch (llama.cpp aborts the process
     * otherwise), with learned positions up to its training context: checked here.
     */
    private void validateEncoderBatch(Batch batch) {
        if (batch.size() > params.ubatchSize()) {
            throw new IllegalArgumentException("the encoder " + model.path().getFileName() + " takes a whole input in one micro-batch: "
                    + batch.size() + " entries exceed the session's micro-batch size " + params.ubatchSize()
                    + " (SessionParams.withBatchSize sets both)");
        }
        java.util.Set<Integer> started = new java.util.HashSet<>();
        int limit = model.trainingContextSize() > 0 ? model.trainingContextSize() : Integer.MAX_VALUE;
        for (int i = 0; i < batch.size(); i++) {
            if (batch.position(i) >= limit) {
                throw new IllegalArgumentException("position " + batch.position(i) + " at batch entry " + i + " is beyond the encoder's "
                        + limit + " learned positions");
            }
            for (int s = 0; s < batch.sequenceCount(i); s++) {
                if (started.add(batch.sequence(i, s)) && batch.position(i) != 0) {
                    throw new IllegalArgumentException("sequence " + batch.sequence(i, s) + " starts at position " + batch.position(i)
                            + " (batch entry " + i + "); an encoder has no KV cache, so every decode holds whole inputs from position 0");
                }
            }
        }
    }

    /**
     * The pooled embedding of sequence {@code seqId} of the last decode (the model's pooling: mean,
     * CLS or last token, see {@link Model#poolingType()}); needs {@link SessionParams#embeddings()}.
     * For sentence-embedding models this is the sentence embedding, before any normalisation. A
     * view valid until the next decode or {@link #close()}.
     */
    public MemorySegment sequenceEmbedding(int seqId) {
        checkSeq(seqId, false);
        if (!params.embeddings()) {
            throw new IllegalStateException("sequence embeddings need a session created with embeddings on (SessionParams.withEmbeddings)");
        }
        if (model.poolingType() == 0) {
            throw new UnsupportedArchitectureException("the model " + model.path().getFileName()
                    + " does not pool its embeddings (pooling type none): read per-token embeddings with embedding(batchIndex)");
        }
        return handle.shared(ctx -> {
            MemorySegment e = neuronscope_h.llama_get_embeddings_seq(ctx, seqId);
            if (e.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("no pooled embedding for sequence " + seqId + " in the last decode");
            }
            return view(e, (long) model.embeddingSize() * Float.BYTES);
        });
    }

    /** A copy of {@link #sequenceEmbedding}. */
    public float[] sequenceEmbeddingArray(int seqId) {
        return sequenceEmbedding(seqId).toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * The logits (vocabulary-size floats) of batch entry {@code batchIndex} of the last decode, which
     * must have been marked as an output. A view of llama.cpp's buffer, valid until the next decode or
     * {@link #close()}: reading it later throws {@link IllegalStateException}.
     */
    public MemorySegment logits(int batchIndex) {
        if (!model.hasLogits()) {
            throw new UnsupportedArchitectureException("the " + model.architecture() + " model " + model.path().getFileName()
                    + " has no language-model head: it gives embeddings (sequenceEmbedding, embedding), not logits");
        }
        return handle.shared(ctx -> {
            int out = outputIndex(batchIndex);
            MemorySegment all = neuronscope_h.llama_get_logits(ctx);
            if (all.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("this session computes embeddings, not logits");
            }
            long n = model.vocabularySize();
            return view(all.asSlice(0), (long) (out + 1) * n * Float.BYTES).asSlice((long) out * n * Float.BYTES, n * Float.BYTES);
        });
    }

    /** A copy of the logits of a batch entry of the last decode. */
    public float[] logitsArray(int batchIndex) {
        return logits(batchIndex).toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * The embedding (hidden state after the final norm) of a batch entry; needs
     * {@link SessionParams#embeddings()}. Valid until the next decode or {@link #close()}.
     */
    public MemorySegment embedding(int batchIndex) {
        if (model.isEncoder() && model.poolingType() != 0) {
            // llama.cpp keeps only the pooled rows of a pooling encoder
            throw new UnsupportedArchitectureException("the model " + model.path().getFileName() + " pools its embeddings: read "
                    + "sequenceEmbedding(seqId) (a model converted with pooling NONE gives per-token embeddings)");
        }
        return handle.shared(ctx -> {
            outputIndex(batchIndex);
            MemorySegment e = neuronscope_h.llama_get_embeddings_ith(ctx, batchIndex);
            if (e.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("no embedding for batch entry " + batchIndex + " (is the session created with embeddings on?)");
            }
            return view(e, (long) model.embeddingSize() * Float.BYTES);
        });
    }

    /** A view of native output memory that dies with the last decode's outputs. */
    private synchronized MemorySegment view(MemorySegment address, long bytes) {
        if (outputViews == null) {
            outputViews = Arena.ofShared();
        }
        return address.reinterpret(bytes, outputViews, null);
    }

    private synchronized void closeOutputViews() {
        if (outputViews != null) {
            outputViews.close();
            outputViews = null;
        }
    }

    private int outputIndex(int batchIndex) {
        if (batchIndex < 0 || batchIndex >= outputIndexOfBatchEntry.length) {
            throw new IndexOutOfBoundsException("batch entry " + batchIndex + " is not in the last decoded batch (" + outputIndexOfBatchEntry.length + " entries)");
        }
        int out = outputIndexOfBatchEntry[batchIndex];
        if (out < 0) {
            throw new IllegalArgumentException("batch entry " + batchIndex + " was not marked as an output");
        }
        return out;
    }

    /** Forgets every sequence (empties the KV cache). */
    public void clearMemory() {
        handle.exclusive("clear the KV cache", ctx -> {
            neuronscope_h.llama_memory_clear(neuronscope_h.llama_get_memory(ctx), true);
            return null;
        });
        closeOutputViews();
        outputIndexOfBatchEntry = new int[0];
    }

    /** Removes positions [from, to) of a sequence (-1 for all sequences; to = -1 for "to the end"). */
    public void removeTokens(int seqId, int from, int to) {
        checkSeq(seqId, true);
        boolean removed = handle.exclusive("remove tokens", ctx -> neuronscope_h.llama_memory_seq_rm(neuronscope_h.llama_get_memory(ctx), seqId, from, to));
        if (!removed) {
            throw new UnsupportedOperationException("llama.cpp cannot remove a partial range of sequence " + seqId + " from this model's memory");
        }
    }

    /** Makes sequence {@code dst} share positions [from, to) of sequence {@code src}. */
    public void copySequence(int src, int dst, int from, int to) {
        checkSeq(src, false);
        checkSeq(dst, false);
        handle.exclusive("copy a sequence", ctx -> {
            neuronscope_h.llama_memory_seq_cp(neuronscope_h.llama_get_memory(ctx), src, dst, from, to);
            return null;
        });
    }

    /** Removes every sequence but {@code seqId}. */
    public void keepSequence(int seqId) {
        checkSeq(seqId, false);
        handle.exclusive("keep a sequence", ctx -> {
            neuronscope_h.llama_memory_seq_keep(neuronscope_h.llama_get_memory(ctx), seqId);
            return null;
        });
    }

    /** The largest position of a sequence in the KV cache, -1 if empty. */
    public int maxPosition(int seqId) {
        checkSeq(seqId, false);
        return handle.shared(ctx -> neuronscope_h.llama_memory_seq_pos_max(neuronscope_h.llama_get_memory(ctx), seqId));
    }

    private void checkSeq(int seqId, boolean allowAll) {
        if ((seqId < 0 && !(allowAll && seqId == -1)) || seqId >= nSeqMax) {
            throw new IndexOutOfBoundsException("sequence id " + seqId + " is out of range [0, " + nSeqMax + ")");
        }
    }

    /** The neuron hooks of this session: the one object that configures its reductions, interventions and taps. */
    public Hooks hooks() {
        handle.get();
        return hooks;
    }

    public boolean isOpen() {
        return handle.isOpen();
    }

    /**
     * Removes every hook scope (freeing its memory), then frees the context, also when removing a
     * scope fails (that failure is thrown afterwards). Waits for a decode that another thread runs;
     * idempotent.
     */
    @Override
    public String toString() {
        return "Session[#" + id + ", " + model.path().getFileName() + ", ctx " + nCtx + (isOpen() ? "" : ", closed") + "]";
    }

    @Override
    public void close() {
        try {
            handle.close(ctx -> {
                try {
                    hookControl.release(ctx);
                } finally {
                    closeOutputViews();
                }
            });
        } finally {
            model.sessionClosed(this);
        }
    }
}
