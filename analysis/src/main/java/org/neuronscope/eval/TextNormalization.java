package org.neuronscope.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The text normalisations the metrics of {@link Metrics} apply before comparing. Each is a pure
 * function, reproduced from the evaluation script it is named after.
 */
public final class TextNormalization {
    /** Python's {@code string.punctuation}: the 32 ASCII punctuation characters. */
    static final String ASCII_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    /** Any Unicode punctuation or symbol, except an apostrophe (handled separately). */
    private static final Pattern WER_PUNCTUATION = Pattern.compile("[\\p{P}\\p{S}&&[^'\u2019]]");
    /** An apostrophe that is not between two letters or digits ("don't" keeps it, "'quoted'" loses it). */
    private static final Pattern LOOSE_APOSTROPHE =
            Pattern.compile("(?<![\\p{L}\\p{N}])['\u2019]|['\u2019](?![\\p{L}\\p{N}])");

    private TextNormalization() {
    }

    /**
     * SQuAD v1.1 {@code normalize_answer} (official {@code evaluate-v1.1.py}), in its order: lower
     * case; delete every ASCII punctuation character ({@code string.punctuation}); replace the
     * articles "a", "an", "the" (whole words) by a space; split on whitespace and join with single
     * spaces (which also trims). Non-ASCII punctuation is kept, as in the original. Used by
     * {@link Metrics#exactMatch} and {@link Metrics#substringMatch}.
     */
    public static String squad(String s) {
        String lower = s.toLowerCase(Locale.ROOT);
        StringBuilder sb = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if (ASCII_PUNCTUATION.indexOf(c) < 0) {
                sb.append(c);
            }
        }
        String noArticles = ARTICLES.matcher(sb).replaceAll(" ");
        return String.join(" ", words(noArticles));
    }

    /**
     * The DocVQA / ST-VQA ANLS preprocessing: {@code ' '.join(s.strip().lower().split())} — lower
     * case, whitespace runs collapsed to one space, trimmed. Punctuation is kept.
     */
    public static String anls(String s) {
        return String.join(" ", words(s.toLowerCase(Locale.ROOT)));
    }

    /**
     * Word-error-rate normalisation, for LibriSpeech-style references (upper case, no punctuation,
     * apostrophes inside words such as "DON'T"): lower case; every Unicode punctuation or symbol
     * character becomes a space, except an apostrophe (' or ’) between two letters or digits, which is
     * kept as ' ; then split on whitespace. Numbers are not spelled out and no spelling variants are
     * unified (unlike Whisper's English normaliser), so "twenty" and "20" differ.
     */
    public static List<String> werWords(String s) {
        String lower = s.toLowerCase(Locale.ROOT);
        String noLoose = LOOSE_APOSTROPHE.matcher(lower).replaceAll(" ");
        String noPunct = WER_PUNCTUATION.matcher(noLoose).replaceAll(" ").replace('\u2019', '\'');
        return words(noPunct);
    }

    /** Python's {@code str.split()}: the non-empty runs between Unicode whitespace. */
    static List<String> words(CharSequence s) {
        List<String> out = new ArrayList<>();
        for (String w : WHITESPACE.split(s)) {
            if (!w.isEmpty()) {
                out.add(w);
            }
        }
        return out;
    }
}
