package org.neuronscope.media;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.FormatException;
import org.neuronscope.model.Model;
import org.neuronscope.testkit.SyntheticMedia;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Media headers that claim absurd parameters are refused before a decoder believes them. Before,
 * a WAV header claiming 2 Hz made decoding run past 60 s at a gigabyte and growing.
 */
class MediaLimitsTest {
    @TempDir
    Path dir;

    private byte[] wav(int claimedRate) throws IOException {
        byte[] b = Files.readAllBytes(SyntheticMedia.writeWav(dir.resolve("tone.wav"), SyntheticMedia.tone(440, 0.5, 16000, 1), 16000));
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(24, claimedRate).putInt(28, claimedRate * 2);
        return b;
    }

    private static void assertRefused(String part, byte[] bytes) {
        FormatException e = assertThrows(FormatException.class, () -> MediaLimits.checkEncoded(bytes, "test file x.bin"));
        assertTrue(e.getMessage().contains("x.bin") && e.getMessage().contains(part), e.getMessage());
    }

    @Test
    void headersClaimingAbsurdParametersAreRefused() throws IOException {
        assertDoesNotThrow(() -> MediaLimits.checkEncoded(wav(16000), "ok"));
        assertRefused("sample rate of 2 Hz", wav(2));
        assertRefused("sample rate of 3 Hz", wav(3));
        assertRefused("sample rate of 2000000 Hz", wav(2_000_000));
        // an hour and a half at 1 kHz
        byte[] longWav = wav(1000);
        ByteBuffer.wrap(longWav).order(ByteOrder.LITTLE_ENDIAN).putInt(32, 0); // block align 0
        assertRefused("bytes per frame", longWav);

        byte[] png = Files.readAllBytes(SyntheticMedia.writePng(dir.resolve("i.png"), 8, 8, 1));
        assertDoesNotThrow(() -> MediaLimits.checkEncoded(png, "ok"));
        ByteBuffer.wrap(png).order(ByteOrder.BIG_ENDIAN).putInt(16, 100_000).putInt(20, 100_000);
        assertRefused("100000 x 100000", png);

        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        assertRefused("65535 x 65535", gif);

        // a JPEG whose SOF0 claims 60000 x 60000
        byte[] jpeg = {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xC0, 0, 17, 8, (byte) 0xEA, 0x60, (byte) 0xEA, 0x60, 3};
        assertRefused("60000 x 60000", jpeg);

        // FLAC STREAMINFO with a sample rate of 2 Hz
        byte[] flac = new byte[4 + 4 + 34];
        System.arraycopy("fLaC".getBytes(), 0, flac, 0, 4);
        flac[4] = (byte) 0x80; // last block, type 0 (STREAMINFO)
        flac[7] = 34;
        flac[8 + 10] = 0;
        flac[8 + 11] = 0;
        flac[8 + 12] = (byte) 0x20; // 20 bits of rate = 2
        assertRefused("sample rate of 2 Hz", flac);
    }

    @Test
    void aTwoHertzWavIsRefusedQuicklyThroughTheProjector() throws Exception {
        Path bad = Files.write(dir.resolve("two-hertz.wav"), wav(2));
        try (Model model = Model.load(MultimodalFixtures.audioModel());
             Projector audio = Projector.load(model, MultimodalFixtures.audioProjector(), MultimodalFixtures.params())) {
            MultimodalPrompts prompts = new MultimodalPrompts(audio, PromptFormat.chat());
            FormatException e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThrows(FormatException.class,
                    () -> prompts.prepare(Projector.marker(), List.of(Media.audio(bad)), false)));
            assertTrue(e.getMessage().contains("two-hertz.wav") && e.getMessage().contains("2 Hz"), e.getMessage());
            assertThrows(FormatException.class, () -> prompts.prepare(Projector.marker(),
                    List.of(Media.audioSamples(new float[(int) (MediaLimits.MAX_AUDIO_SECONDS * audio.audioSampleRate()) + 16])), false));
        }
    }
}
