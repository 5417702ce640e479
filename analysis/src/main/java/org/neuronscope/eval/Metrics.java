package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

import java.util.Collection;
import java.util.List;

/**
 * Per-sample scoring functions of the usual (multimodal) benchmarks. All are pure functions of
 * their arguments. "References" are the accepted answers of a sample ({@link Sample#answers()}); a
 * prediction scores against the best-matching one.
 *
 * <ul>
 *   <li>{@link #exactMatch}: SQuAD-normalised equality (VQA-style short answers, SQuAD EM);</li>
 *   <li>{@link #substringMatch}: SQuAD-normalised whole-word containment (TextVQA / MSVD-QA style
 *       scoring of free-form generations);</li>
 *   <li>{@link #anls}: average normalised Levenshtein similarity (DocVQA, ST-VQA);</li>
 *   <li>{@link #wordErrors} / {@link #wordErrorRate}: word error rate (LibriSpeech);</li>
 *   <li>{@link #rougeL}: ROUGE-L F-measure (MLLMU-Bench's generation score, as {@code rouge_score} computes it);</li>
 *   <li>multiple choice: {@link OptionExtractor} and {@link #optionCorrect}.</li>
 * </ul>
 *
 * Aggregations over samples: {@link Accuracy} (with Wilson interval), {@link NllAggregator}
 * (mean NLL and perplexity per group), {@link MetricTable} (per-group values of several runs).
 */
public final class Metrics {
    /** The ANLS threshold of DocVQA and ST-VQA. */
    public static final double ANLS_THRESHOLD = 0.5;

    private Metrics() {
    }

    /**
     * 1 if {@link TextNormalization#squad SQuAD-normalised} prediction equals the normalised form of
     * any reference, else 0 (so "The Cat." matches "cat"). No references: 0.
     */
    public static double exactMatch(String prediction, Collection<String> references) {
        String p = TextNormalization.squad(prediction);
        for (String r : references) {
            if (p.equals(TextNormalization.squad(r))) {
                return 1;
            }
        }
        return 0;
    }

    /**
     * 1 if, after {@link TextNormalization#squad SQuAD normalisation}, some reference occurs in the
     * prediction as a run of whole words ("a red car" contains "red car"; "carpet" does not contain
     * "car"), else 0. References that normalise to the empty string never match. This is the lenient
     * scoring of free-form generations used for TextVQA and MSVD/MSRVTT-QA by generative models.
     */
    public static double substringMatch(String prediction, Collection<String> references) {
        String p = " " + TextNormalization.squad(prediction) + " ";
        for (String r : references) {
            String n = TextNormalization.squad(r);
            if (!n.isEmpty() && p.contains(" " + n + " ")) {
                return 1;
            }
        }
        return 0;
    }

    /** {@link #anls(String, Collection, double)} with the standard threshold 0.5. */
    public static double anls(String prediction, Collection<String> references) {
        return anls(prediction, references, ANLS_THRESHOLD);
    }

    /**
     * ANLS of one question (Biten et al., ST-VQA; DocVQA): both strings
     * {@link TextNormalization#anls preprocessed} (lower case, whitespace collapsed);
     * {@code NL = lev(p, r) / max(|p|, |r|)} in code points (0 when both are empty);
     * score {@code s = max over references of 1 − NL}; {@code s < threshold} counts as 0 (the
     * official script's test; the paper's {@code NL < τ} differs only at exactly NL = τ). No
     * references: 0. The dataset ANLS is the mean over questions.
     */
    public static double anls(String prediction, Collection<String> references, double threshold) {
        int[] p = TextNormalization.anls(prediction).codePoints().toArray();
        double best = 0;
        for (String r : references) {
            int[] g = TextNormalization.anls(r).codePoints().toArray();
            int length = Math.max(p.length, g.length);
            double nl = length == 0 ? 0 : (double) Levenshtein.distance(p, g) / length;
            best = Math.max(best, 1 - nl);
        }
        return best < threshold ? 0 : best;
    }

