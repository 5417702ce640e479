package org.neuronscope.media;

/**
 * A prompt as it enters the language model: entries (tokens or media embeddings) in order, each
 * labelled with its {@link Modality}. Owns whatever native memory holds it (mtmd chunks); close it.
 *
 * <p>Entries are not positions: with M-RoPE (Qwen2-VL) an image's embeddings share temporal positions
 * and the prompt uses {@link #positionCount()} positions for its {@link #length()} entries. Groups are
 * therefore always keyed by entry index, never by position.
 */
public interface Prompt extends AutoCloseable {
    /** Number of entries (KV cache cells) the prompt occupies. */
    int length();

    /** Number of positions the prompt advances a sequence by (equal to length() without M-RoPE). */
    int positionCount();

    /** The modality of entry {@code entry}. */
    Modality modality(int entry);

    /** The modalities of all entries, in order. */
    default Modality[] modalities() {
        Modality[] m = new Modality[length()];
        for (int i = 0; i < m.length; i++) {
            m[i] = modality(i);
        }
        return m;
    }

    /**
     * Decodes the whole prompt into sequence {@code seqId} of {@code session}, starting at position
     * {@code startPosition} (the sequence must hold exactly the positions before it). Entry i counts
     * for group {@code groupOfEntry[i]}; every decode goes through {@code step}. The last entry is
     * marked as an output, so its logits are available afterwards (entry {@code lastBatchIndex()} of
     * the last batch).
     *
     * @return the position after the prompt, where generation continues
     */
    int decode(org.neuronscope.model.Session session, int seqId, int startPosition, int[] groupOfEntry, DecodeStep step);

    /** Index, in the last decoded batch, of the prompt's last entry (whose logits were requested). */
    int lastBatchIndex();

    @Override
    void close();
}
