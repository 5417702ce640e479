package org.neuronscope.realmodel;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.collect.StatisticsCollector;
import org.neuronscope.hooks.HookScope;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelQuantizer;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.MiniLm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A finding on real weights: domain-specific FFN neurons of all-MiniLM-L6-v2, selected by the
 * activation-probability entropy method (LAPE/MMNeuron, docs/METHODS.md §1) over five domains of
 * written texts ({@link DomainTexts}: code, arithmetic, recipes, legal prose, place names), each
 * text labelled with its domain ([CLS] and [SEP] left out). Checked: every domain gets neurons;
 * deactivating a domain's set moves that domain's sentence embeddings (1 − cosine to the unablated
 * embedding) more than a random set with as many neurons in each layer does, and more than it moves
 * the other domains' embeddings; llama.cpp's own quantiser's Q8_0 and Q4_K_M copies select nearly the
 * same neurons (Jaccard overlap of the union of the domain sets ≥ 0.8 for Q8_0 and ≥ 0.5 for Q4_K_M).
 */
class MiniLmDomainNeuronsTest {
    private static final Logger LOG = LoggerFactory.getLogger(MiniLmDomainNeuronsTest.class);
    static final List<String> GROUPS = List.copyOf(DomainTexts.DOMAINS.keySet());
    static final EntropySelection.Params PARAMS = EntropySelection.Params.DEFAULTS;
    static Path f32;
    static NeuronSet selected;

    @BeforeAll
    static void model() {
        f32 = MiniLm.gguf();
        selected = select(f32);
    }

    /** Quantised copies beside the F32 model in the fixture cache, made once. */
    static synchronized Path quantized(ModelQuantizer.Type type) {
        Path out = f32.resolveSibling("model-" + type.name().toLowerCase() + ".gguf");
        if (!Files.isRegularFile(out)) {
            ModelQuantizer.quantize(f32, out, type, 2);
        }
        return out;
    }

    /** One session holds a whole domain per decode: its texts as sequences 0..11 of one batch. */
    static SessionParams params() {
        return MiniLmOracleTest.params().withMaxSequences(16);
    }

    static NeuronSet select(Path gguf) {
        try (Model model = Model.load(gguf); Session session = model.newSession(params());
             StatisticsCollector c = StatisticsCollector.start(session, HookPoint.FFN_ACT, GROUPS, Set.of(Statistic.COUNT), 0f, 0.1f)) {
            for (int g = 0; g < GROUPS.size(); g++) {
                List<int[]> texts = tokenized(model, GROUPS.get(g));
                int total = texts.stream().mapToInt(t -> t.length).sum();
                int[] group = new int[total];
                int k = 0;
                for (int[] t : texts) {
                    for (int i = 0; i < t.length; i++) {
                        group[k++] = i == 0 || i == t.length - 1 ? -1 : g; // [CLS] and [SEP] belong to no domain
                    }
                }
                try (Batch b = packed(texts)) {
                    c.add(b, group);
                }
            }
            return EntropySelection.select(c.statistics(), PARAMS);
        }
    }

    static List<int[]> tokenized(Model model, String domain) {
        return DomainTexts.DOMAINS.get(domain).stream().map(t -> model.tokenizer().tokenize(t, true, false)).toList();
    }

    /** Several inputs in one batch, input s as sequence s from position 0 (an encoder keeps them apart). */
    static Batch packed(List<int[]> inputs) {
        Batch b = Batch.ofTokens(inputs.stream().mapToInt(t -> t.length).sum());
        for (int s = 0; s < inputs.size(); s++) {
            int[] t = inputs.get(s);
            for (int i = 0; i < t.length; i++) {
                b.add(t[i], i, s, true);
            }
        }
        return b;
    }

    /** The sentence embedding of every text of the domains, one decode per domain. */
    static Map<String, List<float[]>> embeddings(Session session, Model model, List<String> domains) {
        Map<String, List<float[]>> out = new LinkedHashMap<>();
        for (String d : domains) {
            List<int[]> texts = tokenized(model, d);
            try (Batch b = packed(texts)) {
                session.decode(b);
            }
            List<float[]> e = new ArrayList<>();
            for (int s = 0; s < texts.size(); s++) {
                e.add(session.sequenceEmbeddingArray(s));
            }
            out.put(d, e);
        }
        return out;
    }

