package org.neuronscope.media;

import org.neuronscope.eval.Sample;
import org.neuronscope.model.Tokenizer;
import org.neuronscope.model.Tokenizer.ChatMessage;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a sample becomes prompt text: the user turn is the question, then the lettered options of a
 * multiple-choice question and an instruction; media markers go before the question (one per media
 * item, images then audio then video) unless the question already holds them. The conversation is
 * then formatted with a chat template and ends with the assistant's turn.
 *
 * @param chatTemplate      null for the model's own template, a template text or built-in name
 *                          ("chatml", "llama3", ...), or {@link #RAW} for no template at all
 * @param choiceInstruction appended after the options of a multiple-choice question
 * @param defaultSystem     the system message of samples that have none: null for none,
 *                          {@link #TEMPLATE_DEFAULT_SYSTEM} for the one the model's template writes when a
 *                          conversation has none (as Hugging Face's rendering of Qwen's templates does, and
 *                          llama.cpp's built-in formatting does not), or a text
 * @param appendAnswer      end the prompt with the sample's reference answer after the assistant prefix
 *                          (the correct option's letter for multiple choice), as MANU's statistics see
 *                          question and answer; samples without one end as usual
 */
public record PromptFormat(String chatTemplate, String choiceInstruction, String defaultSystem, boolean appendAnswer) {
    /** Use no chat template: the prompt is the system text, a blank line, and the user text. */
    public static final String RAW = "raw";
    /** {@link #defaultSystem()}: the template's own default system message, if it has one. */
    public static final String TEMPLATE_DEFAULT_SYSTEM = "template";
    /** A ChatML system turn written as a literal (a newline or an escaped one after "system"), as Qwen's templates write their default. */
    private static final Pattern CHATML_SYSTEM = Pattern.compile("<\\|im_start\\|>system(?:\n|\\\\n)([^<>{}'\"]+?)<\\|im_end\\|>");

    /** A format without a default system message, ending with the assistant prefix. */
    public PromptFormat(String chatTemplate, String choiceInstruction) {
        this(chatTemplate, choiceInstruction, null, false);
    }

    /** This format with {@code system} as the system message of samples that have none (see {@link #defaultSystem()}). */
    public PromptFormat withDefaultSystem(String system) {
        return new PromptFormat(chatTemplate, choiceInstruction, system, appendAnswer);
    }

    /** This format with or without the reference answer after the assistant prefix (see {@link #appendAnswer()}). */
    public PromptFormat withAnswerAppended(boolean append) {
        return new PromptFormat(chatTemplate, choiceInstruction, defaultSystem, append);
    }

    /**
     * The system message a chat template writes when the conversation has none: the text of a literal
     * ChatML system turn in the template (Qwen2, Qwen2-VL, Qwen2.5: "You are a helpful assistant." and
     * the like). Empty if the template has no such literal.
     */
    public static Optional<String> templateDefaultSystem(String template) {
        if (template == null) {
            return Optional.empty();
        }
        Matcher m = CHATML_SYSTEM.matcher(template);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

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
        String system = sample.system() != null ? sample.system() : defaultSystemFor(tokenizer);
        String answer = appendAnswer ? answer(sample) : "";
        if (RAW.equals(chatTemplate)) {
            return (system == null ? user : system + "\n\n" + user) + (answer.isEmpty() ? "" : "\n" + answer);
        }
        List<ChatMessage> messages = new ArrayList<>();
        if (system != null) {
            messages.add(new ChatMessage("system", system));
        }
        messages.add(new ChatMessage("user", user));
        return tokenizer.applyChatTemplate(chatTemplate, messages, true) + answer;
    }

    /** The text {@link #appendAnswer()} appends: the first reference answer, or the correct option's letter; "" if none. */
    static String answer(Sample sample) {
        if (sample.isMultipleChoice()) {
            return sample.answerIndex() == Sample.NO_ANSWER ? "" : sample.answerLetter();
        }
        return sample.answers().isEmpty() ? "" : sample.answers().getFirst();
    }

    private String defaultSystemFor(Tokenizer tokenizer) {
        if (!TEMPLATE_DEFAULT_SYSTEM.equals(defaultSystem)) {
            return defaultSystem;
        }
        if (RAW.equals(chatTemplate)) {
            return null;
        }
        // a template given as text is searched; a built-in name has no text, and the model's own is read from the model
        String text = chatTemplate != null && chatTemplate.contains("{") ? chatTemplate
                : chatTemplate == null ? tokenizer.chatTemplate().orElse(null) : null;
        return templateDefaultSystem(text).orElse(null);
    }

    /** True when the formatted text should get the tokenizer's BOS (raw prompts; templates carry their own). */
    boolean addSpecial() {
        return RAW.equals(chatTemplate);
    }
}
