package org.neuronscope.model;


import org.neuronscope.NeuronScopeException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Generates text on a session: decodes a prompt, then samples tokens one at a time until an
 * end-of-generation token, a stop string or the token limit. Streaming through a {@link TokenListener}.
 */
public final class Generator {
    private Generator() {
    }

    /** Receives each generated token as it is produced; return false to stop. */
    @FunctionalInterface
    public interface TokenListener {
        boolean onToken(int token, String piece);
    }

    /** The outcome of a generation. */
    public record Result(int[] tokens, String text, StopReason stopReason) {
    }

    public enum StopReason { END_OF_GENERATION, MAX_TOKENS, STOP_STRING, LISTENER }

    /**
     * Generates at most {@code maxTokens} tokens after {@code prompt} in sequence {@code seqId},
     * starting at position {@code startPosition} (the prompt's first position).
     */
    public static Result generate(Session session, Sampler sampler, int[] prompt, int seqId, int startPosition, int maxTokens,
                                  String[] stopStrings, TokenListener listener) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (maxTokens < 0) {
            throw new IllegalArgumentException("maxTokens must not be negative");
        }
        int chunk = session.batchSize();
        int pos = startPosition;
        int last = -1;
        try (Batch batch = Batch.ofTokens(chunk)) {
            for (int start = 0; start < prompt.length; start += chunk) {
                batch.clear();
                int end = Math.min(prompt.length, start + chunk);
                for (int i = start; i < end; i++) {
                    batch.add(prompt[i], pos++, seqId, i == prompt.length - 1);
                }
                session.decode(batch);
                last = batch.size() - 1;
            }
        }
        return continueAfter(session, sampler, seqId, pos, last, maxTokens, stopStrings, listener);
    }

    /**
     * Generates after a prompt that was already decoded into {@code seqId} (for example a multimodal
     * {@code Prompt}, whose next position differs from its length under M-RoPE): samples from the
     * last decode's output at {@code lastBatchIndex}, then feeds each token at {@code nextPosition},
     * {@code nextPosition + 1}, ...
     */
    public static Result continueAfter(Session session, Sampler sampler, int seqId, int nextPosition, int lastBatchIndex, int maxTokens,
                                       String[] stopStrings, TokenListener listener) {
        if (maxTokens < 0) {
            throw new IllegalArgumentException("maxTokens must not be negative");
        }
        Tokenizer tokenizer = session.model().tokenizer();
        int[] out = new int[maxTokens];
        int n = 0;
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        StopReason reason = StopReason.MAX_TOKENS;
        try (Batch batch = Batch.ofTokens(1)) {
            int pos = nextPosition;
            int last = lastBatchIndex;
            while (n < maxTokens) {
                int token = sampler.sample(session, last);
                if (tokenizer.isEndOfGeneration(token)) {
                    reason = StopReason.END_OF_GENERATION;
                    break;
                }
                out[n++] = token;
                byte[] piece = tokenizer.pieceBytes(token, false);
                text.writeBytes(piece);
                String sofar = text.toString(StandardCharsets.UTF_8);
                if (listener != null && !listener.onToken(token, new String(piece, StandardCharsets.UTF_8))) {
                    reason = StopReason.LISTENER;
                    break;
                }
                if (stopStrings != null && Arrays.stream(stopStrings).anyMatch(sofar::endsWith)) {
                    reason = StopReason.STOP_STRING;
                    break;
                }
                if (n == maxTokens) {
                    break;
                }
                batch.clear();
                batch.add(token, pos++, seqId, true);
                session.decode(batch);
                last = 0;
            }
        }
        return new Result(Arrays.copyOf(out, n), text.toString(StandardCharsets.UTF_8), reason);
    }

    /** Greedy-or-sampled generation from a fresh sequence 0 at position 0, no stop strings. */
    public static Result generate(Session session, Sampler sampler, int[] prompt, int maxTokens) {
        return generate(session, sampler, prompt, 0, 0, maxTokens, null, null);
    }
}
