package org.neuronscope.experiments;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.collect.Pooling;
import org.neuronscope.collect.RepresentationCollector;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.probe.LayerProbe;
import org.neuronscope.probe.LinearProbe;
import org.neuronscope.probe.Representations;
import org.neuronscope.testkit.PlantedProbeModels;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The planted ground truth of layer-wise probing: a model in which the class is linearly readable
 * from the last token only from layer k = 3 on ({@link PlantedProbeModels}). The construction is
 * checked first (pairs that differ only in the class word have identical last-token vectors below k,
 * and from k on differ only on the read-out axis, with opposite signs); then the probe finds chance
 * below k and (near) 1 from k, the control stays at chance, and mean pooling reads the class from
 * layer 0 (the class token itself carries it).
 */
class PlantedProbeTest {
    static final int K = 3;
    static final String[] WORDS = {"cat", "dog"};
    static Path model;

    @BeforeAll
    static void writeModel() {
        Path vocab = SyntheticFixtures.vocabFor("llama");
        int[] tokens = new int[2];
        try (Model m = Model.load(SyntheticFixtures.tiny("llama"))) { // the same vocabulary: find the class words' tokens
            for (int i = 0; i < 2; i++) {
                int[] t = m.tokenizer().tokenize("a " + WORDS[i], false, false);
                tokens[i] = t[t.length - 1];
                assertEquals(2, t.length, WORDS[i] + " is one token after 'a'");
            }
        }
        model = PlantedProbeModels.write(PlantedProbeModels.Spec.tiny(vocab, K, tokens), SyntheticFixtures.directory().resolve("planted-probe"));
    }

    static Workbench open() {
        return Workbench.open(new Workbench.Setup(model, ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(256).withBatchSize(64).withThreads(2).withMaxSequences(4),
                ProjectorParams.defaults(), PromptFormat.raw()));
    }

    @Test
    void theLabelIsInTheLastTokenOnlyFromLayerK() {
        List<Sample> pairs = PlantedProbeModels.samples(16, 5, WORDS, true);
        try (Workbench wb = open(); RepresentationCollector c = RepresentationCollector.open(wb.session(), List.of(Pooling.last()), 1)) {
            int width = c.width();
            for (int i = 0; i < pairs.size(); i += 2) {
                double[] a;
                double[] b;
                try (Prompt pa = wb.prompts().prepare(pairs.get(i)); Prompt pb = wb.prompts().prepare(pairs.get(i + 1))) {
                    assertEquals(pa.length(), pb.length(), "the pair differs in one token");
                    a = c.pool(pairs.get(i), pa)[0];
                    b = c.pool(pairs.get(i + 1), pb)[0];
                }
                for (int l = 0; l < c.layers(); l++) {
                    double[] la = java.util.Arrays.copyOfRange(a, l * width, (l + 1) * width);
                    double[] lb = java.util.Arrays.copyOfRange(b, l * width, (l + 1) * width);
                    if (l < K) {
                        assertArrayEquals(la, lb, "layer " + l + ": the last token does not see the class");
                    } else {
                        double ra = la[PlantedProbeModels.READ_AXIS];
                        double rb = lb[PlantedProbeModels.READ_AXIS];
                        assertTrue(ra > 1e-3 && rb < -1e-3, "layer " + l + ": the read-out axis carries the class: " + ra + ", " + rb);
                        assertEquals(ra, -rb, 1e-5 * Math.abs(ra));
                        la[PlantedProbeModels.READ_AXIS] = 0;
                        lb[PlantedProbeModels.READ_AXIS] = 0;
                        assertArrayEquals(la, lb, 1e-5, "layer " + l + ": nothing else depends on the class");
                    }
                }
            }
        }
    }

    @Test
    void probeAccuracyIsChanceBelowKAndNearOneFromK(@TempDir Path out) throws Exception {
        Dataset data = Dataset.of("planted-probe", PlantedProbeModels.samples(160, 9, WORDS, false));
        Representations reps;
        try (Workbench wb = open()) {
            reps = ProbeExperiment.collect(wb, data, new ProbeExperiment.Params(List.of(Pooling.last(), Pooling.mean()), 40, 4), out,
                    Progress.Listener.NONE);
        }
        assertEquals(160, reps.size());
        assertEquals(6, reps.layers());
        LayerProbe.Params params = LayerProbe.Params.defaults(LinearProbe.Kind.LOGISTIC);
        LayerProbe.Report last = ProbeExperiment.probe(reps, "last", "class", params, out.resolve("last"), Progress.Listener.NONE);
        System.out.print(last.table());
        for (LayerProbe.LayerResult r : last.layers()) {
            if (r.layer() < K) {
                assertTrue(r.score() < 0.65, "layer " + r.layer() + " below k is at chance: " + r.score());
                assertTrue(r.low() < 0.5, "its interval includes chance: " + r.low());
            } else {
                assertTrue(r.score() > 0.97, "layer " + r.layer() + " from k is readable: " + r.score());
                assertTrue(r.selectivity() > 0.3, "and selective: " + r.selectivity());
            }
            assertTrue(Math.abs(r.controlScore() - 0.5) < 0.15, "the control is at chance: " + r.controlScore());
        }
        assertEquals(0.5, last.chance());
        // the multinomial (softmax) probe reads the same: chance below k, ~1 from k
        LayerProbe.Report multi = LayerProbe.run(reps, "last", "class", LayerProbe.Params.defaults(LinearProbe.Kind.MULTINOMIAL), null);
        System.out.print(multi.table());
        assertEquals("opennlp maxent QN (multinomial)", multi.solver());
        for (LayerProbe.LayerResult r : multi.layers()) {
            if (r.layer() < K) {
                assertTrue(r.score() < 0.65, "multinomial: layer " + r.layer() + " below k is at chance: " + r.score());
            } else {
                assertTrue(r.score() > 0.97, "multinomial: layer " + r.layer() + " from k is readable: " + r.score());
            }
            assertTrue(Math.abs(r.controlScore() - 0.5) < 0.15, "multinomial: the control is at chance: " + r.controlScore());
        }
        LayerProbe.Report mean = ProbeExperiment.probe(reps, "mean", "class", params, out.resolve("mean"), Progress.Listener.NONE);
        System.out.print(mean.table());
        assertTrue(mean.layers().getFirst().score() > 0.97, "mean pooling sees the class token at layer 0: " + mean.layers().getFirst().score());
        assertTrue(Files.size(out.resolve("last").resolve("report").resolve("probe.png")) > 1000);
        assertTrue(Files.readString(out.resolve("last").resolve("report").resolve("index.html")).contains("shuffled-label control"));
        assertTrue(Files.readString(out.resolve("last").resolve("probe.csv")).startsWith("layer,metric,score"));
        // the saved representations are what was probed, and a rerun reads them instead of decoding again
        Representations saved = Representations.read(ProbeExperiment.representationsDir(out));
        assertArrayEquals(reps.layer("last", 4), saved.layer("last", 4));
        assertNotEquals(0.0, saved.get("last", 0, 4, PlantedProbeModels.READ_AXIS));
    }
}
