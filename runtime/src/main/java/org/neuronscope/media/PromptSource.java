package org.neuronscope.media;

import org.neuronscope.eval.Sample;

/**
 * Turns a dataset sample (system prompt, question, media files) into a {@link Prompt} for one model:
 * {@link TextPrompts} for text-only models, {@link MultimodalPrompts} for a model with a projector.
 */
public interface PromptSource {
    /** Formats, tokenizes (and for media, preprocesses) a sample. The caller closes the result. */
    Prompt prepare(Sample sample);
}
