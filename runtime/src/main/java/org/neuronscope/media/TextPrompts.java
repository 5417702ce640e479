package org.neuronscope.media;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.Sample;
import org.neuronscope.model.Model;
import org.neuronscope.model.Tokenizer;

import java.util.List;

/** Prompts for a text-only model: formatted, tokenized with special tokens parsed, labelled text/special. */
public final class TextPrompts implements PromptSource {
    private final Model model;
    private final PromptFormat format;

    public TextPrompts(Model model, PromptFormat format) {
        this.model = model;
        this.format = format;
    }

    @Override
    public Prompt prepare(Sample sample) {
        if (sample.hasMedia()) {
            throw new IllegalArgumentException("sample " + sample.id() + " has media but the model " + model.path().getFileName()
                    + " was opened without a projector (mmproj); use MultimodalPrompts");
        }
        return ofText(format.format(model.tokenizer(), sample, null), format.addSpecial());
    }

    /** A prompt from already formatted text (special tokens such as {@code <|im_start|>} are parsed). */
    public Prompt ofText(String text, boolean addSpecial) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        Tokenizer tokenizer = model.tokenizer();
        int[] tokens = tokenizer.tokenize(text, addSpecial, true);
        if (tokens.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        return new SegmentedPrompt(List.of(new TokenSegment(tokens, tokenizer)), null);
    }
}
