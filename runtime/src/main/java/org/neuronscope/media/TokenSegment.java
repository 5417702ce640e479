package org.neuronscope.media;

import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;
import org.neuronscope.model.Tokenizer;

import java.util.Arrays;

/** Vocabulary tokens; control tokens (chat template, media boundaries) are {@link Modality#SPECIAL}. */
final class TokenSegment implements Segment {
    private final int[] tokens;
    private final Modality[] modalities;

    TokenSegment(int[] tokens, Tokenizer tokenizer) {
        this.tokens = tokens.clone();
        this.modalities = new Modality[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            modalities[i] = tokenizer.isControl(tokens[i]) ? Modality.SPECIAL : Modality.TEXT;
        }
    }

    int[] tokens() {
        return tokens.clone();
    }

    @Override
    public int length() {
        return tokens.length;
    }

    @Override
    public int positionCount() {
        return tokens.length;
    }

    @Override
    public Modality modality(int entryInSegment) {
        return modalities[entryInSegment];
    }

    @Override
    public int decode(Session session, int seqId, int startPosition, int[] groups, boolean lastIsOutput, DecodeStep step) {
        int capacity = Math.min(session.batchSize(), tokens.length);
        int last = -1;
        try (Batch batch = Batch.ofTokens(capacity)) {
            for (int from = 0; from < tokens.length; from += capacity) {
                int to = Math.min(tokens.length, from + capacity);
                batch.clear();
                for (int i = from; i < to; i++) {
                    batch.add(tokens[i], startPosition + i, seqId, lastIsOutput && i == tokens.length - 1);
                }
                step.decode(batch, Arrays.copyOfRange(groups, from, to));
                last = to - from - 1;
            }
        }
        return last;
    }
}
