package org.neuronscope.media;

import org.neuronscope.hooks.HookScope;

import org.neuronscope.testkit.SyntheticMedia;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.mtmd_input_text;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.eval.Sample;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.HookPoint;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.collect.StatisticsCollector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prompts with images (Qwen2-VL projector on a qwen2vl model) and audio (Qwen2-Audio projector on a
 * qwen2 model), checked against mtmd's own marker-based tokenization, the tokenizer, the GGUF's
 * token embeddings and a second encode of the same media.
 */
class MultimodalPromptsTest {
    private static final String IMAGE_TEXT = "<|im_start|>user\n" + "%s" + "What is in the picture?<|im_end|>\n<|im_start|>assistant\n";

    static Path generatedImage;
    static Path generatedWav;

    @BeforeAll
    static void media() {
        generatedImage = SyntheticMedia.writePng(MultimodalFixtures.dir().resolve("gen-120x90.png"), 120, 90, 5);
        generatedWav = SyntheticMedia.writeWav(MultimodalFixtures.dir().resolve("tone.wav"), SyntheticMedia.tone(440, 1.5, 16000, 3), 16000);
    }

    /** Entries per modality, counted over a prompt's labels. */
    static Map<Modality, Integer> counts(Prompt p) {
        Map<Modality, Integer> c = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            c.put(m, 0);
        }
        for (Modality m : p.modalities()) {
            c.merge(m, 1, Integer::sum);
        }
        return c;
    }

    /**
     * mtmd's own path (mtmd_tokenize with markers, bitmaps from files) for the same text and media:
     * tokens per chunk type, and the text tokens in order.
     */
    record MtmdReport(Map<Integer, Long> tokensByType, List<Integer> textTokens, long chunks) {
    }

    static MtmdReport mtmdReport(Projector projector, String text, List<Path> files) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = projector.handle();
            MemorySegment bitmaps = arena.allocate(ValueLayout.ADDRESS, Math.max(1, files.size()));
            List<MemorySegment> owned = new ArrayList<>();
            for (int i = 0; i < files.size(); i++) {
                MemorySegment w = neuronscope_h.mtmd_helper_bitmap_init_from_file(arena, ctx, arena.allocateFrom(files.get(i).toString()), false,
                        neuronscope_h.mtmd_helper_init_opt_default(arena));
                MemorySegment b = org.neuronscope.bindings.mtmd_helper_bitmap_wrapper.bitmap(w);
                owned.add(b);
                bitmaps.setAtIndex(ValueLayout.ADDRESS, i, b);
            }
            MemorySegment in = mtmd_input_text.allocate(arena);
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            mtmd_input_text.text(in, arena.allocateFrom(ValueLayout.JAVA_BYTE, utf8));
            mtmd_input_text.text_len(in, utf8.length);
            mtmd_input_text.add_special(in, false);
            mtmd_input_text.parse_special(in, true);
            MemorySegment chunks = neuronscope_h.mtmd_input_chunks_init();
            try {
                assertEquals(0, neuronscope_h.mtmd_tokenize(ctx, chunks, in, bitmaps, files.size()));
                Map<Integer, Long> byType = new java.util.HashMap<>();
                List<Integer> textTokens = new ArrayList<>();
                long n = neuronscope_h.mtmd_input_chunks_size(chunks);
                MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
                for (long i = 0; i < n; i++) {
                    MemorySegment c = neuronscope_h.mtmd_input_chunks_get(chunks, i);
                    int type = neuronscope_h.mtmd_input_chunk_get_type(c);
                    byType.merge(type, neuronscope_h.mtmd_input_chunk_get_n_tokens(c), Long::sum);
                    if (type == neuronscope_h.MTMD_INPUT_CHUNK_TYPE_TEXT()) {
                        MemorySegment t = neuronscope_h.mtmd_input_chunk_get_tokens_text(c, count);
                        for (int v : t.reinterpret(count.get(ValueLayout.JAVA_LONG, 0) * 4).toArray(ValueLayout.JAVA_INT)) {
                            textTokens.add(v);
                        }
                    }
                }
                return new MtmdReport(byType, textTokens, n);
            } finally {
                neuronscope_h.mtmd_input_chunks_free(chunks);
                owned.forEach(neuronscope_h::mtmd_bitmap_free);
            }
        }
    }

    @Test
    void imagePromptLabelsMatchMtmdAndTheTokenizer() {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params())) {
            assertTrue(projector.supportsVision());
            assertTrue(projector.usesMrope());
            String marker = Projector.marker();
            String text = IMAGE_TEXT.formatted(marker + "\nand\n" + marker);
            List<Path> files = List.of(MultimodalFixtures.testImage(), generatedImage);
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat()).prepare(text,
                    List.of(Media.image(files.get(0)), Media.image(files.get(1))), false)) {
                MtmdReport mtmd = mtmdReport(projector, text, files);
                Map<Modality, Integer> c = counts(p);
                assertEquals(mtmd.tokensByType().get(neuronscope_h.MTMD_INPUT_CHUNK_TYPE_IMAGE()), (long) c.get(Modality.IMAGE));
                assertEquals(mtmd.tokensByType().get(neuronscope_h.MTMD_INPUT_CHUNK_TYPE_TEXT()),
                        (long) (c.get(Modality.TEXT) + c.get(Modality.SPECIAL)));
                assertEquals(0, c.get(Modality.AUDIO) + c.get(Modality.VIDEO));
                assertTrue(c.get(Modality.IMAGE) >= 16, "two images of at least 8 tokens each");

                // The text and special entries are exactly the tokenizer's tokens of the text with each
                // marker replaced by the boundary tokens mtmd inserts; special = the control tokens.
                String replaced = text.replace(marker, "<|vision_start|><|vision_end|>");
                int[] expected = model.tokenizer().tokenize(replaced, false, true);
                assertEquals(expected.length, c.get(Modality.TEXT) + c.get(Modality.SPECIAL));
                assertEquals(mtmd.textTokens(), java.util.Arrays.stream(expected).boxed().toList());
                int k = 0;
                for (Modality m : p.modalities()) {
                    if (!m.isMedia()) {
                        assertEquals(model.tokenizer().isControl(expected[k]) ? Modality.SPECIAL : Modality.TEXT, m, "token " + k);
                        k++;
                    }
                }
                // the image entries sit between <|vision_start|> and <|vision_end|>
                Modality[] ms = p.modalities();
                for (int i = 1; i < ms.length; i++) {
                    if (ms[i] == Modality.IMAGE && ms[i - 1] != Modality.IMAGE) {
                        assertEquals(Modality.SPECIAL, ms[i - 1]);
                    }
                    if (ms[i] != Modality.IMAGE && ms[i - 1] == Modality.IMAGE) {
                        assertEquals(Modality.SPECIAL, ms[i]);
                    }
                }
            }
        }
    }

    @Test
    void audioPromptLabelsMatchMtmd() {
        try (Model model = Model.load(MultimodalFixtures.audioModel());
             Projector projector = Projector.load(model, MultimodalFixtures.audioProjector(), MultimodalFixtures.params())) {
            assertTrue(projector.supportsAudio());
            assertEquals(16000, projector.audioSampleRate());
            String marker = Projector.marker();
            String text = "<|im_start|>user\n" + marker + marker + "Transcribe.<|im_end|>\n";
            List<Path> files = List.of(MultimodalFixtures.testAudio(), generatedWav);
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat()).prepare(text,
                    List.of(Media.audio(files.get(0)), Media.audio(files.get(1))), false)) {
                MtmdReport mtmd = mtmdReport(projector, text, files);
                Map<Modality, Integer> c = counts(p);
                assertEquals(mtmd.tokensByType().get(neuronscope_h.MTMD_INPUT_CHUNK_TYPE_AUDIO()), (long) c.get(Modality.AUDIO));
                assertEquals(mtmd.tokensByType().get(neuronscope_h.MTMD_INPUT_CHUNK_TYPE_TEXT()),
                        (long) (c.get(Modality.TEXT) + c.get(Modality.SPECIAL)));
                assertEquals(0, c.get(Modality.IMAGE) + c.get(Modality.VIDEO));
                assertEquals(p.length(), p.positionCount(), "no M-RoPE: one position per entry");
            }
        }
    }

    /**
     * With layer 0 adding nothing to the residual stream, its resid.post tap is the input of the
     * model: at media entries exactly the embeddings mtmd produced (and a second, independent encode
     * of the same chunk reproduces them), at text entries the token_embd rows of the GGUF file.
     */
    @Test
    void residualTapShowsMediaEmbeddingsExactlyAtMediaEntries() {
        Path modelFile = MultimodalFixtures.visionModelWithTransparentLayer0();
        try (Model model = Model.load(modelFile);
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session().withBatchSize(64).withUbatchSize(16));
             HookScope hooks = session.hooks().openScope();
             GgufFile gguf = GgufFile.open(modelFile)) {
            String text = IMAGE_TEXT.formatted(Projector.marker());
            int width = model.embeddingSize();
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat()).prepare(text, List.of(Media.image(generatedImage)), false)) {
                float[][] tapped = new float[p.length()][];
                float[][] fed = new float[p.length()][];
                int[] tokens = new int[p.length()];
                int[][] positions = new int[p.length()][];
                int[] entryOfBatch0 = {0};
                int[] batchBase = {0};
                hooks.tap(HookPoint.RESID_POST, 0, (point, layer, data, w, n, batchIndex) -> {
                    for (int i = 0; i < n; i++) {
                        tapped[batchBase[0] + batchIndex[i]] = data.asSlice((long) i * w * 4, (long) w * 4).toArray(ValueLayout.JAVA_FLOAT);
                    }
                });
                p.decode(session, 0, 0, new int[p.length()], (batch, groups) -> {
                    batchBase[0] = entryOfBatch0[0];
                    for (int i = 0; i < batch.size(); i++) {
                        int e = entryOfBatch0[0] + i;
                        positions[e] = batch.positions(i);
                        if (batch.holdsEmbeddings()) {
                            fed[e] = batch.embedding(i);
                        } else {
                            tokens[e] = batch.token(i);
                        }
                    }
                    session.decode(batch);
                    entryOfBatch0[0] += batch.size();
                });
                Modality[] ms = p.modalities();
                int media = 0;
                for (int e = 0; e < ms.length; e++) {
                    assertTrue(tapped[e] != null, "entry " + e + " was observed");
                    float[] expected = ms[e].isMedia() ? fed[e] : gguf.row("token_embd.weight", tokens[e]);
                    assertArrayEquals(expected, tapped[e], "entry " + e + " (" + ms[e] + ")");
                    if (ms[e].isMedia()) {
                        media++;
                    }
                }
                assertTrue(media >= 8);

                // an independent encode of the image chunk gives the same embeddings
                SegmentedPrompt sp = (SegmentedPrompt) p;
                int e0 = 0;
                for (Segment s : sp.segments()) {
                    if (s instanceof MediaSegment m) {
                        float[] again = m.encode();
                        for (int i = 0; i < m.length(); i++) {
                            assertArrayEquals(java.util.Arrays.copyOfRange(again, i * width, (i + 1) * width), fed[e0 + i], 1e-6f);
                        }
                        // M-RoPE: one temporal position for the whole image, a 2-D grid for height and width
                        int t = positions[e0][0];
                        for (int i = 0; i < m.length(); i++) {
                            assertEquals(t, positions[e0 + i][0]);
                            assertTrue(positions[e0 + i][1] >= t && positions[e0 + i][2] >= t);
                        }
                        assertEquals(m.length(), java.util.Arrays.stream(positions, e0, e0 + m.length())
                                .map(q -> q[1] + "," + q[2]).distinct().count(), "each image token has its own (y, x)");
                    }
                    e0 += s.length();
                }
            }
        }
    }

    @Test
    void statisticsOfAnImagePromptCountImageAndTextButNotAudio() throws Exception {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session());
             HookScope hooks = session.hooks().openScope()) {
            NeuronStatistics s = collect(session, new MultimodalPrompts(projector, PromptFormat.chat()),
                    sample("img", List.of(generatedImage), List.of()));
            assertCounts(s, Modality.IMAGE, Modality.AUDIO);
        }
    }

    @Test
    void statisticsOfAnAudioPromptCountAudioAndTextButNotImage() throws Exception {
        try (Model model = Model.load(MultimodalFixtures.audioModel());
             Projector projector = Projector.load(model, MultimodalFixtures.audioProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session());
             HookScope hooks = session.hooks().openScope()) {
            NeuronStatistics s = collect(session, new MultimodalPrompts(projector, PromptFormat.chat()),
                    sample("aud", List.of(), List.of(generatedWav)));
            assertCounts(s, Modality.AUDIO, Modality.IMAGE);
        }
    }

    /** MINER's inputs (attention included) for an image prompt decoded in several chunks and micro-batches. */
    @Test
    void minerInputsOfAnImagePrompt() {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector projector = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session().withBatchSize(32).withUbatchSize(8)
                     .withFlashAttention(org.neuronscope.model.SessionParams.FlashAttention.OFF));
             HookScope hooks = session.hooks().openScope()) {
            Sample s = sample("img", List.of(generatedImage), List.of());
            try (Prompt p = new MultimodalPrompts(projector, PromptFormat.chat()).prepare(s)) {
                ModalityGrouping g = new ModalityGrouping();
                int[] groups = g.groups(s, p);
                var miner = new org.neuronscope.collect.MinerCollector(g.groupNames(), true).collect(session, p, groups);
                int image = Modality.IMAGE.ordinal();
                assertEquals(java.util.Arrays.stream(groups).filter(x -> x == image).count(), miner.activations().tokens(image));
                assertEquals(0, miner.activations().tokens(Modality.AUDIO.ordinal()));
                double k = 0;
                double q = 0;
                for (int l = 0; l < model.layerCount(); l++) {
                    for (int n = 0; n < miner.activations().neurons(); n++) {
                        k += Math.abs(miner.attnK().get(Statistic.WEIGHTED_SUM, l, image, n));
                        q += Math.abs(miner.attnQ().get(Statistic.WEIGHTED_SUM, l, image, n));
                        assertEquals(0.0, miner.attnK().get(Statistic.WEIGHTED_SUM, l, Modality.AUDIO.ordinal(), n));
                    }
                }
                assertTrue(k > 0 && q > 0, "image tokens attend to each other");
            }
        }
    }

    /**
     * Image and audio in one prompt through one projector with both encoders (Qwen2.5-Omni's layout) on
     * an M-RoPE model: counts match mtmd, audio positions are one per entry in all four M-RoPE
     * dimensions, and statistics see image, audio, text and special tokens but no video.
     */
    @Test
    void imageAndAudioInOnePrompt() throws Exception {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector omni = Projector.load(model, MultimodalFixtures.omniProjector(), MultimodalFixtures.params());
             Session session = model.newSession(MultimodalFixtures.session());
             HookScope hooks = session.hooks().openScope()) {
            assertTrue(omni.supportsVision() && omni.supportsAudio() && omni.usesMrope());
            String m = Projector.marker();
            String text = "<|im_start|>user\n" + m + "\n" + m + "What do you see and hear?<|im_end|>\n";
            List<Path> files = List.of(generatedImage, generatedWav);
            MultimodalPrompts source = new MultimodalPrompts(omni, PromptFormat.chat());
            try (Prompt p = source.prepare(text, List.of(Media.image(files.get(0)), Media.audio(files.get(1))), false)) {
                MtmdReport mtmd = mtmdReport(omni, text, files);
                Map<Modality, Integer> c = counts(p);
                assertEquals(mtmd.tokensByType().get(neuronscope_h.MTMD_INPUT_CHUNK_TYPE_IMAGE()), (long) c.get(Modality.IMAGE));
                assertEquals(mtmd.tokensByType().get(neuronscope_h.MTMD_INPUT_CHUNK_TYPE_AUDIO()), (long) c.get(Modality.AUDIO));
                assertTrue(c.get(Modality.IMAGE) > 0 && c.get(Modality.AUDIO) > 0);
                List<int[]> audioPositions = new ArrayList<>();
                p.decode(session, 0, 0, new int[p.length()], (batch, groups) -> {
                    if (batch.holdsEmbeddings()) {
                        for (int i = 0; i < batch.size(); i++) {
                            audioPositions.add(batch.positions(i));
                        }
                    }
                    session.decode(batch);
                });
                // the last embedding batch is the audio clip: 1-D positions repeated over the 4 M-RoPE dimensions
                List<int[]> audio = audioPositions.subList(audioPositions.size() - c.get(Modality.AUDIO), audioPositions.size());
                for (int i = 0; i < audio.size(); i++) {
                    int[] q = audio.get(i);
                    assertEquals(audio.get(0)[0] + i, q[0]);
                    assertArrayEquals(new int[] {q[0], q[0], q[0], q[0]}, q);
                }
            }
            NeuronStatistics s = collect(session, source, new Sample("av", "What do you see and hear?", null, List.of(generatedImage),
                    List.of(generatedWav), List.of(), List.of(), List.of(), Sample.NO_ANSWER, Map.of()));
            for (Modality present : List.of(Modality.IMAGE, Modality.AUDIO, Modality.TEXT, Modality.SPECIAL)) {
                assertTrue(total(s, present) > 0, present + " counted");
            }
            assertEquals(0.0, total(s, Modality.VIDEO));
            s.close();
        }
    }

    static Sample sample(String id, List<Path> images, List<Path> audio) {
        return new Sample(id, "Describe it.", "You are a helpful assistant.", images, audio, List.of(), List.of("x"), List.of(),
                Sample.NO_ANSWER, Map.of());
    }

    static NeuronStatistics collect(Session session, PromptSource source, Sample sample) {
        ModalityGrouping grouping = new ModalityGrouping();
        StatisticsCollector c = StatisticsCollector.start(session, HookPoint.FFN_ACT, grouping.groupNames(),
                EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f);
        try (Prompt p = source.prepare(sample)) {
            int[] groups = grouping.groups(sample, p);
            c.add(p, groups);
            NeuronStatistics s = c.statistics().copy();
            for (Modality m : Modality.values()) {
                long n = java.util.Arrays.stream(groups).filter(g -> g == m.ordinal()).count();
                assertEquals(n, s.tokens(m.ordinal()), "token count of " + m);
            }
            return s;
        } finally {
            c.close();
        }
    }

    static void assertCounts(NeuronStatistics s, Modality present, Modality absent) {
        for (Modality m : List.of(present, Modality.TEXT, Modality.SPECIAL)) {
            assertTrue(s.tokens(m.ordinal()) > 0, m + " tokens");
            assertTrue(total(s, m) > 0, m + " has activations counted");
        }
        assertEquals(0, s.tokens(absent.ordinal()));
        assertEquals(0.0, total(s, absent), absent + " must have no counts");
        assertEquals(0.0, total(s, Modality.VIDEO));
    }

    static double total(NeuronStatistics s, Modality m) {
        double t = 0;
        for (int l = 0; l < s.layers(); l++) {
            for (int k = 0; k < s.neurons(); k++) {
                t += s.get(Statistic.COUNT, l, m.ordinal(), k);
            }
        }
        return t;
    }

    @AfterAll
    static void cleanup() throws Exception {
        Files.deleteIfExists(generatedWav);
    }
}
