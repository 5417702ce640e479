package org.neuronscope.media;

import java.util.Locale;

/**
 * Where a position entering the language model came from (docs/METHODS.md §2, MINER's modality
 * separation). {@code SPECIAL} marks chat-template and media-boundary tokens (control tokens of the
 * vocabulary); the derived groupings {@code special_text} (text ∪ special) and {@code prompt} (all)
 * are unions of these, see {@link ModalityGrouping}.
 */
public enum Modality {
    TEXT, SPECIAL, IMAGE, AUDIO, VIDEO;

    /** The group name used in statistics and neuron sets: the lower-case constant name. */
    public String groupName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** True for positions fed as embeddings from a projector rather than as vocabulary tokens. */
    public boolean isMedia() {
        return this == IMAGE || this == AUDIO || this == VIDEO;
    }
}
