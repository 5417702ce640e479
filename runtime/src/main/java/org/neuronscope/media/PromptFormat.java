package org.neuronscope.media;

import org.neuronscope.eval.Sample;
import org.neuronscope.model.Tokenizer;
import org.neuronscope.model.Tokenizer.ChatMessage;

import java.util.ArrayList;
import java.util.List;

/**
 * How a sample becomes prompt text: the user turn is the question, then the lettered options of a
 * multiple-choice question and an instruction; media markers go before the question (one per media
 * item, images then audio then video) unless the question already holds them. The conversation is
 * then formatted with a chat template and ends with the assistant's turn.
 *
 * @param chatTemplate      null for the model's own template, a template text or built-in name
 *                          ("chatml", "llama3", ...), or {@link #RAW} for no template at all
 * @param choiceInstruction appended after the options of a multiple-choice question
 */
public record PromptFormat(String chatTemplate, String choiceInstruction) {
    /** Use no chat template: the prompt is the system text, a blank line, and the user text. */
    public static final String RAW = "raw";

    /** The model's chat template and "Answer with the option's letter from the given choices directly." */
    public static PromptFormat chat() {
        return new PromptFormat(null, "Answer with the option's letter from the given choices directly.");
    }

    /** No chat template (base models). */
    public static PromptFormat raw() {
        return new PromptFormat(RAW, "Answer:");
    }

    /** The user turn of a sample; {@code marker} is the media marker, or null for a text-only model. */
    public String userText(Sample sample, String marker) {
        StringBuilder sb = new StringBuilder();
        int mediaCount = sample.images().size() + sample.audio().size() + sample.video().size();
        if (marker != null && mediaCount > 0 && !sample.prompt().contains(marker)) {
            sb.append(String.valueOf(marker).repeat(mediaCount)).append('\n');
        }
        sb.append(sample.prompt());
        if (sample.isMultipleChoice()) {
            for (int i = 0; i < sample.choices().size(); i++) {
                sb.append('\n').append((char) ('A' + i)).append(". ").append(sample.choices().get(i));
            }
            if (choiceInstruction != null && !choiceInstruction.isEmpty()) {
                sb.append('\n').append(choiceInstruction);
            }
        }
        return sb.toString();
    }

    /** The whole prompt text of a sample, formatted for {@code tokenizer}'s model. */
    public String format(Tokenizer tokenizer, Sample sample, String marker) {
        String user = userText(sample, marker);
        if (RAW.equals(chatTemplate)) {
            return sample.system() == null ? user : sample.system() + "\n\n" + user;
        }
        List<ChatMessage> messages = new ArrayList<>();
        if (sample.system() != null) {
            messages.add(new ChatMessage("system", sample.system()));
        }
        messages.add(new ChatMessage("user", user));
        return tokenizer.applyChatTemplate(chatTemplate, messages, true);
    }

    /** True when the formatted text should get the tokenizer's BOS (raw prompts; templates carry their own). */
    boolean addSpecial() {
        return RAW.equals(chatTemplate);
    }
}
