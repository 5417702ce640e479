package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One evaluation sample. Immutable; lists and maps are unmodifiable copies.
 *
 * @param id          unique within its dataset
 * @param prompt      the user prompt (the question)
 * @param system      the system prompt, or null
 * @param images      image files (absolute or relative to the working directory; a dataset file's
 *                    relative paths are resolved against the file's directory)
 * @param audio       audio files
 * @param video       video files
 * @param answers     accepted reference answers; for multiple choice, the text of the correct
 *                    option (empty when the answer is unknown)
 * @param choices     option texts of a multiple-choice question, lettered A, B, ... in order; empty
 *                    for an open question
 * @param answerIndex index of the correct option, or {@link #NO_ANSWER}
 * @param labels      free labels (domain, language, split, ...) in file order
 */
public record Sample(String id, String prompt, String system, List<Path> images, List<Path> audio, List<Path> video,
                     List<String> answers, List<String> choices, int answerIndex, Map<String, String> labels) {
    /** {@link #answerIndex()} of a sample without a known correct option. */
    public static final int NO_ANSWER = -1;

    public Sample {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("a sample needs a non-blank id");
        }
        if (prompt == null) {
            throw new IllegalArgumentException("sample " + id + " has no prompt");
        }
        images = List.copyOf(images);
        audio = List.copyOf(audio);
        video = List.copyOf(video);
        answers = List.copyOf(answers);
        choices = List.copyOf(choices);
        if (choices.size() > 26) {
            throw new IllegalArgumentException("sample " + id + " has " + choices.size() + " choices, at most 26 (A-Z)");
        }
        if (answerIndex != NO_ANSWER && (answerIndex < 0 || answerIndex >= choices.size())) {
            throw new IllegalArgumentException("sample " + id + ": answer index " + answerIndex + " outside its " + choices.size() + " choices");
        }
        Map<String, String> copy = new LinkedHashMap<>();
        labels.forEach((k, v) -> copy.put(requireNonNull(k, id), requireNonNull(v, id)));
        labels = Collections.unmodifiableMap(copy);
    }

    /** An open text question with reference answers and no media, system prompt or labels. */
    public static Sample text(String id, String prompt, List<String> answers) {
        return new Sample(id, prompt, null, List.of(), List.of(), List.of(), answers, List.of(), NO_ANSWER, Map.of());
    }

    /** A multiple-choice text question; {@code answers} becomes the correct option's text. */
    public static Sample multipleChoice(String id, String prompt, List<String> choices, int answerIndex) {
        return new Sample(id, prompt, null, List.of(), List.of(), List.of(),
                answerIndex >= 0 && answerIndex < choices.size() ? List.of(choices.get(answerIndex)) : List.of(),
                choices, answerIndex, Map.of());
    }

    private static String requireNonNull(String s, String id) {
        if (s == null) {
            throw new IllegalArgumentException("sample " + id + " has a null label key or value");
        }
        return s;
    }

    public boolean isMultipleChoice() {
        return !choices.isEmpty();
    }

    /** The correct option's letter ("A" for index 0), or null. */
    public String answerLetter() {
        return answerIndex == NO_ANSWER ? null : OptionExtractor.letter(answerIndex);
    }

    /** A label's value, or null. */
    public String label(String name) {
        return labels.get(name);
    }

    /** Whether the sample has any image, audio or video. */
    public boolean hasMedia() {
        return !images.isEmpty() || !audio.isEmpty() || !video.isEmpty();
    }

    /** All media files: images, then audio, then video. */
    public List<Path> media() {
        List<Path> all = new ArrayList<>(images);
        all.addAll(audio);
        all.addAll(video);
        return List.copyOf(all);
    }

    /** A copy with other labels. */
    public Sample withLabels(Map<String, String> newLabels) {
        return new Sample(id, prompt, system, images, audio, video, answers, choices, answerIndex, newLabels);
    }
}
