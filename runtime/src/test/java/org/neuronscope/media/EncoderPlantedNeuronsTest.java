package org.neuronscope.media;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufWriter;
import org.neuronscope.gguf.Quantization;
import org.neuronscope.gguf.TensorInfo;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.eval.Sample;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticProjectors;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Planted ground truth in a vision encoder: a Qwen2-VL vision projector (1 block, 32 wide, FFN 256)
 * edited so that patch-embedding channel {@code K} carries red − green and no other channel sees a
 * constant colour shift (their kernels have zero mean per colour), layer 0's attention adds nothing,
 * and the planted neurons' fc1 rows read channel K only, with a bias that switches them on for
 * red-tinted images; no other neuron reads channel K. LAPE over the vision neurons' counts per domain
 * ("red" vs "plain" images) must recover the planted neurons for "red" with precision and recall
 * ≥ 0.95, and deactivating them must move the red images' embeddings, and the language model's answers to
 * them, more than a matched random set, and the answers to red images more than those to plain ones.
 */
class EncoderPlantedNeuronsTest {
    private static final Logger LOG = LoggerFactory.getLogger(EncoderPlantedNeuronsTest.class);
    private static final int K = 5;
    private static final int FF = 256;
    private static final int[] PLANTED = {3, 17, 40, 77, 101, 150, 199, 230};

