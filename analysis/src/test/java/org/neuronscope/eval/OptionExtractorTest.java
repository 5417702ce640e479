package org.neuronscope.eval;

import org.junit.jupiter.api.Test;
import org.neuronscope.NeuronScopeException;

import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class OptionExtractorTest {
    private static final List<String> FOUR = List.of("red", "dark red", "blue", "green");

    private static void chose(String letter, String generated) {
        chose(letter, generated, FOUR);
    }

    private static void chose(String letter, String generated, List<String> choices) {
        OptionalInt expected = letter == null ? OptionalInt.empty() : OptionalInt.of(letter.charAt(0) - 'A');
        assertEquals(expected, OptionExtractor.extract(generated, choices), "\"" + generated + "\"");
    }

    @Test
    void bareLetters() {
        chose("B", "B");
        chose("B", "b");
        chose("C", " (C) ");
        chose("D", "D.");
        chose("A", "[A]");
        chose("B", "**B**");
        chose(null, "E", FOUR);   // past the last option
        chose("E", "E", List.of("1", "2", "3", "4", "5"));
    }

    @Test
    void answerPhrases() {
        chose("B", "Answer: B");
        chose("C", "The correct answer is (C).");
        chose("D", "The answer is option D because green is a colour.");
        chose("B", "**Answer:** B");
        chose("C", "After thinking, the answer is: (c)");
        chose("A", "Option A is the right one.");
        chose(null, "Option A or option B, hard to say.");   // ambiguous
        chose("C", "Option A looks plausible but the answer is C.");   // an answer phrase wins
        chose(null, "The answer is blue-ish");   // no letter, and "blueish" is no option's text
    }

    @Test
    void leadingLabelsAndBrackets() {
        chose("A", "A. red, clearly");
        chose("C", "(C) blue");
        chose("D", "D) green");
        chose("B", "I would pick (B) since it is darker.");
        chose(null, "(A) or (B)");
    }

    @Test
    void optionText() {
        chose("C", "Blue.");
        chose("C", "The colour is blue");
        chose("B", "It is dark red", FOUR);   // "red" is part of "dark red"
        chose(null, "red or blue");           // two options named
        chose("B", "Paris", List.of("A. Rome", "B. Paris"));   // labels in the option texts are ignored
    }

    @Test
    void standaloneLetters() {
        chose("B", "I think it's B");
        chose(null, "A cat sat on the mat");          // "A" as an article, no option
        chose(null, "Between B and C");
        chose(null, "");
        chose(null, "I don't know");
    }

    @Test
    void letters() {
        assertEquals("A", OptionExtractor.letter(0));
        assertEquals("Z", OptionExtractor.letter(25));
        assertThrows(IndexOutOfBoundsException.class, () -> OptionExtractor.letter(26));
        assertThrows(IllegalArgumentException.class, () -> OptionExtractor.extract("A", List.of()));
    }
}
