package org.neuronscope.eval;

import org.junit.jupiter.api.Test;
import org.neuronscope.NeuronScopeException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsTest {
    private static final double EPS = 1e-12;

    @Test
    void squadNormalisation() {
        assertEquals("cat", TextNormalization.squad("The Cat."));
        assertEquals("cat on mat", TextNormalization.squad("  A cat, on   the mat! "));
        assertEquals("theory", TextNormalization.squad("Theory"), "articles only as whole words");
        assertEquals("dont", TextNormalization.squad("Don't"), "punctuation deleted, not replaced by a space");
        assertEquals("12", TextNormalization.squad("1,2"));
        assertEquals("café", TextNormalization.squad("Café"));
        assertEquals("", TextNormalization.squad("The."));
    }

    @Test
    void exactMatch() {
        assertEquals(1, Metrics.exactMatch("The cat.", List.of("dog", "cat")));
        assertEquals(0, Metrics.exactMatch("a black cat", List.of("cat")));
        assertEquals(1, Metrics.exactMatch("New-York", List.of("newyork")));
        assertEquals(0, Metrics.exactMatch("cat", List.of()));
    }

    @Test
    void substringMatch() {
        assertEquals(1, Metrics.substringMatch("I think it is a red car.", List.of("Red car")));
        assertEquals(0, Metrics.substringMatch("There is a carpet", List.of("car")), "whole words only");
        assertEquals(1, Metrics.substringMatch("Stop", List.of("go", "STOP")));
        assertEquals(0, Metrics.substringMatch("anything", List.of("the")), "a reference normalising to empty never matches");
        assertEquals(0, Metrics.substringMatch("cat", List.of("black cat")));
    }

    @Test
    void anlsKnownCases() {
        // identical after lower-casing and whitespace collapsing
        assertEquals(1.0, Metrics.anls("  The  ANSWER ", List.of("the answer")), EPS);
        // lev("reciept","receipt") = 2, max length 7: 1 - 2/7
        assertEquals(1 - 2.0 / 7, Metrics.anls("reciept", List.of("receipt")), EPS);
        // lev("abcd","abxy") = 2 of 4: exactly 0.5 is kept
        assertEquals(0.5, Metrics.anls("abcd", List.of("abxy")), EPS);
        // lev("abcd","axyz") = 3 of 4: 0.25 < 0.5 -> 0
        assertEquals(0.0, Metrics.anls("abcd", List.of("axyz")), EPS);
        // best of several references: "1999" vs "1998" = 0.75, vs "in 1999" = 1 - 3/7
        assertEquals(0.75, Metrics.anls("1999", List.of("in 1999", "1998")), EPS);
        // punctuation counts: lev("$10.00","10.00") = 1 of 6
        assertEquals(1 - 1.0 / 6, Metrics.anls("$10.00", List.of("10.00")), EPS);
        assertEquals(1.0, Metrics.anls("", List.of("")), EPS);
        assertEquals(0.0, Metrics.anls("", List.of("x")), EPS);
        assertEquals(0.0, Metrics.anls("x", List.of()), EPS);
        // another threshold
        assertEquals(0.25, Metrics.anls("abcd", List.of("axyz"), 0.2), EPS);
    }

    @Test
    void wordErrorRate() {
        // deletion: reference 4 words, hypothesis misses one
        assertEquals(0.25, Metrics.wordErrorRate("the cat sat", "the cat sat down"), EPS);
        // insertion: the reference has 3 words
        assertEquals(1.0 / 3, Metrics.wordErrorRate("the cat sat down", "the cat sat"), EPS);
        // substitution
        assertEquals(1.0 / 3, Metrics.wordErrorRate("the dog sat", "the cat sat"), EPS);
        // LibriSpeech-style upper-case reference vs punctuated hypothesis: no error
        assertEquals(0.0, Metrics.wordErrorRate("Don't stop, Mister Holmes!", "DON'T STOP MISTER HOLMES"), EPS);
        // a curly apostrophe inside a word equals a straight one; quotes around words are dropped
        assertEquals(0.0, Metrics.wordErrorRate("'I don’t know'", "I DON'T KNOW"), EPS);
        // hyphens split words
        assertEquals(0.0, Metrics.wordErrorRate("well-known", "WELL KNOWN"), EPS);
        // can exceed 1
        assertEquals(2.0, Metrics.wordErrorRate("a b c d", "x y"), EPS);
        assertEquals(0.0, Metrics.wordErrorRate("", ""), EPS);
        assertThrows(IllegalArgumentException.class, () -> Metrics.wordErrorRate("hello", ""));
    }

    @Test
    void corpusWerSumsEditsAndWords() {
        Metrics.WordErrors total = Metrics.WordErrors.ZERO
                .plus(Metrics.wordErrors("the cat sat", "the cat sat down"))   // 1 of 4
                .plus(Metrics.wordErrors("hello", "hello world"))               // 1 of 2
                .plus(Metrics.wordErrors("a b c d", "a b c d"));                // 0 of 4
        assertEquals(new Metrics.WordErrors(2, 10), total);
        assertEquals(0.2, total.rate(), EPS, "corpus WER is 2/10, not the mean of 1/4, 1/2, 0");
    }

    @Test
    void wilsonInterval() {
        Accuracy.Interval half = new Accuracy(5, 10).wilson95();
        assertEquals(0.2365931, half.low(), 1e-6);
        assertEquals(0.7634069, half.high(), 1e-6);
        // 0 of 10: lower bound 0, upper z²/(n+z²)
        double z2 = Accuracy.Z95 * Accuracy.Z95;
        Accuracy.Interval none = new Accuracy(0, 10).wilson95();
        assertEquals(0.0, none.low(), EPS);
        assertEquals(z2 / (10 + z2), none.high(), 1e-12);
        Accuracy.Interval all = new Accuracy(10, 10).wilson95();
        assertEquals(10 / (10 + z2), all.low(), 1e-12);
        assertEquals(1.0, all.high(), EPS);
        // 81 of 263 (a common textbook example): [0.2553, 0.3662]
        Accuracy.Interval t = new Accuracy(81, 263).wilson95();
        assertEquals(0.2553, t.low(), 1e-4);
        assertEquals(0.3662, t.high(), 1e-4);
        assertTrue(t.contains(81.0 / 263));
        assertEquals(new Accuracy.Interval(0, 1), new Accuracy(0, 0).wilson95());
        assertTrue(Double.isNaN(new Accuracy(0, 0).value()));
        assertEquals(new Accuracy(2, 3), Accuracy.of(true, false, true));
        assertEquals(new Accuracy(3, 4), Accuracy.of(true, false, true).plus(true));
        assertThrows(IllegalArgumentException.class, () -> new Accuracy(3, 2));
    }

    @Test
    void nllAndPerplexityPerGroup() {
        NllAggregator agg = new NllAggregator()
                .add("text", new double[] {Math.log(0.5), Math.log(0.25)})
                .add("image", new float[] {(float) Math.log(0.5f)})
                .add("text", new double[] {Math.log(0.125)});
        assertEquals(List.of("text", "image"), agg.groups());
        assertEquals(3, agg.tokens("text"));
        // -(ln 1/2 + ln 1/4 + ln 1/8) / 3 = 6 ln2 / 3 = 2 ln 2  -> perplexity 4
        assertEquals(2 * Math.log(2), agg.meanNll("text"), 1e-12);
        assertEquals(4.0, agg.perplexity("text"), 1e-12);
        assertEquals(2.0, agg.perplexity("image"), 1e-6);
        assertEquals(4, agg.totalTokens());
        assertEquals(7 * Math.log(2) / 4, agg.overallMeanNll(), 1e-7);
        assertTrue(Double.isNaN(agg.meanNll("audio")));
        assertEquals(0, agg.tokens("audio"));
        assertEquals(Double.POSITIVE_INFINITY,
                new NllAggregator().add("g", new double[] {Double.NEGATIVE_INFINITY, -1}).perplexity("g"));
        assertThrows(IllegalArgumentException.class, () -> agg.add("text", new double[] {0.5}));
        assertThrows(IllegalArgumentException.class, () -> agg.add("text", new double[] {Double.NaN}));
        assertEquals(3, agg.tokens("text"), "a rejected sample adds nothing");
        assertEquals(1.5, NllAggregator.meanNll(new double[] {-1, -2}), 1e-12);
    }

    @Test
    void optionCorrect() {
        Sample s = Sample.multipleChoice("q", "Capital of France?", List.of("Rome", "Paris", "Oslo"), 1);
        assertTrue(Metrics.optionCorrect("Answer: B", s));
        assertTrue(Metrics.optionCorrect("It is Paris.", s));
        assertFalse(Metrics.optionCorrect("(A) Rome", s));
        assertFalse(Metrics.optionCorrect("I don't know", s));
        assertThrows(IllegalArgumentException.class, () -> Metrics.optionCorrect("B", Sample.text("t", "p", List.of("x"))));
    }

    /** Expected values from a separate transcription of rouge_score's tokenizer and LCS table (Python), without stemming. */
    @Test
    void rougeLAsRougeScoreComputesIt() {
        assertEquals(0.8333333333333334, Metrics.rougeL("the cat is on the mat", List.of("The cat sat on the mat.")), 1e-15);
        assertEquals(0.6666666666666666, Metrics.rougeL("paris, france", List.of("Paris")), 1e-15);
        assertEquals(0.2, Metrics.rougeL("e d c b a", List.of("a b c d e")), 1e-15);
        assertEquals(1.0, Metrics.rougeL("hello world", List.of("Hello, World!")), 1e-15);
        assertEquals(0.0, Metrics.rougeL("x", List.of("")));
        assertEquals(0.0, Metrics.rougeL("uber cafe", List.of("über café")), "non-ASCII letters are separators, as in rouge_score");
        assertEquals(0.5, Metrics.rougeL("the answer is 42", List.of("42 is the answer")), 1e-15);
        assertEquals(1.0, Metrics.rougeL("the answer is 42", List.of("nothing alike", "The answer is 42.")), "best reference");
    }
}
