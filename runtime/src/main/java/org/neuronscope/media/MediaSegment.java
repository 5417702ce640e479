package org.neuronscope.media;


import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.mtmd_decoder_pos;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.internal.NativeHandle;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The embeddings of one media chunk (an image, two merged video frames, an audio clip). Decoding
 * encodes the chunk with the projector, then feeds the embeddings with the positions mtmd assigns
 * (M-RoPE: 2-D positions for images), with causal attention off where the model wants it (Gemma 3).
 */
final class MediaSegment implements Segment {
    private final Projector projector;
    private final MemorySegment chunk;   // owned by the prompt's mtmd_input_chunks
    private final Modality modality;
    private final boolean image;
    private final int nTokens;
    private final int nPos;

    MediaSegment(Projector projector, MemorySegment chunk, Modality modality) {
        this.projector = projector;
        this.chunk = chunk;
        this.modality = modality;
        this.image = neuronscope_h.mtmd_input_chunk_get_type(chunk) == neuronscope_h.MTMD_INPUT_CHUNK_TYPE_IMAGE();
        this.nTokens = Math.toIntExact(neuronscope_h.mtmd_input_chunk_get_n_tokens(chunk));
        this.nPos = neuronscope_h.mtmd_input_chunk_get_n_pos(chunk);
    }

    @Override
    public int length() {
        return nTokens;
    }

    @Override
    public int positionCount() {
        return nPos;
    }

    @Override
    public Modality modality(int entryInSegment) {
        return modality;
    }

    /** The embeddings mtmd produces for this chunk (nTokens × width, row-major). */
    float[] encode() {
        return projector.encodeToArray(chunk, nTokens);
    }

    /** Positions of entry i: {t, y, x, z} with M-RoPE (mtmd's layout), else {startPosition + i}. */
    int[][] positions(int startPosition) {
        int[][] p = new int[nTokens][];
        if (!projector.usesMrope()) {
            for (int i = 0; i < nTokens; i++) {
                p[i] = new int[] {startPosition + i};
            }
        } else if (image) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = mtmd_decoder_pos.allocateArray(nTokens, arena);
                MemorySegment tokens = neuronscope_h.mtmd_input_chunk_get_tokens_image(chunk);
                neuronscope_h.mtmd_helper_image_get_decoder_pos(tokens, startPosition, out);
                for (int i = 0; i < nTokens; i++) {
                    MemorySegment d = mtmd_decoder_pos.asSlice(out, i);
                    p[i] = new int[] {mtmd_decoder_pos.t(d), mtmd_decoder_pos.y(d), mtmd_decoder_pos.x(d), mtmd_decoder_pos.z(d)};
                }
            }
        } else {
            for (int i = 0; i < nTokens; i++) {
                int q = startPosition + i;
                p[i] = new int[] {q, q, q, q};
            }
        }
        return p;
    }

    @Override
    public int decode(Session session, int seqId, int startPosition, int[] groups, boolean lastIsOutput, DecodeStep step) {
        boolean nonCausal = projector.shared(ctx -> neuronscope_h.mtmd_decode_use_non_causal(ctx, chunk));
        int capacity = Math.min(session.batchSize(), nTokens);
        if (nonCausal && nTokens > session.params().ubatchSize()) {
            throw new IllegalArgumentException("this model attends to a " + modality.groupName() + " chunk of " + nTokens
                    + " embeddings bidirectionally, so the whole chunk must fit one micro-batch; the session's is "
                    + session.params().ubatchSize() + " (raise SessionParams ubatchSize and batchSize)");
        }
        int width = projector.embeddingSize();
        int[][] positions = positions(startPosition);
        int last = -1;
        try (Arena arena = Arena.ofConfined();
             Batch batch = Batch.ofEmbeddings(capacity, width, projector.usesMrope() ? 4 : 1)) {
            MemorySegment embd = arena.allocate(ValueLayout.JAVA_FLOAT, (long) nTokens * width);
            projector.encode(chunk, nTokens, embd);
            if (nonCausal) {
                NativeHandle.of(session).exclusive("switch causal attention", c -> { neuronscope_h.llama_set_causal_attn(c, false); return null; });
            }
            try {
                for (int from = 0; from < nTokens; from += capacity) {
                    int to = Math.min(nTokens, from + capacity);
                    batch.clear();
                    for (int i = from; i < to; i++) {
                        batch.addEmbedding(embd, (long) i * width, positions[i], seqId, lastIsOutput && i == nTokens - 1);
                    }
                    step.decode(batch, Arrays.copyOfRange(groups, from, to));
                    last = to - from - 1;
                }
            } finally {
                if (nonCausal) {
                    NativeHandle.of(session).exclusive("switch causal attention", c -> { neuronscope_h.llama_set_causal_attn(c, true); return null; });
                }
            }
        }
        return last;
    }
}
