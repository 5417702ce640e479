package org.neuronscope.experiments;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;
import org.neuronscope.model.Tokenizer;

/**
 * Log-likelihoods by teacher forcing: the probability the model gives a known continuation (a
 * reference answer, an option letter) after a prompt already decoded into a sequence, and the
 * perplexity of a text itself (LAPE's measure). Natural logarithms, computed in double precision
 * from the logits.
 */
public final class AnswerScoring {
    private AnswerScoring() {
    }

    /** {@code log softmax(logits)[token]}, in double precision with the max subtracted. */
    public static double logProb(float[] logits, int token) {
        if (token < 0 || token >= logits.length) {
            throw new IndexOutOfBoundsException("token " + token + " outside a vocabulary of " + logits.length);
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return logits[token] - max - Math.log(sum);
    }

    /**
     * The log-probability of each token of {@code continuation} given the sequence {@code seqId} so
     * far, whose last logits are {@code promptLogits} and whose next position is {@code nextPosition}.
     * The continuation is decoded (all but its last token) and then removed again, so the sequence is
     * left as it was and can be scored with another continuation.
     */
    public static double[] continuationLogProbs(Session session, int seqId, int nextPosition, float[] promptLogits, int[] continuation) {
        if (continuation.length == 0) {
            throw new IllegalArgumentException("an empty continuation has no likelihood");
        }
        double[] lp = new double[continuation.length];
        lp[0] = logProb(promptLogits, continuation[0]);
        int fed = continuation.length - 1; // the last token is only predicted, never fed
        int cap = Math.min(session.batchSize(), Math.max(1, fed));
        try (Batch batch = Batch.ofTokens(cap)) {
            for (int from = 0; from < fed; from += cap) {
                int to = Math.min(fed, from + cap);
                batch.clear();
                for (int i = from; i < to; i++) {
                    batch.add(continuation[i], nextPosition + i, seqId, true);
                }
                session.decode(batch);
                for (int i = from; i < to; i++) {
                    lp[i + 1] = logProb(session.logitsArray(i - from), continuation[i + 1]);
                }
            }
        } finally {
            if (fed > 0) {
                session.removeTokens(seqId, nextPosition, -1);
            }
        }
        return lp;
    }

    /** The tokens of an answer text as the model would produce them (no BOS, special tokens not parsed). */
    public static int[] answerTokens(Tokenizer tokenizer, String answer) {
        int[] t = tokenizer.tokenize(answer, false, false);
        if (t.length == 0) {
            throw new IllegalArgumentException("the answer '" + answer + "' has no tokens");
        }
        return t;
    }

    /**
     * The log-probability of every token of {@code text} but the first given the ones before it (the
     * tokenizer's BOS first where the model wants one), decoded alone into sequence {@code seqId}
     * from position 0 of an emptied memory. Empty for a text of one token.
     */
    public static double[] textLogProbs(Session session, int seqId, String text) {
        int[] tokens = session.model().tokenizer().tokenize(text, true, false);
        if (tokens.length > session.contextSize()) {
            throw new IllegalArgumentException("a text of " + tokens.length + " tokens does not fit the context of " + session.contextSize());
        }
        double[] lp = new double[Math.max(0, tokens.length - 1)];
        session.clearMemory();
        int cap = Math.min(session.batchSize(), Math.max(1, tokens.length));
        try (Batch batch = Batch.ofTokens(cap)) {
            for (int from = 0; from < tokens.length - 1; from += cap) {
                int to = Math.min(tokens.length - 1, from + cap);
                batch.clear();
                for (int i = from; i < to; i++) {
                    batch.add(tokens[i], i, seqId, true);
                }
                session.decode(batch);
                for (int i = from; i < to; i++) {
                    lp[i] = logProb(session.logitsArray(i - from), tokens[i + 1]);
                }
            }
        }
        return lp;
    }
}
