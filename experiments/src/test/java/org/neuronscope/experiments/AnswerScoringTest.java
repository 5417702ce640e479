package org.neuronscope.experiments;

import org.neuronscope.hooks.HookScope;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.eval.Metrics;
import org.neuronscope.eval.Sample;
import org.neuronscope.HookPoint;
import org.neuronscope.media.DecodeStep;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Generator;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.Sampler;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.model.Tokenizer;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Teacher-forced likelihoods and the answer metrics of the ablation runner, against an oracle that
 * decodes prompt and continuation as one sequence in one batch, all outputs on, and takes the log
 * softmax itself; ANLS and WER against generating and scoring by hand.
 */
class AnswerScoringTest {
    private static final double TOL = 2e-3; // logits of one batch vs several decodes differ by float rounding

    private static Workbench wb;
    private static Sampler greedy;

    @BeforeAll
    static void open() {
        wb = Workbench.open(new Workbench.Setup(SyntheticFixtures.tiny("qwen2"), ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(512).withBatchSize(128).withThreads(2), ProjectorParams.defaults(), PromptFormat.raw()));
        greedy = Sampler.greedy();
    }

    @AfterAll
    static void close() {
        greedy.close();
        wb.close();
    }

    /** log p(token) by log Σ exp over the vocabulary, no max subtracted (logits are O(1) here). */
    private static double oracleLogProb(float[] logits, int token) {
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v);
        }
        return logits[token] - Math.log(sum);
    }

    /** log p of each continuation token after the prompt's tokens, everything decoded in one batch. */
    private static double[] oracle(int[] prompt, int[] continuation) {
        Session s = wb.session();
        s.clearMemory();
        int n = prompt.length + continuation.length - 1;
        try (Batch b = Batch.ofTokens(n)) {
            for (int i = 0; i < n; i++) {
                int t = i < prompt.length ? prompt[i] : continuation[i - prompt.length];
                b.add(t, i, 0, i >= prompt.length - 1);
            }
            s.decode(b);
            double[] lp = new double[continuation.length];
            for (int i = 0; i < continuation.length; i++) {
                lp[i] = oracleLogProb(s.logitsArray(prompt.length - 1 + i), continuation[i]);
            }
            return lp;
        }
    }

    private static int[] promptTokens(Sample s) {
        Tokenizer tok = wb.model().tokenizer();
        return tok.tokenize(PromptFormat.raw().format(tok, s, null), true, true);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void continuationLogProbsEqualOneBatchOracleAndLeaveTheSequenceAsItWas() {
        Session session = wb.session();
        Sample s = Sample.text("q", "The river flows into the", List.of("sea and the ocean"));
        int[] cont = AnswerScoring.answerTokens(wb.model().tokenizer(), "sea and the ocean");
        assertTrue(cont.length >= 3, "a continuation of several tokens");
        double[] expected = oracle(promptTokens(s), cont);
        try (Prompt p = wb.prompts().prepare(s)) {
            session.clearMemory();
            int next = p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session));
            float[] logits = session.logitsArray(p.lastBatchIndex());
            String before = Generator.continueAfter(session, greedy, 0, next, p.lastBatchIndex(), 6, null, null).text();
            session.removeTokens(0, next, -1);
            double[] got = AnswerScoring.continuationLogProbs(session, 0, next, logits, cont);
            assertArrayEquals(expected, got, TOL);
            // scoring twice gives the same: the first scoring removed its tokens
            assertArrayEquals(got, AnswerScoring.continuationLogProbs(session, 0, next, logits, cont), 1e-9);
            assertEquals(next - 1, session.maxPosition(0), "only the prompt is left in the sequence");
            // and generation from the restored prompt is what it was
            try (Batch b = Batch.ofTokens(1)) {
                int last = p.length() - 1;
                session.removeTokens(0, last, -1);
                b.add(promptTokens(s)[last], last, 0, true);
                session.decode(b);
            }
            assertEquals(before, Generator.continueAfter(session, greedy, 0, next, 0, 6, null, null).text());
        }
    }

    @Test
    void textLogProbsEqualOneBatchOracle() {
        String text = "Once upon a time there was a small village by the sea.";
        int[] tokens = wb.model().tokenizer().tokenize(text, true, false);
        double[] expected = oracle(new int[] {tokens[0]}, Arrays.copyOfRange(tokens, 1, tokens.length));
        double[] got = AnswerScoring.textLogProbs(wb.session(), 0, text);
        assertEquals(tokens.length - 1, got.length);
        assertArrayEquals(expected, got, TOL);
        for (double lp : got) {
            assertTrue(lp <= 1e-9);
        }
    }

    @Test
    void ablationTableHasLikelihoodAnlsAndWerAsScoredByHand() {
        List<Sample> samples = new ArrayList<>();
        String[] qs = {"The weather today is", "My favourite colour is", "Numbers: one two"};
        // the first reference is the model's own greedy answer, so that ANLS and WER are not trivially 0 and 1
        String[] refs = {generateByHand(Sample.text("p", qs[0], List.of("x"))).strip(), "deep blue", "three four five"};
        for (int i = 0; i < qs.length; i++) {
            samples.add(new Sample("o" + i, qs[i], null, List.of(), List.of(), List.of(), List.of(refs[i]), List.of(),
                    Sample.NO_ANSWER, Map.of("kind", "open")));
        }
        for (int i = 0; i < 3; i++) {
            samples.add(Sample.multipleChoice("m" + i, "Pick colour " + i + ".", List.of("red", "blue", "green"), i).withLabels(Map.of("kind", "mc")));
        }
        Dataset data = Dataset.of("answers", samples);
        int layers = wb.model().layerCount();
        int width = wb.hooks().width(HookPoint.FFN_ACT, 0);
        NeuronSet half = RandomBaseline.of(HookPoint.FFN_ACT, layers, width, layers * width / 2, 5, "half");
        MetricTable t = AblationExperiment.run(wb, data, List.of(new AblationExperiment.Condition("half off", half, List.of("half"),
                Intervention.deactivate())), s -> s.label("kind"), 6, Progress.Listener.NONE);

        Tokenizer tok = wb.model().tokenizer();
        for (String run : List.of("none", "half off")) {
            try (HookScope scope = wb.hooks().openScope()) {
                if (run.equals("half off")) {
                    scope.apply(InterventionMask.of(half, List.of("half"), Intervention.deactivate()), HookPoint.FFN_ACT);
                }
                // open questions: token-weighted NLL of the references, ANLS mean, corpus WER, text perplexity
                double nll = 0;
                int tokens = 0;
                double anls = 0;
                double rouge = 0;
                Metrics.WordErrors we = Metrics.WordErrors.ZERO;
                double textNll = 0;
                int textTokens = 0;
                for (Sample s : samples.subList(0, qs.length)) {
                    for (double lp : oracle(promptTokens(s), AnswerScoring.answerTokens(tok, s.answers().getFirst()))) {
                        nll -= lp;
                        tokens++;
                    }
                    String out = generateByHand(s);
                    anls += Metrics.anls(out, s.answers());
                    rouge += Metrics.rougeL(out, s.answers());
                    we = we.plus(Metrics.wordErrors(out, s.answers().getFirst()));
                    int[] tt = tok.tokenize(s.prompt(), true, false);
                    for (double lp : oracle(new int[] {tt[0]}, Arrays.copyOfRange(tt, 1, tt.length))) {
                        textNll -= lp;
                        textTokens++;
                    }
                }
                assertEquals(nll / tokens, t.value(run, "open", "answer_nll"), TOL, run);
                assertEquals(Math.exp(nll / tokens), t.value(run, "open", "answer_ppl"), 1e-2 * Math.exp(nll / tokens), run);
                assertEquals(anls / qs.length, t.value(run, "open", "anls"), 1e-12, run);
                assertEquals(rouge / qs.length, t.value(run, "open", "rouge_l"), 1e-12, run);
                assertEquals(we.rate(), t.value(run, "open", "wer"), 1e-12, run);
                assertEquals(textNll / textTokens, t.value(run, "open", "text_nll"), TOL, run);
                // multiple choice: the most likely letter, and the NLL of the correct one
                int correct = 0;
                double mcNll = 0;
                for (Sample s : samples.subList(qs.length, samples.size())) {
                    double[] lp = new double[3];
                    for (int i = 0; i < 3; i++) {
                        lp[i] = Arrays.stream(oracle(promptTokens(s), AnswerScoring.answerTokens(tok, String.valueOf((char) ('A' + i))))).sum();
                    }
                    int best = lp[0] >= lp[1] && lp[0] >= lp[2] ? 0 : lp[1] >= lp[2] ? 1 : 2;
                    correct += best == s.answerIndex() ? 1 : 0;
                    mcNll -= lp[s.answerIndex()]; // each letter is one token
                }
                assertEquals(correct / 3.0, t.value(run, "mc", "choice_ll_accuracy"), 1e-12, run);
                assertEquals(mcNll / 3, t.value(run, "mc", "answer_nll"), TOL, run);
            }
        }
        assertTrue(t.value("none", "open", "anls") >= 1.0 / qs.length, "the model's own answer scores ANLS 1");
        assertNotEquals(t.value("none", "open", "text_nll"), t.value("half off", "open", "text_nll"), "half the neurons off changes perplexity");
    }

    private static String generateByHand(Sample s) {
        Session session = wb.session();
        int[] prompt = promptTokens(s);
        session.clearMemory();
        return Generator.generate(session, greedy, prompt, 6).text();
    }
}