    static double meanShift(List<float[]> base, List<float[]> ablated) {
        double s = 0;
        for (int i = 0; i < base.size(); i++) {
            s += 1 - MiniLmOracleTest.cosine(base.get(i), ablated.get(i));
        }
        return s / base.size();
    }

    @Test
    void domainNeuronsMoveTheirDomainsEmbeddingsMoreThanRandomNeurons() {
        NeuronSet set = selected;
        StringBuilder report = new StringBuilder();
        for (String d : GROUPS) {
            assertTrue(set.size(d) > 0, "domain " + d + " has no neurons");
            report.append(String.format("%n  %-10s %3d neurons, per layer %s", d, set.size(d), Arrays.toString(set.perLayerCounts(d))));
        }
        try (Model model = Model.load(f32); Session session = model.newSession(params())) {
            Map<String, List<float[]>> base = embeddings(session, model, GROUPS);
            for (String d : GROUPS) {
                NeuronSet random = RandomBaseline.matching(set, d, 7, true);
                Map<String, List<float[]>> own, rnd;
                try (HookScope scope = session.hooks().openScope()) {
                    scope.apply(InterventionMask.of(set, List.of(d), new Intervention.Deactivate()), HookPoint.FFN_ACT);
                    own = embeddings(session, model, GROUPS);
                }
                try (HookScope scope = session.hooks().openScope()) {
                    scope.apply(InterventionMask.of(random, List.of(d), new Intervention.Deactivate()), HookPoint.FFN_ACT);
                    rnd = embeddings(session, model, List.of(d));
                }
                double ownShift = meanShift(base.get(d), own.get(d));
                double randomShift = meanShift(base.get(d), rnd.get(d));
                double others = 0;
                for (String o : GROUPS) {
                    if (!o.equals(d)) {
                        others += meanShift(base.get(o), own.get(o)) / (GROUPS.size() - 1);
                    }
                }
                report.append(String.format("%n  deactivating %-10s: own-domain shift %.5f, matched random set %.5f, other domains %.5f",
                        d, ownShift, randomShift, others));
                assertTrue(ownShift > randomShift, d + ": own set " + ownShift + " vs random " + randomShift);
                assertTrue(ownShift > others, d + ": own domain " + ownShift + " vs other domains " + others);
            }
        }
        LOG.info("MiniLM domain neurons (LAPE, top {} of {} neurons):{}", PARAMS.topRate(), 6 * 1536, report);
    }

    @Test
    void quantisedCopiesSelectTheSameNeurons() {
        NeuronSet reference = selected;
        BitSet ref = reference.union(GROUPS);
        StringBuilder report = new StringBuilder();
        for (ModelQuantizer.Type type : List.of(ModelQuantizer.Type.Q8_0, ModelQuantizer.Type.Q4_K_M)) {
            Path q = quantized(type);
            try (Model m = Model.load(q)) {
                assertTrue(m.sizeBytes() < 0.6 * f32.toFile().length(), type + " copy is not smaller: " + m.sizeBytes());
            }
            NeuronSet set = select(q);
            BitSet got = set.union(GROUPS);
            BitSet shared = (BitSet) ref.clone();
            shared.and(got);
            BitSet either = (BitSet) ref.clone();
            either.or(got);
            double jaccard = (double) shared.cardinality() / either.cardinality();
            report.append(String.format("%n  %-7s %d of %d neurons shared, Jaccard %.3f", type, shared.cardinality(), ref.cardinality(), jaccard));
            for (String d : GROUPS) {
                report.append(String.format("; %s %d/%d", d, overlap(reference, set, d), reference.size(d)));
            }
            assertTrue(jaccard >= (type == ModelQuantizer.Type.Q8_0 ? 0.8 : 0.5), type + ": Jaccard " + jaccard);
        }
        LOG.info("MiniLM domain neurons of quantised copies against F32:{}", report);
    }

    static int overlap(NeuronSet a, NeuronSet b, String group) {
        BitSet x = a.union(List.of(group));
        x.and(b.union(List.of(group)));
        return x.cardinality();
    }
}