    @Test
    void plantedRedNeuronsAreRecoveredAndTheirAblationMovesRedImagesMost() throws Exception {
        Path base = MultimodalFixtures.dir().resolve("mmproj-qwen2vl-ff256-base.gguf");
        SyntheticProjectors.write(new SyntheticProjectors.Spec("qwen2vl_merger", 32, 1, 4, FF, 64, 14, 0, 31, 1f, null, null), base);
        Path planted = MultimodalFixtures.dir().resolve("mmproj-qwen2vl-ff256-planted-red.gguf");
        plant(base, planted);

        List<String> domains = List.of("red", "plain");
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, planted, MultimodalFixtures.params())) {
            NeuronSet set;
            try (EncoderStatisticsCollector c = new EncoderStatisticsCollector(projector, Module.VISION, HookPoint.FFN_ACT, domains,
                    EnumSet.of(Statistic.COUNT), 0f, 0f)) {
                for (int k = 0; k < 6; k++) {
                    c.add(image(200 + k, true), "red");
                    c.add(image(300 + k, false), "plain");
                }
                try (NeuronStatistics st = c.statistics()) {
                    set = EntropySelection.select(st, new EntropySelection.Params((double) PLANTED.length / FF, 0.95, 0.95));
                }
            }
            Set<Integer> found = new HashSet<>();
            for (var n : set.neurons("red")) {
                found.add(n.neuron());
            }
            Set<Integer> truth = new HashSet<>();
            for (int n : PLANTED) {
                truth.add(n);
            }
            Set<Integer> hit = new HashSet<>(found);
            hit.retainAll(truth);
            double precision = found.isEmpty() ? 0 : (double) hit.size() / found.size();
            double recall = (double) hit.size() / truth.size();
            LOG.info("planted red neurons {}: LAPE found {} (precision {}, recall {}); plain: {}", truth, found, precision, recall,
                    set.hasGroup("plain") ? set.size("plain") : 0);
            assertTrue(precision >= 0.95 && recall >= 0.95, "precision " + precision + ", recall " + recall + ": found " + found);

            // ablation: the selected set moves the red images' embeddings more than a matched random set
            NeuronSet random = RandomBaseline.matching(set, "red", 2024L, true);
            double moveSelected = 0;
            double moveRandom = 0;
            for (int k = 0; k < 3; k++) {
                Media red = image(400 + k, true);
                float[] plain = projector.encode(red);
                moveSelected += distance(plain, ablated(projector, set, "red", red));
                moveRandom += distance(plain, ablated(projector, random, random.groupNames().get(0), red));
            }
            LOG.info("mean |Δ embedding| on red images: selected {}, matched random {}", moveSelected / 3, moveRandom / 3);
            assertTrue(moveSelected > moveRandom, "selected " + moveSelected + " vs random " + moveRandom);

            // the language model's answers: next-token logits of an image question, with the encoder set
            // deactivated at encode time. The planted neurons fire on red images only, so switching them off
            // moves the answers to red images, more than a matched random set does, and more than it moves
            // the answers to plain images (where the planted neurons are mostly off already). Measured: 0.539
            // against 0.049 for random on red images (11x), 0.0016 on plain ones; asserted with margins of 3x and 20x.
            MultimodalPrompts source = new MultimodalPrompts(projector, PromptFormat.chat());
            double[] answers = new double[4]; // selected/red, random/red, selected/plain, random/plain
            try (Session session = model.newSession(MultimodalFixtures.session())) {
                for (int k = 0; k < 3; k++) {
                    for (boolean red : new boolean[] {true, false}) {
                        Media item = image(500 + k, red);
                        float[] unablated = answerLogits(session, source, item, null, null);
                        answers[red ? 0 : 2] += distance(unablated, answerLogits(session, source, item, set, "red")) / 3;
                        answers[red ? 1 : 3] += distance(unablated, answerLogits(session, source, item, random, random.groupNames().get(0))) / 3;
                    }
                }
            }
            LOG.info("mean |Δ next-token logit| of the answers: red images: selected {}, random {}; plain images: selected {}, random {}",
                    answers[0], answers[1], answers[2], answers[3]);
            assertTrue(answers[0] > 3 * answers[1], "red images' answers: selected " + answers[0] + " vs random " + answers[1]);
            assertTrue(answers[0] > 20 * answers[2], "the selected set moves red images' answers " + answers[0] + ", plain images' " + answers[2]);
        }
    }

    private static float[] ablated(Projector projector, NeuronSet set, String group, Media item) {
        try (EncoderHooks hooks = projector.openHooks(1)) {
            hooks.apply(Module.VISION, InterventionMask.of(set, List.of(group), new Intervention.Deactivate()), HookPoint.FFN_ACT);
            return projector.encode(item);
        }
    }

    /** The next-token logits after an image question; with {@code set}, its group deactivated in the vision encoder. */
    private static float[] answerLogits(Session session, MultimodalPrompts source, Media item, NeuronSet set, String group) {
        try (EncoderHooks hooks = set == null ? null : source.projector().openHooks(1)) { // a null resource is not closed
            if (hooks != null) {
                hooks.apply(Module.VISION, InterventionMask.of(set, List.of(group), new Intervention.Deactivate()), HookPoint.FFN_ACT);
            }
            String text = PromptFormat.chat().format(session.model().tokenizer(),
                    Sample.text("q", Projector.marker() + "\nWhat colour is this image?", List.of()), Projector.marker());
            try (Prompt p = source.prepare(text, List.of(item), false)) {
                session.clearMemory();
                p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session));
                return session.logitsArray(p.lastBatchIndex());
            }
        }
    }

    private static double distance(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs(a[i] - b[i]);
        }
        return s / a.length;
    }

    /** Random pixels; red images have red raised and green lowered by 70 levels. */
    static Media image(long seed, boolean red) {
        SplittableRandom r = new SplittableRandom(seed);
        int w = 56, h = 56;
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            int R = r.nextInt(256), G = r.nextInt(256), B = r.nextInt(256);
            if (red) {
                R = Math.min(255, R + 70);
                G = Math.max(0, G - 70);
            }
            rgb[3 * i] = (byte) R;
            rgb[3 * i + 1] = (byte) G;
            rgb[3 * i + 2] = (byte) B;
        }
        return Media.imagePixels(w, h, rgb);
    }

    /** The planted edit (see the class comment). */
    static void plant(Path in, Path out) {
        try (GgufFile src = GgufFile.open(in)) {
            GgufWriter w = new GgufWriter();
            src.metadata().forEach(w::put);
            Set<Integer> planted = new HashSet<>();
            for (int n : PLANTED) {
                planted.add(n);
            }
            for (TensorInfo t : src.tensors().values()) {
                String name = t.name();
                MemorySegment data = src.tensorData(name);
                long rowBytes = t.rowBytes();
                int rowLen = (int) t.rowLength();
                if (name.startsWith("v.patch_embd.weight")) {
                    // shape {p, p, 3, e}: a row is one y of one colour of one output channel
                    int p = (int) t.shape()[0];
                    int rows = (int) t.rows();
                    float[][] all = new float[rows][rowLen];
                    for (int r = 0; r < rows; r++) {
                        Quantization.decodeRow(t.type(), data.asSlice(r * rowBytes, rowBytes), all[r]);
                    }
                    for (int ch = 0; ch < rows / (3 * p); ch++) {
                        for (int col = 0; col < 3; col++) {
                            double mean = 0;
                            for (int y = 0; y < p; y++) {
                                int r = y + p * (col + 3 * ch);
                                for (int x = 0; x < rowLen; x++) {
                                    mean += all[r][x];
                                }
                            }
                            mean /= p * rowLen;
                            for (int y = 0; y < p; y++) {
                                int r = y + p * (col + 3 * ch);
                                for (int x = 0; x < rowLen; x++) {
                                    // channel K: +a on red, -a on green, 0 on blue; the others: zero mean per colour
                                    all[r][x] = ch == K ? (col == 0 ? 0.004f : col == 1 ? -0.004f : 0f) : (float) (all[r][x] - mean);
                                }
                            }
                        }
                    }
                    w.addEncodedTensor(name, t.type(), t.shape(), (r, dst) -> Quantization.encodeRow(t.type(), all[(int) r], dst));
                } else if (name.equals("v.blk.0.attn_out.weight") || name.equals("v.blk.0.attn_out.bias")) {
                    w.addEncodedTensor(name, t.type(), t.shape(), (r, dst) -> dst.fill((byte) 0));
                } else if (name.equals("v.blk.0.ffn_up.weight")) {
                    // row n = neuron n's input weights (width 32)
                    float[] v = new float[rowLen];
                    w.addEncodedTensor(name, t.type(), t.shape(), (r, dst) -> {
                        Quantization.decodeRow(t.type(), data.asSlice(r * rowBytes, rowBytes), v);
                        if (planted.contains((int) r)) {
                            java.util.Arrays.fill(v, 0f);
                            v[K] = 4f;
                        } else {
                            v[K] = 0f;
                        }
                        Quantization.encodeRow(t.type(), v, dst);
                    });
                } else if (name.equals("v.blk.0.ffn_up.bias")) {
                    float[] v = new float[rowLen];
                    w.addEncodedTensor(name, t.type(), t.shape(), (r, dst) -> {
                        Quantization.decodeRow(t.type(), data.asSlice(r * rowBytes, rowBytes), v);
                        for (int n : PLANTED) {
                            v[n] = -4f; // on when the normalised channel K exceeds 1
                        }
                        Quantization.encodeRow(t.type(), v, dst);
                    });
                } else {
                    w.copyTensor(src, name);
                }
            }
            w.write(out);
        }
    }
}
