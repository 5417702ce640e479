package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds which option of a multiple-choice question (MMLU, PMC-VQA, MMBench, ...) a generated answer
 * chose. Options are lettered A, B, C, ... in order. The rules, tried in this order; the first that
 * decides wins:
 *
 * <ol>
 *   <li><b>Bare letter</b>: the whole answer is one letter, decorations aside: "B", "b", "(B)",
 *       "B.", "[B]", "**B**". A letter past the last option gives no answer.</li>
 *   <li><b>Answer phrase</b>: "answer" followed by an optional "is", ":" and "option", then a
 *       capital letter or a bracketed letter of either case: "Answer: B", "The correct answer is
 *       (C).", "answer is option D". The first such phrase counts. Then the same with "option" or
 *       "choice" ("Option B"); phrases naming different letters make the answer ambiguous.</li>
 *   <li><b>Labels</b>: the answer starts with "(B)", "B.", "B)" or "B:" (then a space or the end),
 *       or has "(B)" anywhere; labels naming different letters make it ambiguous.</li>
 *   <li><b>Option text</b>: the {@link TextNormalization#squad normalised} answer equals the text
 *       of exactly one option (a label such as "A." or "(A)" in front of the option text is ignored),
 *       else contains the text of exactly one option as whole words, not counting options whose text
 *       is part of another contained option's text ("dark red" wins over "red").</li>
 *   <li><b>Standalone letter</b>: a capital letter standing alone as a word ("I think it is B"),
 *       one distinct in-range letter only; "I" and an "A" followed by a lower-case word are read as
 *       English words, not options.</li>
 * </ol>
 *
 * An ambiguous rule ends the search. Ambiguous or unanswerable generations give no option (scored
 * as wrong), never a guess.
 */
public final class OptionExtractor {
    private static final Pattern BARE = Pattern.compile("^[\\s\\p{P}\\p{S}]*([A-Za-z])[\\s\\p{P}\\p{S}]*$");
    private static final String LETTER = "(?:\\(([A-Za-z])\\)|\\[([A-Za-z])\\]|([A-Z])(?![\\p{L}\\p{N}]))";
    private static final Pattern ANSWER_PHRASE = Pattern.compile(
            "(?i:answer)(?:\\s+(?i:is))?[\\s:：*]*(?:(?i:option|choice)\\s+)?" + LETTER);
    private static final Pattern OPTION_PHRASE = Pattern.compile("(?i:option|choice)[\\s:：*]*" + LETTER);
    private static final Pattern LEADING = Pattern.compile("^\\s*(?:\\(([A-Za-z])\\)|([A-Z])[.):])(?:\\s|$)");
    private static final Pattern BRACKETED = Pattern.compile("\\(([A-Z])\\)");
    private static final Pattern STANDALONE = Pattern.compile("(?<![\\p{L}\\p{N}'’])([A-Z])(?![\\p{L}\\p{N}'’])");
    private static final Pattern ARTICLE_A = Pattern.compile("A\\s+\\p{Ll}");
    private static final Pattern OPTION_LABEL = Pattern.compile("^\\s*(?:\\(?[A-Za-z]\\)|[A-Za-z][.:])\\s+");

    private OptionExtractor() {
    }

    /** The letter of option {@code index}: 0 → "A". */
    public static String letter(int index) {
        if (index < 0 || index >= 26) {
            throw new IndexOutOfBoundsException("option index out of range A-Z: " + index);
        }
        return String.valueOf((char) ('A' + index));
    }

    /**
     * The index of the chosen option, or empty when no rule decides.
     *
     * @param generated the model's answer
     * @param choices   the option texts, in letter order (1 to 26 of them)
     */
    public static OptionalInt extract(String generated, List<String> choices) {
        int n = choices.size();
        if (n == 0 || n > 26) {
            throw new IllegalArgumentException("a multiple-choice question needs 1 to 26 options, got " + n);
        }
        Matcher m = BARE.matcher(generated);
        if (m.matches()) {
            return inRange(m.group(1), n);
        }
        m = ANSWER_PHRASE.matcher(generated);
        while (m.find()) {
            OptionalInt r = inRange(firstGroup(m), n);
            if (r.isPresent()) {
                return r;
            }
        }
        Set<Integer> named = letters(OPTION_PHRASE, generated, n, false);
        if (named.size() > 1) {
            return OptionalInt.empty();
        }
        if (named.size() == 1) {
            return OptionalInt.of(named.iterator().next());
        }
        Set<Integer> bracketed = letters(BRACKETED, generated, n, false);
        m = LEADING.matcher(generated);
        if (m.find()) {
            OptionalInt r = inRange(firstGroup(m), n);
            if (r.isPresent()) {
                bracketed.add(r.getAsInt());
            }
        }
        if (bracketed.size() > 1) {
            return OptionalInt.empty();
        }
        if (bracketed.size() == 1) {
            return OptionalInt.of(bracketed.iterator().next());
        }
        OptionalInt r = byText(generated, choices);
        if (r.isPresent()) {
            return r;
        }
        Set<Integer> standalone = letters(STANDALONE, generated, n, true);
        return standalone.size() == 1 ? OptionalInt.of(standalone.iterator().next()) : OptionalInt.empty();
    }

    private static OptionalInt byText(String generated, List<String> choices) {
        String g = TextNormalization.squad(generated);
        List<String> texts = new ArrayList<>(choices.size());
        for (String c : choices) {
            texts.add(TextNormalization.squad(OPTION_LABEL.matcher(c).replaceFirst("")));
        }
        int equal = -1;
        for (int i = 0; i < texts.size(); i++) {
            if (!texts.get(i).isEmpty() && texts.get(i).equals(g)) {
                if (equal >= 0) {
                    return OptionalInt.empty();
                }
                equal = i;
            }
        }
        if (equal >= 0) {
            return OptionalInt.of(equal);
        }
        String padded = " " + g + " ";
        List<Integer> contained = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            if (!t.isEmpty() && padded.contains(" " + t + " ")) {
                contained.add(i);
            }
        }
        List<Integer> maximal = new ArrayList<>();
        for (int i : contained) {
            String t = " " + texts.get(i) + " ";
            boolean inside = false;
            for (int j : contained) {
                String u = " " + texts.get(j) + " ";
                if (j != i && u.length() > t.length() && u.contains(t)) {
                    inside = true;
                    break;
                }
            }
            if (!inside) {
                maximal.add(i);
            }
        }
        return maximal.size() == 1 ? OptionalInt.of(maximal.get(0)) : OptionalInt.empty();
    }

    /** The distinct in-range options that the letters matched by {@code p} name. */
    private static Set<Integer> letters(Pattern p, String generated, int n, boolean skipEnglishWords) {
        Set<Integer> found = new LinkedHashSet<>();
        Matcher m = p.matcher(generated);
        while (m.find()) {
            String l = firstGroup(m);
            if (skipEnglishWords && (l.equals("I")
                    || l.equals("A") && ARTICLE_A.matcher(generated).region(m.start(), generated.length()).lookingAt())) {
                continue;
            }
            inRange(l, n).ifPresent(found::add);
        }
        return found;
    }

    private static String firstGroup(Matcher m) {
        for (int g = 1; g <= m.groupCount(); g++) {
            if (m.group(g) != null) {
                return m.group(g);
            }
        }
        throw new IllegalStateException("no letter group matched");
    }

    private static OptionalInt inRange(String letter, int n) {
        int i = Character.toUpperCase(letter.charAt(0)) - 'A';
        return i >= 0 && i < n ? OptionalInt.of(i) : OptionalInt.empty();
    }
}
