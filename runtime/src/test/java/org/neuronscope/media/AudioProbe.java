package org.neuronscope.media;

import org.neuronscope.model.Model;
import org.neuronscope.testkit.SyntheticMedia;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Child-JVM main for {@code FuzzReproducersTest}: the audio inputs the fuzzer found aborting mtmd
 * ({@code GGML_ASSERT(buf.size() > sizeof(float))} in mtmd.cpp) — one PCM sample, and a WAV whose
 * data chunk claims 3 bytes. Prints one line per input: {@code REFUSED ...} or {@code ACCEPTED ...}.
 */
public final class AudioProbe {
    private AudioProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createDirectories(Path.of(args[0]));
        byte[] wav = Files.readAllBytes(SyntheticMedia.writeWav(dir.resolve("tone.wav"), SyntheticMedia.tone(440, 0.4, 16000, 1), 16000));
        ByteBuffer.wrap(wav).order(ByteOrder.LITTLE_ENDIAN).putInt(40, 3); // the fuzzer's "wav field 40 = 3"
        Path threeBytes = Files.write(dir.resolve("three-data-bytes.wav"), wav);
        try (Model model = Model.load(MultimodalFixtures.audioModel());
             Projector audio = Projector.load(model, MultimodalFixtures.audioProjector(), MultimodalFixtures.params())) {
            MultimodalPrompts prompts = new MultimodalPrompts(audio, PromptFormat.chat());
            for (Media m : List.of(Media.audioSamples(new float[1]), Media.audio(threeBytes), Media.audioSamples(new float[2]))) {
                try (Prompt p = prompts.prepare(Projector.marker(), List.of(m), false)) {
                    System.out.println("ACCEPTED " + m.describe() + " " + p.length());
                } catch (RuntimeException e) {
                    System.out.println("REFUSED " + m.describe() + ": " + e.getMessage());
                }
            }
        }
    }
}
