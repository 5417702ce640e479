package org.neuronscope.model;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_batch;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The input of one {@link Session#decode}: tokens, or embeddings (how image and audio features enter
 * the language model), each with its position(s), sequence ids and whether its output is wanted.
 * All memory is Java-owned (one arena); the batch can be cleared and refilled.
 *
 * <p>Embeddings of M-RoPE models (Qwen2-VL) carry {@link Model#positionsPerEmbedding()} positions
 * each (temporal, height, width, extra); several may share a temporal position.
 */
public final class Batch implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int capacity;
    private final int embeddingSize;     // 0 for a token batch
    private final int positionsPerToken;
    private final int maxSeqPerToken;
    private final MemorySegment struct;
    private final MemorySegment tokens;
    private final MemorySegment embeddings;
    private final MemorySegment positions;   // [dim][n] laid out when the batch is handed to llama.cpp
    private final int[] positionsStaged;      // [token][dim] as added
    private final MemorySegment seqCounts;
    private final MemorySegment seqIdPointers;
    private final MemorySegment seqIds;
    private final MemorySegment outputs;
    private int size;
    private boolean open = true;
    /** Who decodes the batch now (null: nobody); see {@link #pin}. */
    private String pinnedBy;

    private Batch(int capacity, int embeddingSize, int positionsPerToken, int maxSeqPerToken) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        if (maxSeqPerToken <= 0) {
            throw new IllegalArgumentException("maxSeqPerToken must be positive, got " + maxSeqPerToken);
        }
        if (positionsPerToken != 1 && positionsPerToken != 4) {
            throw new IllegalArgumentException("positionsPerToken must be 1 or 4, got " + positionsPerToken);
        }
        this.capacity = capacity;
        this.embeddingSize = embeddingSize;
        this.positionsPerToken = positionsPerToken;
        this.maxSeqPerToken = maxSeqPerToken;
        this.struct = llama_batch.allocate(arena);
        this.tokens = embeddingSize == 0 ? arena.allocate(ValueLayout.JAVA_INT, capacity) : MemorySegment.NULL;
        this.embeddings = embeddingSize > 0 ? arena.allocate(ValueLayout.JAVA_FLOAT, (long) capacity * embeddingSize) : MemorySegment.NULL;
        this.positions = arena.allocate(ValueLayout.JAVA_INT, (long) capacity * positionsPerToken);
        this.positionsStaged = new int[capacity * positionsPerToken];
        this.seqCounts = arena.allocate(ValueLayout.JAVA_INT, capacity);
        this.seqIdPointers = arena.allocate(ValueLayout.ADDRESS, capacity);
        this.seqIds = arena.allocate(ValueLayout.JAVA_INT, (long) capacity * maxSeqPerToken);
        for (int i = 0; i < capacity; i++) {
            seqIdPointers.setAtIndex(ValueLayout.ADDRESS, i, seqIds.asSlice((long) i * maxSeqPerToken * Integer.BYTES));
        }
        this.outputs = arena.allocate(ValueLayout.JAVA_BYTE, capacity);
    }

    /** A batch of up to {@code capacity} tokens, each in one sequence. */
    public static Batch ofTokens(int capacity) {
        return new Batch(capacity, 0, 1, 1);
    }

    /** A batch of tokens, each in up to {@code maxSeqPerToken} sequences (shared prompt prefixes). */
    public static Batch ofTokens(int capacity, int maxSeqPerToken) {
        return new Batch(capacity, 0, 1, maxSeqPerToken);
    }

    /** A batch of up to {@code capacity} embeddings of {@code model}'s width and position count. */
    public static Batch ofEmbeddings(Model model, int capacity) {
        return new Batch(capacity, model.embeddingSize(), model.positionsPerEmbedding(), 1);
    }

    /** A batch of embeddings of a given width and positions per embedding (1, or 4 for M-RoPE). */
    public static Batch ofEmbeddings(int capacity, int embeddingSize, int positionsPerEmbedding) {
        if (embeddingSize <= 0) {
            throw new IllegalArgumentException("embeddingSize must be positive, got " + embeddingSize);
        }
        return new Batch(capacity, embeddingSize, positionsPerEmbedding, 1);
    }

    /** Appends a token at {@code position} of sequence {@code seqId}; {@code output}: compute its logits. */
    public Batch add(int token, int position, int seqId, boolean output) {
        return add(token, position, new int[] {seqId}, output);
    }

    /** Appends a token that belongs to several sequences. */
    public synchronized Batch add(int token, int position, int[] seqIdsOfToken, boolean output) {
        ensureChangeable();
        if (embeddingSize != 0) {
            throw new IllegalStateException("this batch holds embeddings, not tokens");
        }
        if (token < 0) {
            throw new IllegalArgumentException("token " + token + " is negative");
        }
        int i = reserve(seqIdsOfToken, output);
        tokens.setAtIndex(ValueLayout.JAVA_INT, i, token);
        stagePositions(i, position);
        return this;
    }

    /**
     * Appends one embedding (embeddingSize floats from {@code embedding} at element {@code offset}),
     * with one position per dimension of the model's RoPE ({@code positions.length} must equal
     * positionsPerEmbedding).
     */
    public synchronized Batch addEmbedding(MemorySegment embedding, long offset, int[] positionsOfEmbedding, int seqId, boolean output) {
        ensureChangeable();
        if (embeddingSize == 0) {
            throw new IllegalStateException("this batch holds tokens, not embeddings");
        }
        if (positionsOfEmbedding.length != positionsPerToken) {
            throw new IllegalArgumentException("an embedding needs " + positionsPerToken + " position(s), got " + positionsOfEmbedding.length);
        }
        long bytes = (long) embeddingSize * Float.BYTES;
        if (offset < 0 || offset * Float.BYTES + bytes > embedding.byteSize()) {
            throw new IllegalArgumentException("embedding source too small: need " + embeddingSize + " floats at element " + offset);
        }
        int i = reserve(new int[] {seqId}, output);
        MemorySegment.copy(embedding, offset * Float.BYTES, embeddings, (long) i * bytes, bytes);
        for (int d = 0; d < positionsPerToken; d++) {
            if (positionsOfEmbedding[d] < 0) {
                throw new IllegalArgumentException("position " + positionsOfEmbedding[d] + " is negative");
            }
            positionsStaged[i * positionsPerToken + d] = positionsOfEmbedding[d];
        }
        return this;
    }

    /** A copy of the embedding of entry {@code i} of an embedding batch. */
    public float[] embedding(int i) {
        ensureOpen();
        if (embeddingSize == 0) {
            throw new IllegalStateException("this batch holds tokens, not embeddings");
        }
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("entry " + i + " of a batch of " + size);
        }
        long bytes = (long) embeddingSize * Float.BYTES;
        return embeddings.asSlice((long) i * bytes, bytes).toArray(ValueLayout.JAVA_FLOAT);
    }

    /** All positions of entry {@code i} (one, or four with M-RoPE). */
    public int[] positions(int i) {
        ensureOpen();
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("entry " + i + " of a batch of " + size);
        }
        return java.util.Arrays.copyOfRange(positionsStaged, i * positionsPerToken, (i + 1) * positionsPerToken);
    }

    /** Appends an embedding given as a float array. */
    public Batch addEmbedding(float[] embedding, int[] positionsOfEmbedding, int seqId, boolean output) {
        if (embedding.length != embeddingSize) {
            throw new IllegalArgumentException("embedding has " + embedding.length + " floats, the batch expects " + embeddingSize);
        }
        return addEmbedding(MemorySegment.ofArray(embedding), 0, positionsOfEmbedding, seqId, output);
    }

    private int reserve(int[] seqIdsOfToken, boolean output) {
        if (size == capacity) {
            throw new IllegalStateException("batch is full (" + capacity + " entries)");
        }
        if (seqIdsOfToken.length == 0 || seqIdsOfToken.length > maxSeqPerToken) {
            throw new IllegalArgumentException("a token needs 1 to " + maxSeqPerToken + " sequence ids, got " + seqIdsOfToken.length);
        }
        int i = size;
        seqCounts.setAtIndex(ValueLayout.JAVA_INT, i, seqIdsOfToken.length);
        for (int s = 0; s < seqIdsOfToken.length; s++) {
            if (seqIdsOfToken[s] < 0) {
                throw new IllegalArgumentException("sequence id " + seqIdsOfToken[s] + " is negative");
            }
            seqIds.setAtIndex(ValueLayout.JAVA_INT, (long) i * maxSeqPerToken + s, seqIdsOfToken[s]);
        }
        outputs.set(ValueLayout.JAVA_BYTE, i, (byte) (output ? 1 : 0));
        size++;
        return i;
    }

    private void stagePositions(int i, int position) {
        if (position < 0) {
            throw new IllegalArgumentException("position " + position + " is negative");
        }
        positionsStaged[i] = position;
    }

    /** Marks whether entry {@code i}'s output (logits or embedding) is computed. */
    public synchronized Batch setOutput(int i, boolean output) {
        ensureChangeable();
        checkIndex(i);
        outputs.set(ValueLayout.JAVA_BYTE, i, (byte) (output ? 1 : 0));
        return this;
    }

    public boolean isOutput(int i) {
        checkIndex(i);
        return outputs.get(ValueLayout.JAVA_BYTE, i) != 0;
    }

    public int token(int i) {
        checkIndex(i);
        if (embeddingSize != 0) {
            throw new IllegalStateException("this batch holds embeddings, not tokens");
        }
        return tokens.getAtIndex(ValueLayout.JAVA_INT, i);
    }

    /** The (first) position of entry i. */
    public int position(int i) {
        checkIndex(i);
        return positionsStaged[i * positionsPerToken];
    }

    public int sequenceCount(int i) {
        checkIndex(i);
        return seqCounts.getAtIndex(ValueLayout.JAVA_INT, i);
    }

    public int sequence(int i, int k) {
        checkIndex(i);
        if (k < 0 || k >= sequenceCount(i)) {
            throw new IndexOutOfBoundsException("sequence " + k + " of entry " + i);
        }
        return seqIds.getAtIndex(ValueLayout.JAVA_INT, (long) i * maxSeqPerToken + k);
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return capacity;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public boolean holdsEmbeddings() {
        return embeddingSize != 0;
    }

    public int embeddingSize() {
        return embeddingSize;
    }

    public int positionsPerToken() {
        return positionsPerToken;
    }

    public synchronized Batch clear() {
        ensureChangeable();
        size = 0;
        return this;
    }

    /** The llama_batch struct for llama_decode, positions laid out dimension-major as llama.cpp expects. */
    MemorySegment nativeBatch() {
        ensureOpen();
        for (int d = 0; d < positionsPerToken; d++) {
            for (int i = 0; i < size; i++) {
                positions.setAtIndex(ValueLayout.JAVA_INT, (long) d * size + i, positionsStaged[i * positionsPerToken + d]);
            }
        }
        llama_batch.n_tokens(struct, size);
        llama_batch.token(struct, tokens);
        llama_batch.embd(struct, embeddings);
        llama_batch.pos(struct, positions);
        llama_batch.n_seq_id(struct, seqCounts);
        llama_batch.seq_id(struct, seqIdPointers);
        llama_batch.logits(struct, outputs);
        return struct;
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("entry " + i + " of a batch of " + size);
        }
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("this batch is closed");
        }
    }

    /**
     * Marks the batch as handed to llama.cpp by {@code user} (a decode): until {@link #unpin()} it
     * cannot be changed or closed, from any thread, so what was checked is what llama.cpp reads.
     */
    synchronized void pin(String user) {
        ensureOpen();
        if (pinnedBy != null) {
            throw new IllegalStateException("this batch is being decoded by " + pinnedBy + "; a batch feeds one decode at a time");
        }
        pinnedBy = user + " on thread '" + Thread.currentThread().getName() + "'";
    }

    synchronized void unpin() {
        pinnedBy = null;
    }

    private void ensureChangeable() {
        ensureOpen();
        if (pinnedBy != null) {
            throw new IllegalStateException("cannot change or close this batch while " + pinnedBy + " decodes it");
        }
    }

    /** Frees the batch's memory; refused while a decode reads it. Idempotent. */
    @Override
    public synchronized void close() {
        if (open && pinnedBy != null) {
            ensureChangeable();
        }
        if (open) {
            open = false;
            arena.close();
        }
    }
}