    /**
     * Word errors of one utterance: word-level Levenshtein distance (substitutions + deletions +
     * insertions) between the {@link TextNormalization#werWords normalised} words of hypothesis and
     * reference, and the reference's word count. Sum these over a corpus and take
     * {@link WordErrors#rate()} for the corpus WER, as LibriSpeech results are reported (not the mean
     * of per-utterance rates).
     */
    public static WordErrors wordErrors(String hypothesis, String reference) {
        List<String> h = TextNormalization.werWords(hypothesis);
        List<String> r = TextNormalization.werWords(reference);
        return new WordErrors(Levenshtein.distance(h, r), r.size());
    }

    /**
     * WER of one utterance, {@code edits / reference words} (may exceed 1). An empty reference has
     * WER 0 against an empty hypothesis and is otherwise undefined.
     *
     * @throws NeuronScopeException for an empty reference and a non-empty hypothesis
     */
    public static double wordErrorRate(String hypothesis, String reference) {
        return wordErrors(hypothesis, reference).rate();
    }

    /**
     * ROUGE-L F-measure of a prediction against its best-matching reference, as the {@code rouge_score}
     * package computes {@code rougeL} without stemming: both texts lower-cased, every run of characters
     * other than a–z and 0–9 a separator, then the longest common subsequence of the tokens:
     * P = LCS/|prediction|, R = LCS/|reference|, F = 2PR/(P+R); 0 if either has no token or nothing
     * is shared. Like {@code rouge_score}, it sees no token in a text without ASCII letters or digits.
     */
    public static double rougeL(String prediction, Collection<String> references) {
        List<String> p = rougeTokens(prediction);
        double best = 0;
        for (String r : references) {
            List<String> t = rougeTokens(r);
            if (p.isEmpty() || t.isEmpty()) {
                continue;
            }
            int lcs = lcs(p, t);
            if (lcs == 0) {
                continue;
            }
            double precision = (double) lcs / p.size();
            double recall = (double) lcs / t.size();
            best = Math.max(best, 2 * precision * recall / (precision + recall));
        }
        return best;
    }

    private static List<String> rougeTokens(String s) {
        String[] parts = s.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", " ").strip().split(" ");
        return parts.length == 1 && parts[0].isEmpty() ? List.of() : List.of(parts);
    }

    /** Length of the longest common subsequence, one row of the table at a time. */
    private static int lcs(List<String> a, List<String> b) {
        int[] prev = new int[b.size() + 1];
        int[] cur = new int[b.size() + 1];
        for (String x : a) {
            for (int j = 1; j <= b.size(); j++) {
                cur[j] = x.equals(b.get(j - 1)) ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.size()];
    }

    /**
     * Whether the option that {@link OptionExtractor#extract} finds in a generated answer is the
     * sample's correct option. False when no option can be extracted.
     *
     * @throws NeuronScopeException if the sample is not multiple choice with a known answer
     */
    public static boolean optionCorrect(String generated, Sample sample) {
        if (!sample.isMultipleChoice() || sample.answerIndex() < 0) {
            throw new IllegalArgumentException("sample " + sample.id() + " has no choices with a known answer");
        }
        var chosen = OptionExtractor.extract(generated, sample.choices());
        return chosen.isPresent() && chosen.getAsInt() == sample.answerIndex();
    }

    /**
     * Edit count and reference word count; they add up over a corpus.
     *
     * @param edits          word-level Levenshtein distance
     * @param referenceWords words in the reference
     */
    public record WordErrors(long edits, long referenceWords) {
        public static final WordErrors ZERO = new WordErrors(0, 0);

        public WordErrors {
            if (edits < 0 || referenceWords < 0) {
                throw new IllegalArgumentException("negative word counts: " + edits + ", " + referenceWords);
            }
        }

        public WordErrors plus(WordErrors o) {
            return new WordErrors(edits + o.edits, referenceWords + o.referenceWords);
        }

        /**
         * {@code edits / referenceWords}; 0 when both are 0.
         *
         * @throws NeuronScopeException when there are edits but no reference words
         */
        public double rate() {
            if (referenceWords == 0) {
                if (edits == 0) {
                    return 0;
                }
                throw new IllegalArgumentException("WER is undefined for an empty reference (" + edits + " inserted words)");
            }
            return (double) edits / referenceWords;
        }
    }
}
