package org.neuronscope.model;

/**
 * How a session (a llama.cpp context) is created.
 *
 * @param contextSize    tokens of KV cache (0: the model's training context)
 * @param batchSize      most tokens one {@link Session#decode} may take
 * @param ubatchSize     tokens computed at once (a batch is split into such micro-batches)
 * @param maxSequences   sequences that can live in the KV cache at once; with more than one they share
 *                       one KV buffer of {@code contextSize} cells (llama.cpp's unified KV cache), so
 *                       batches packed with several sequences run as full micro-batches
 * @param threads        threads for generation (single tokens)
 * @param threadsBatch   threads for prompt batches
 * @param flashAttention flash attention; must be OFF to observe attention probabilities
 * @param embeddings     compute embeddings (hidden states) instead of logits
 * @param cpuThreadPool  attach a ggml CPU thread pool to the context, as llama.cpp's own programs do
 *                       (default): its threads live as long as the session instead of being started
 *                       for every graph, which is what one-token generation steps pay for
 */
public record SessionParams(int contextSize, int batchSize, int ubatchSize, int maxSequences, int threads, int threadsBatch,
                            FlashAttention flashAttention, boolean embeddings, boolean cpuThreadPool) {

    public enum FlashAttention { AUTO, ON, OFF }

    public SessionParams {
        requireNonNegative("contextSize", contextSize);
        requirePositive("batchSize", batchSize);
        requirePositive("ubatchSize", ubatchSize);
        requirePositive("maxSequences", maxSequences);
        requirePositive("threads", threads);
        requirePositive("threadsBatch", threadsBatch);
        if (Math.max(threads, threadsBatch) > org.neuronscope.internal.CpuThreadPools.MAX_THREADS) { // ggml would fail an assertion
            throw new IllegalArgumentException("threads and threadsBatch must be at most " + org.neuronscope.internal.CpuThreadPools.MAX_THREADS
                    + " (ggml's limit), got "
                    + threads + " and " + threadsBatch);
        }
        if (ubatchSize > batchSize) {
            throw new IllegalArgumentException("ubatchSize (" + ubatchSize + ") must not exceed batchSize (" + batchSize + ")");
        }
        if (flashAttention == null) {
            throw new IllegalArgumentException("flashAttention must not be null");
        }
    }

    /** 4096 tokens of context, 512-token batches, one sequence, threads = available processors. */
    public static SessionParams defaults() {
        int cpus = Math.max(1, Runtime.getRuntime().availableProcessors());
        return new SessionParams(4096, 512, 512, 1, cpus, cpus, FlashAttention.AUTO, false, true);
    }

    public SessionParams withContextSize(int n) {
        return new SessionParams(n, batchSize, ubatchSize, maxSequences, threads, threadsBatch, flashAttention, embeddings, cpuThreadPool);
    }

    /** Sets both the batch and the micro-batch size. */
    public SessionParams withBatchSize(int n) {
        return new SessionParams(contextSize, n, n, maxSequences, threads, threadsBatch, flashAttention, embeddings, cpuThreadPool);
    }

    public SessionParams withUbatchSize(int n) {
        return new SessionParams(contextSize, batchSize, n, maxSequences, threads, threadsBatch, flashAttention, embeddings, cpuThreadPool);
    }

    public SessionParams withMaxSequences(int n) {
        return new SessionParams(contextSize, batchSize, ubatchSize, n, threads, threadsBatch, flashAttention, embeddings, cpuThreadPool);
    }

    /** Sets both thread counts. */
    public SessionParams withThreads(int n) {
        return new SessionParams(contextSize, batchSize, ubatchSize, maxSequences, n, n, flashAttention, embeddings, cpuThreadPool);
    }

    public SessionParams withFlashAttention(FlashAttention mode) {
        return new SessionParams(contextSize, batchSize, ubatchSize, maxSequences, threads, threadsBatch, mode, embeddings, cpuThreadPool);
    }

    /** Whether the session attaches a CPU thread pool (default true); off, ggml starts its threads for every graph. */
    public SessionParams withCpuThreadPool(boolean on) {
        return new SessionParams(contextSize, batchSize, ubatchSize, maxSequences, threads, threadsBatch, flashAttention, embeddings, on);
    }

    public SessionParams withEmbeddings(boolean on) {
        return new SessionParams(contextSize, batchSize, ubatchSize, maxSequences, threads, threadsBatch, flashAttention, on, cpuThreadPool);
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }

    private static void requireNonNegative(String name, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must not be negative, got " + value);
        }
    }
}
