package org.neuronscope.model;

import org.neuronscope.internal.NativeHandle;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_context_params;
import org.neuronscope.bindings.neuronscope_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A llama.cpp context on a {@link Model}: a KV cache for up to {@link SessionParams#maxSequences()}
 * sequences, decoding, and the outputs of the last decode. Not thread-safe: use it from one thread.
 *
 * <p>Everything is checked in Java before llama.cpp sees it (batch size, token range, sequence
 * ids, output indices), so misuse is a {@link NeuronScopeException}, never a crash.
 */
public final class Session implements AutoCloseable {
    private final Model model;
    private final SessionParams params;
    private final NativeHandle handle;
    private final int nCtx;
    private final int nBatch;
    private final int nSeqMax;
    private final Deque<AutoCloseable> attachments = new ArrayDeque<>();
    /** Batch index of each output of the last decode, in order; -1 where not an output. */
    private int[] outputIndexOfBatchEntry = new int[0];

    Session(Model model, SessionParams params) {
        if (params == null) {
            throw new IllegalArgumentException("params must not be null");
        }
        this.model = model;
        this.params = params;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = neuronscope_h.llama_context_default_params(arena);
            llama_context_params.n_ctx(p, params.contextSize());
            llama_context_params.n_batch(p, params.batchSize());
            llama_context_params.n_ubatch(p, params.ubatchSize());
            llama_context_params.n_seq_max(p, params.maxSequences());
            llama_context_params.n_threads(p, params.threads());
            llama_context_params.n_threads_batch(p, params.threadsBatch());
            llama_context_params.embeddings(p, params.embeddings());
            llama_context_params.flash_attn_type(p, switch (params.flashAttention()) {
                case AUTO -> neuronscope_h.LLAMA_FLASH_ATTN_TYPE_AUTO();
                case ON -> neuronscope_h.LLAMA_FLASH_ATTN_TYPE_ENABLED();
                case OFF -> neuronscope_h.LLAMA_FLASH_ATTN_TYPE_DISABLED();
            });
            MemorySegment ctx = neuronscope_h.llama_init_from_model(model.nativeHandle(), p);
            if (ctx.equals(MemorySegment.NULL)) {
                throw new NeuronScopeException("llama.cpp could not create a context with " + params + " (see log 'llama.cpp')");
            }
            this.handle = new NativeHandle("session", ctx, neuronscope_h::llama_free);
            this.nCtx = neuronscope_h.llama_n_ctx(ctx);
            this.nBatch = neuronscope_h.llama_n_batch(ctx);
            this.nSeqMax = neuronscope_h.llama_n_seq_max(ctx);
        }
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
        MemorySegment ctx = handle.get();
        validate(batch);
        int rc = neuronscope_h.llama_decode(ctx, batch.nativeBatch());
        int[] index = new int[batch.size()];
        int k = 0;
        for (int i = 0; i < batch.size(); i++) {
            index[i] = batch.isOutput(i) ? k++ : -1;
        }
        if (rc != 0) {
            outputIndexOfBatchEntry = new int[0];
            String hooks = neuronscope_h.llama_nh_last_error(ctx).reinterpret(Long.MAX_VALUE).getString(0);
            String why = switch (rc) {
                case 1 -> "no room in the KV cache (context " + nCtx + " tokens); clear or shorten sequences";
                case 2 -> "aborted";
                case -1 -> "invalid batch (llama.cpp's log says why)";
                default -> "llama_decode failed with " + rc;
            };
            DecodeException failure = new DecodeException(hooks.isEmpty() ? why : why + ": " + hooks, rc);
            for (AutoCloseable a : attachments) {
                Throwable cause = a instanceof FailureSource source ? source.takeFailure() : null;
                if (cause != null && failure.getCause() == null) {
                    failure.initCause(cause);
                }
            }
            throw failure;
        }
        outputIndexOfBatchEntry = index;
    }

    private void validate(Batch batch) {
        if (batch == null || batch.isEmpty()) {
            throw new NeuronScopeException("cannot decode an empty batch");
        }
        if (batch.size() > nBatch) {
            throw new NeuronScopeException("batch of " + batch.size() + " exceeds the session's batch size " + nBatch);
        }
        if (batch.holdsEmbeddings()) {
            if (batch.embeddingSize() != model.embeddingSize()) {
                throw new NeuronScopeException("embeddings of width " + batch.embeddingSize() + " for a model of width " + model.embeddingSize());
            }
            if (batch.positionsPerToken() != model.positionsPerEmbedding()) {
                throw new NeuronScopeException("embeddings with " + batch.positionsPerToken() + " position(s) each; this model needs "
                        + model.positionsPerEmbedding());
            }
        }
        int vocab = model.vocabularySize();
        for (int i = 0; i < batch.size(); i++) {
            if (!batch.holdsEmbeddings()) {
                int t = batch.token(i);
                if (t >= vocab) {
                    throw new NeuronScopeException("token " + t + " at batch entry " + i + " is out of range [0, " + vocab + ")");
                }
            }
            if (batch.position(i) >= nCtx && nSeqMax == 1) {
                throw new NeuronScopeException("position " + batch.position(i) + " at batch entry " + i + " is beyond the context size " + nCtx);
            }
            for (int s = 0; s < batch.sequenceCount(i); s++) {
                int seq = batch.sequence(i, s);
                if (seq >= nSeqMax) {
                    throw new NeuronScopeException("sequence id " + seq + " at batch entry " + i + " is out of range [0, " + nSeqMax + ")");
                }
            }
        }
    }

    /**
     * The logits (vocabulary-size floats) of batch entry {@code batchIndex} of the last decode, which
     * must have been marked as an output. A view of llama.cpp's buffer, valid until the next decode.
     */
    public MemorySegment logits(int batchIndex) {
        MemorySegment ctx = handle.get();
        int out = outputIndex(batchIndex);
        MemorySegment all = neuronscope_h.llama_get_logits(ctx);
        if (all.equals(MemorySegment.NULL)) {
            throw new NeuronScopeException("this session computes embeddings, not logits");
        }
        long n = model.vocabularySize();
        return all.reinterpret((long) (out + 1) * n * Float.BYTES).asSlice((long) out * n * Float.BYTES, n * Float.BYTES);
    }

    /** A copy of the logits of a batch entry of the last decode. */
    public float[] logitsArray(int batchIndex) {
        return logits(batchIndex).toArray(ValueLayout.JAVA_FLOAT);
    }

    /** The embedding (hidden state after the final norm) of a batch entry; needs {@link SessionParams#embeddings()}. */
    public MemorySegment embedding(int batchIndex) {
        MemorySegment ctx = handle.get();
        outputIndex(batchIndex);
        MemorySegment e = neuronscope_h.llama_get_embeddings_ith(ctx, batchIndex);
        if (e.equals(MemorySegment.NULL)) {
            throw new NeuronScopeException("no embedding for batch entry " + batchIndex + " (is the session created with embeddings on?)");
        }
        return e.reinterpret((long) model.embeddingSize() * Float.BYTES);
    }

    private int outputIndex(int batchIndex) {
        if (batchIndex < 0 || batchIndex >= outputIndexOfBatchEntry.length) {
            throw new NeuronScopeException("batch entry " + batchIndex + " is not in the last decoded batch (" + outputIndexOfBatchEntry.length + " entries)");
        }
        int out = outputIndexOfBatchEntry[batchIndex];
        if (out < 0) {
            throw new NeuronScopeException("batch entry " + batchIndex + " was not marked as an output");
        }
        return out;
    }

    /** Forgets every sequence (empties the KV cache). */
    public void clearMemory() {
        neuronscope_h.llama_memory_clear(memory(), true);
        outputIndexOfBatchEntry = new int[0];
    }

    /** Removes positions [from, to) of a sequence (-1 for all sequences; to = -1 for "to the end"). */
    public void removeTokens(int seqId, int from, int to) {
        checkSeq(seqId, true);
        if (!neuronscope_h.llama_memory_seq_rm(memory(), seqId, from, to)) {
            throw new NeuronScopeException("llama.cpp cannot remove a partial range of sequence " + seqId + " from this model's memory");
        }
    }

    /** Makes sequence {@code dst} share positions [from, to) of sequence {@code src}. */
    public void copySequence(int src, int dst, int from, int to) {
        checkSeq(src, false);
        checkSeq(dst, false);
        neuronscope_h.llama_memory_seq_cp(memory(), src, dst, from, to);
    }

    /** Removes every sequence but {@code seqId}. */
    public void keepSequence(int seqId) {
        checkSeq(seqId, false);
        neuronscope_h.llama_memory_seq_keep(memory(), seqId);
    }

    /** The largest position of a sequence in the KV cache, -1 if empty. */
    public int maxPosition(int seqId) {
        checkSeq(seqId, false);
        return neuronscope_h.llama_memory_seq_pos_max(memory(), seqId);
    }

    private MemorySegment memory() {
        return neuronscope_h.llama_get_memory(handle.get());
    }

    private void checkSeq(int seqId, boolean allowAll) {
        if ((seqId < 0 && !(allowAll && seqId == -1)) || seqId >= nSeqMax) {
            throw new NeuronScopeException("sequence id " + seqId + " is out of range [0, " + nSeqMax + ")");
        }
    }

    /**
     * Attaches an object that uses this session's native context (hooks, for example): it is closed
     * before the context is freed.
     */
    public void attach(AutoCloseable resource) {
        handle.get();
        attachments.push(resource);
    }

    /** An attachment whose callbacks can fail a decode; the decode's exception gets the failure as cause. */
    public interface FailureSource {
        /** The failure recorded since the last call, or null; clears it. */
        Throwable takeFailure();
    }

    /** Detaches a resource closed by its own owner. */
    public void detach(AutoCloseable resource) {
        attachments.remove(resource);
    }

    /** The native {@code llama_context*}, valid until {@link #close()}; for the library's own packages. */
    public MemorySegment nativeHandle() {
        return handle.get();
    }

    public boolean isOpen() {
        return handle.isOpen();
    }

    @Override
    public void close() {
        if (!handle.isOpen()) {
            return;
        }
        while (!attachments.isEmpty()) {
            try {
                attachments.pop().close();
            } catch (Exception e) {
                throw new NeuronScopeException("closing a resource attached to the session failed", e);
            }
        }
        handle.close();
        model.sessionClosed(this);
    }
}
