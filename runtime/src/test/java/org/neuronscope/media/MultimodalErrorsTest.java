package org.neuronscope.media;

import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Sample;
import org.neuronscope.gguf.GgufFormatException;
import org.neuronscope.model.Model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every misuse is an exception that names the problem; nothing reaches mtmd that would crash it. */
class MultimodalErrorsTest {
    private static void assertMessage(Throwable t, String... parts) {
        for (String p : parts) {
            assertTrue(t.getMessage().contains(p), "'" + t.getMessage() + "' should mention '" + p + "'");
        }
    }

    @Test
    void textOnlyModelGivenAnImage() {
        try (Model model = Model.load(MultimodalFixtures.visionModel())) {
            Sample s = new Sample("s1", "What is this?", null, List.of(MultimodalFixtures.testImage()), List.of(), List.of(),
                    List.of(), List.of(), Sample.NO_ANSWER, Map.of());
            var e = assertThrows(IllegalArgumentException.class, () -> new TextPrompts(model, PromptFormat.chat()).prepare(s));
            assertMessage(e, "s1", "projector");
        }
    }

    @Test
    void projectorWithoutTheModalityRefusesIt() {
        try (Model model = Model.load(MultimodalFixtures.audioModel());
             Projector audio = Projector.load(model, MultimodalFixtures.audioProjector(), MultimodalFixtures.params())) {
            MultimodalPrompts prompts = new MultimodalPrompts(audio, PromptFormat.chat());
            var e = assertThrows(org.neuronscope.UnsupportedArchitectureException.class,
                    () -> prompts.prepare(Projector.marker() + "?", List.of(Media.image(MultimodalFixtures.testImage())), false));
            assertMessage(e, "no vision encoder");
            var v = assertThrows(org.neuronscope.UnsupportedArchitectureException.class, () -> prompts.prepare(Projector.marker() + "?",
                    List.of(Media.videoFrames(List.of(Media.image(MultimodalFixtures.testImage())))), false));
            assertMessage(v, "no vision encoder");
        }
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector vision = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params())) {
            var e = assertThrows(org.neuronscope.UnsupportedArchitectureException.class, () -> new MultimodalPrompts(vision, PromptFormat.chat())
                    .prepare(Projector.marker(), List.of(Media.audio(MultimodalFixtures.testAudio())), false));
            assertMessage(e, "no audio encoder");
        }
    }

    @Test
    @org.neuronscope.testkit.ExpectNativeErrors("undecodable media bytes: mtmd's helper tries image, audio, then video (ffprobe)")
    void missingEmptyUndecodableAndMislabelledFiles(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector vision = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params())) {
            MultimodalPrompts prompts = new MultimodalPrompts(vision, PromptFormat.chat());
            String m = Projector.marker();
            Path missing = dir.resolve("nope.png");
            assertMessage(assertThrows(java.io.UncheckedIOException.class, () -> prompts.prepare(m, List.of(Media.image(missing)), false)),
                    "not found", "nope.png");
            Path empty = Files.createFile(dir.resolve("empty.png"));
            assertMessage(assertThrows(org.neuronscope.FormatException.class, () -> prompts.prepare(m, List.of(Media.image(empty)), false)),
                    "empty", "empty.png");
            Path garbage = Files.write(dir.resolve("garbage.png"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
            assertMessage(assertThrows(org.neuronscope.FormatException.class, () -> prompts.prepare(m, List.of(Media.image(garbage)), false)),
                    "cannot decode", "garbage.png");
            // (a truncated JPEG is not an error for stb_image, which fills the missing rows; not tested)
            // an image passed where audio was declared is reported, not silently used
            try (Model am = Model.load(MultimodalFixtures.audioModel());
                 Projector audio = Projector.load(am, MultimodalFixtures.audioProjector(), MultimodalFixtures.params())) {
                var e = assertThrows(org.neuronscope.FormatException.class, () -> new MultimodalPrompts(audio, PromptFormat.chat())
                        .prepare(m, List.of(Media.audio(MultimodalFixtures.testImage())), false));
                assertTrue(e.getMessage().contains("test-1.jpeg"), e.getMessage());
            }
            assertThrows(IllegalArgumentException.class, () -> Media.imagePixels(4, 4, new byte[5]));
            assertThrows(IllegalArgumentException.class, () -> Media.audioSamples(new float[0]));
        }
    }

    @Test
    void projectorThatDoesNotMatchTheModel(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        try (Model model = Model.load(MultimodalFixtures.visionModel())) {
            var wrongWidth = assertThrows(org.neuronscope.model.ModelLoadException.class,
                    () -> Projector.load(model, MultimodalFixtures.mismatchedProjector(), MultimodalFixtures.params()));
            assertMessage(wrongWidth, "32", "64", "another model");
            var notProjector = assertThrows(org.neuronscope.model.ModelLoadException.class,
                    () -> Projector.load(model, MultimodalFixtures.audioModel(), MultimodalFixtures.params()));
            assertMessage(notProjector, "not a multimodal projector");
            assertMessage(assertThrows(org.neuronscope.model.ModelLoadException.class,
                    () -> Projector.load(model, dir.resolve("missing.gguf"), MultimodalFixtures.params())), "not found");
            Path cut = Files.write(dir.resolve("cut.gguf"),
                    java.util.Arrays.copyOf(Files.readAllBytes(MultimodalFixtures.visionProjector()), 4096));
            assertThrows(GgufFormatException.class, () -> Projector.load(model, cut, MultimodalFixtures.params()));
        }
    }

    @Test
    void emptyPromptAndMarkerCountMismatch() {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector vision = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params())) {
            MultimodalPrompts prompts = new MultimodalPrompts(vision, PromptFormat.chat());
            assertMessage(assertThrows(IllegalArgumentException.class, () -> prompts.prepare("", List.of(), false)), "empty");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> new TextPrompts(model, PromptFormat.chat()).ofText("", false)), "empty");
            var e = assertThrows(IllegalArgumentException.class,
                    () -> prompts.prepare("no marker here", List.of(Media.image(MultimodalFixtures.testImage())), false));
            assertMessage(e, "0 media marker", "1 media item");
        }
    }

    @Test
    void promptDecodedIntoAnotherModelsSession() {
        try (Model model = Model.load(MultimodalFixtures.visionModel());
             Projector vision = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Model other = Model.load(MultimodalFixtures.audioModel());
             org.neuronscope.model.Session session = other.newSession(MultimodalFixtures.session());
             Prompt p = new MultimodalPrompts(vision, PromptFormat.chat()).prepare(Projector.marker(),
                     List.of(Media.image(MultimodalFixtures.testImage())), false)) {
            var e = assertThrows(IllegalArgumentException.class, () -> p.decode(session, 0, 0, new int[p.length()], DecodeStep.plain(session)));
            assertMessage(e, "position");
            assertThrows(IllegalArgumentException.class, () -> p.decode(session, 0, 0, new int[p.length() + 1], DecodeStep.plain(session)));
        }
    }

    @Test
    void closedProjectorAndModel() {
        Model model = Model.load(MultimodalFixtures.visionModel());
        Projector vision = Projector.load(model, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
        MultimodalPrompts prompts = new MultimodalPrompts(vision, PromptFormat.chat());
        vision.close();
        assertMessage(assertThrows(IllegalStateException.class,
                () -> prompts.prepare(Projector.marker(), List.of(Media.image(MultimodalFixtures.testImage())), false)), "closed");
        model.close();
    }
}
