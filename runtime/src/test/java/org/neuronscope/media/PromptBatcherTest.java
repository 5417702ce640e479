package org.neuronscope.media;

import org.neuronscope.hooks.HookScope;

import org.neuronscope.testkit.SyntheticMedia;

import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Sample;
import org.neuronscope.HookPoint;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.collect.StatisticsCollector;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several prompts in one go (text sharing batches, media in between) against each decoded alone. */
class PromptBatcherTest {
    @Test
    void batchedPromptsGiveTheLogitsAndStatisticsOfSeparateDecodes() throws Exception {
        Path image = SyntheticMedia.writePng(MultimodalFixtures.dir().resolve("batcher.png"), 64, 80, 11);
        List<Sample> samples = List.of(
                Sample.text("t1", "The capital of France is", List.of()),
                new Sample("i1", "What is shown?", null, List.of(image), List.of(), List.of(), List.of(), List.of(), Sample.NO_ANSWER, Map.of()),
                Sample.text("t2", "Count from one to ten: one, two, three, four, five", List.of()),
                new Sample("i2", "Compare the pictures.", "Be brief.", List.of(image, MultimodalFixtures.testImage()), List.of(), List.of(),
                        List.of(), List.of(), Sample.NO_ANSWER, Map.of()));
        ModalityGrouping grouping = new ModalityGrouping();
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session().withBatchSize(48).withMaxSequences(4));
             HookScope hooks = session.hooks().openScope()) {
            MultimodalPrompts source = new MultimodalPrompts(projector, PromptFormat.chat());
            List<Prompt> prompts = new ArrayList<>();
            List<int[]> groups = new ArrayList<>();
            try {
                for (Sample s : samples) {
                    Prompt p = source.prepare(s);
                    prompts.add(p);
                    groups.add(grouping.groups(s, p));
                }
                // separately: last logits and statistics per prompt
                float[][] alone = new float[prompts.size()][];
                NeuronStatistics separate;
                try (StatisticsCollector c = StatisticsCollector.start(session, HookPoint.FFN_ACT, grouping.groupNames(),
                        EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f)) {
                    for (int i = 0; i < prompts.size(); i++) {
                        c.add(prompts.get(i), groups.get(i));
                        alone[i] = session.logitsArray(prompts.get(i).lastBatchIndex());
                    }
                    separate = c.statistics().copy();
                }
                // together
                float[][] together = new float[prompts.size()][];
                session.clearMemory();
                int[] next = PromptBatcher.decode(session, prompts, new int[] {0, 1, 2, 3}, groups, DecodeStep.plain(session),
                        (p, index) -> together[p] = session.logitsArray(index));
                for (int i = 0; i < prompts.size(); i++) {
                    assertEquals(prompts.get(i).positionCount(), next[i]);
                    assertEquals(session.maxPosition(i), next[i] - 1, "sequence " + i + " holds the prompt");
                    for (int k = 0; k < alone[i].length; k++) {
                        assertEquals(alone[i][k], together[i][k], 2e-3f + 2e-3f * Math.abs(alone[i][k]), "prompt " + i + " logit " + k);
                    }
                }
                try (StatisticsCollector c = StatisticsCollector.start(session, HookPoint.FFN_ACT, grouping.groupNames(),
                        EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f)) {
                    c.addAll(prompts, groups);
                    NeuronStatistics batched = c.statistics();
                    assertEquals(prompts.size(), c.samplesDone());
                    double countDiff = 0;
                    double countTotal = 0;
                    for (int g = 0; g < grouping.groupNames().size(); g++) {
                        assertEquals(separate.tokens(g), batched.tokens(g), "tokens of group " + g);
                        for (int l = 0; l < separate.layers(); l++) {
                            for (int n = 0; n < separate.neurons(); n++) {
                                countDiff += Math.abs(separate.get(Statistic.COUNT, l, g, n) - batched.get(Statistic.COUNT, l, g, n));
                                countTotal += separate.get(Statistic.COUNT, l, g, n);
                                assertEquals(separate.get(Statistic.SUM, l, g, n), batched.get(Statistic.SUM, l, g, n),
                                        1e-2 + 1e-3 * Math.abs(separate.get(Statistic.SUM, l, g, n)));
                            }
                        }
                    }
                    assertTrue(countTotal > 1000);
                    // activations within rounding of zero may flip sign between batch shapes; nothing more
                    assertTrue(countDiff <= 1e-3 * countTotal, "count differences " + countDiff + " of " + countTotal);
                }
                separate.close();
            } finally {
                prompts.forEach(Prompt::close);
            }
        }
    }

    @Test
    void videoFramesAreMergedInPairsAndLabelledVideo() {
        List<Media> frames = new ArrayList<>();
        for (int f = 0; f < 4; f++) {
            frames.add(Media.image(SyntheticMedia.writePng(MultimodalFixtures.dir().resolve("frame-" + f + ".png"), 56, 56, 100 + f)));
        }
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session())) {
            MultimodalPrompts source = new MultimodalPrompts(projector, PromptFormat.chat());
            String m = Projector.marker();
            int perImage;
            try (Prompt one = source.prepare(m, List.of(frames.get(0)), false)) {
                perImage = (int) java.util.Arrays.stream(one.modalities()).filter(x -> x == Modality.IMAGE).count();
            }
            try (Prompt video = source.prepare("Watch: " + m + " and this image " + m + " now.",
                    List.of(Media.videoFrames(frames), frames.get(1)), false)) {
                Modality[] ms = video.modalities();
                long videoEntries = java.util.Arrays.stream(ms).filter(x -> x == Modality.VIDEO).count();
                long imageEntries = java.util.Arrays.stream(ms).filter(x -> x == Modality.IMAGE).count();
                // Qwen2-VL merges two frames of one size into one chunk of one frame's tokens
                assertEquals(2L * perImage, videoEntries);
                assertEquals(perImage, imageEntries);
                int next = video.decode(session, 0, 0, new int[video.length()], DecodeStep.plain(session));
                assertEquals(video.positionCount(), next);
                assertTrue(video.positionCount() < video.length(), "M-RoPE media share positions");
            }
        }
    }

    @Test
    void textPromptsLabelTemplateTokensSpecial() {
        try (Model model = Model.load(MultimodalFixtures.audioModel())) {
            TextPrompts prompts = new TextPrompts(model, PromptFormat.chat());
            Sample s = new Sample("q", "Which is larger?", "Answer briefly.", List.of(), List.of(), List.of(), List.of("B"),
                    List.of("one", "two"), 1, Map.of("lang", "en"));
            try (Prompt p = prompts.prepare(s)) {
                String text = PromptFormat.chat().format(model.tokenizer(), s, null);
                assertTrue(text.contains("A. one\nB. two"), text);
                int[] tokens = model.tokenizer().tokenize(text, false, true);
                assertEquals(tokens.length, p.length());
                for (int i = 0; i < tokens.length; i++) {
                    assertEquals(model.tokenizer().isControl(tokens[i]) ? Modality.SPECIAL : Modality.TEXT, p.modality(i));
                }
                assertTrue(java.util.Arrays.asList(p.modalities()).contains(Modality.SPECIAL));
                int[] byLabel = new LabelGrouping("lang", List.of("de", "en"), true).groups(s, p);
                for (int i = 0; i < tokens.length; i++) {
                    assertEquals(p.modality(i) == Modality.TEXT ? 1 : -1, byLabel[i]);
                }
            }
        }
    }

    /**
     * Gemma 3 attends to an image's tokens bidirectionally: the image chunk is decoded with causal
     * attention off (so an image token sees the ones after it) and back on for the text after it.
     * Oracle: the logits after the prompt differ from a causal decode of the same embeddings, and a
     * chunk that does not fit one micro-batch is refused with a clear message.
     */
    @Test
    void gemma3ImagesAreDecodedNonCausally() {
        try (Model model = Model.load(MultimodalFixtures.gemmaModel());
             Projector projector = Projector.load(model, MultimodalFixtures.gemmaProjector(), MultimodalFixtures.params())) {
            assertTrue(projector.supportsVision());
            assertTrue(!projector.usesMrope());
            String text = "<start_of_turn>user\n" + Projector.marker() + "What is it?<end_of_turn>\n<start_of_turn>model\n";
            Path image = SyntheticMedia.writePng(MultimodalFixtures.dir().resolve("gemma.png"), 100, 70, 17);
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat()).prepare(text, List.of(Media.image(image)), true)) {
                long images = java.util.Arrays.stream(p.modalities()).filter(m -> m == Modality.IMAGE).count();
                assertEquals(16, images, "128-pixel image, 8-pixel patches pooled 4x4");
                int[] none = new int[p.length()];
                float[] nonCausal;
                try (Session session = model.newSession(MultimodalFixtures.session())) {
                    p.decode(session, 0, 0, none, DecodeStep.plain(session));
                    nonCausal = session.logitsArray(p.lastBatchIndex());
                }
                // the same embeddings, decoded causally: forcing causal attention back on inside every decode
                float[] causal;
                try (Session session = model.newSession(MultimodalFixtures.session())) {
                    p.decode(session, 0, 0, none, (batch, g) -> {
                        org.neuronscope.bindings.neuronscope_h.llama_set_causal_attn(org.neuronscope.internal.NativeHandle.of(session).get(), true);
                        session.decode(batch);
                    });
                    causal = session.logitsArray(p.lastBatchIndex());
                }
                double diff = 0;
                for (int k = 0; k < causal.length; k++) {
                    diff = Math.max(diff, Math.abs(causal[k] - nonCausal[k]));
                }
                assertTrue(diff > 1e-3, "bidirectional attention within the image changes the output, diff " + diff);
                try (Session small = model.newSession(MultimodalFixtures.session().withBatchSize(8).withUbatchSize(8))) {
                    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                            () -> p.decode(small, 0, 0, none, DecodeStep.plain(small)));
                    assertTrue(e.getMessage().contains("micro-batch"), e.getMessage());
                }
            }
        }
    }

    /** Generation after a prepared prompt equals generation from its tokens; after an image it continues at the M-RoPE position. */
    @Test
    void generationContinuesAfterAPrompt() {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session());
             org.neuronscope.model.Sampler greedy = org.neuronscope.model.Sampler.greedy()) {
            Sample s = Sample.text("g", "Once upon a time", List.of());
            int[] expected;
            try (Prompt p = new TextPrompts(model, PromptFormat.raw()).prepare(s)) {
                int[] tokens = model.tokenizer().tokenize(PromptFormat.raw().format(model.tokenizer(), s, null), true, true);
                expected = org.neuronscope.model.Generator.generate(session, greedy, tokens, 12).tokens();
                session.clearMemory();
                int next = p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session));
                int[] got = org.neuronscope.model.Generator.continueAfter(session, greedy, 0, next, p.lastBatchIndex(), 12, null, null).tokens();
                org.junit.jupiter.api.Assertions.assertArrayEquals(expected, got);
            }
            session.clearMemory();
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat())
                    .prepare(new Sample("i", "Describe.", null, List.of(MultimodalFixtures.testImage()), List.of(), List.of(), List.of(),
                            List.of(), Sample.NO_ANSWER, Map.of()))) {
                int next = p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session));
                var r = org.neuronscope.model.Generator.continueAfter(session, greedy, 0, next, p.lastBatchIndex(), 5, null, null);
                int fed = r.tokens().length - (r.stopReason() == org.neuronscope.model.Generator.StopReason.MAX_TOKENS ? 1 : 0);
                assertEquals(next - 1 + fed, session.maxPosition(0));
            }
        }
    }

    /**
     * A video file through mtmd's ffmpeg helper (llama.cpp's tools/mtmd/test-3.mp4): its frames become
     * video entries. Needs ffmpeg and ffprobe on PATH and a build with video support, else skipped.
     */
    @Test
    void videoFileThroughFfmpeg() {
        org.junit.jupiter.api.Assumptions.assumeTrue(onPath("ffmpeg") && onPath("ffprobe"), "ffmpeg/ffprobe not on PATH");
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session().withContextSize(8192).withBatchSize(1024))) {
            org.junit.jupiter.api.Assumptions.assumeTrue(projector.supportsVideoFiles(), "mtmd built without video support");
            Path video = org.neuronscope.testkit.LlamaTree.root().resolve("tools/mtmd/test-3.mp4");
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat()).prepare("Watch " + Projector.marker() + " now.",
                    List.of(Media.video(video)), false)) {
                long videoEntries = java.util.Arrays.stream(p.modalities()).filter(m -> m == Modality.VIDEO).count();
                assertTrue(videoEntries > 0, "video entries");
                assertEquals(0, java.util.Arrays.stream(p.modalities()).filter(m -> m == Modality.IMAGE).count());
                int next = p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session));
                assertEquals(p.positionCount(), next);
            }
        }
    }

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        return path != null && java.util.Arrays.stream(path.split(java.io.File.pathSeparator))
                .anyMatch(d -> java.nio.file.Files.isExecutable(Path.of(d, tool)));
    }
}
