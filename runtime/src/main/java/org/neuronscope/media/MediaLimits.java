package org.neuronscope.media;

import org.neuronscope.FormatException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Bounds on media read from headers before any decoder sees the bytes. A WAV header that claims a
 * sample rate of 2 Hz makes the decoder resample each sample into thousands (minutes of work and
 * gigabytes for a small file); an image header that claims 100,000 × 100,000 pixels asks for 30 GB.
 * The limits are far above any real input: audio 1 kHz to 768 kHz and at most an hour, images at
 * most 2^27 pixels (e.g. 16,384 × 8,192) and 65,535 pixels a side.
 */
final class MediaLimits {
    static final int MIN_SAMPLE_RATE = 1_000;
    static final int MAX_SAMPLE_RATE = 768_000;
    static final double MAX_AUDIO_SECONDS = 3_600;
    static final long MAX_PIXELS = 1L << 27;
    static final int MAX_SIDE = 65_535;
    /** Fewest samples an audio clip may have: mtmd aborts on one or none. */
    static final int MIN_SAMPLES = 2;

    private MediaLimits() {
    }

    /** Checks what the header of an encoded image or audio file claims (formats not recognised pass: the decoder judges them). */
    static void checkEncoded(byte[] b, String what) {
        if (startsWith(b, 0, "RIFF") && startsWith(b, 8, "WAVE")) {
            checkWav(b, what);
        } else if (startsWith(b, 0, "fLaC")) {
            checkFlac(b, what);
        } else if (b.length >= 24 && (b[0] & 0xff) == 0x89 && startsWith(b, 1, "PNG") && startsWith(b, 12, "IHDR")) {
            checkPixels(be32(b, 16), be32(b, 20), what);
        } else if (startsWith(b, 0, "GIF8") && b.length >= 10) {
            checkPixels(le16(b, 6), le16(b, 8), what);
        } else if (startsWith(b, 0, "BM") && b.length >= 26) {
            checkPixels(Math.abs((long) le32(b, 18)), Math.abs((long) le32(b, 22)), what);
        } else if (b.length >= 4 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8) {
            checkJpeg(b, what);
        }
    }

    /** Raw PCM handed over as samples at the projector's rate. */
    static void checkSamples(int samples, int sampleRate, String what) {
        if (samples < MIN_SAMPLES) {
            // mtmd asserts more than one sample (mtmd.cpp: GGML_ASSERT(buf.size() > sizeof(float))), aborting the process
            throw new FormatException(what + ": " + samples + " audio sample(s); at least " + MIN_SAMPLES + " are needed");
        }
        if (sampleRate > 0 && samples / (double) sampleRate > MAX_AUDIO_SECONDS) {
            throw new FormatException(what + ": " + samples + " samples at " + sampleRate + " Hz last " + (long) (samples / (double) sampleRate)
                    + " s, more than the " + (long) MAX_AUDIO_SECONDS + " s allowed");
        }
    }

    static void checkPixels(long width, long height, String what) {
        if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
            throw new FormatException(what + ": the image claims " + width + " x " + height + " pixels; at most " + MAX_SIDE
                    + " a side and " + MAX_PIXELS + " in all are accepted");
        }
    }

    private static void checkRate(long rate, double seconds, String what) {
        if (rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
            throw new FormatException(what + ": the audio header claims a sample rate of " + rate + " Hz; " + MIN_SAMPLE_RATE + " to "
                    + MAX_SAMPLE_RATE + " Hz are accepted");
        }
        if (seconds > MAX_AUDIO_SECONDS) {
            throw new FormatException(what + ": the audio header claims " + (long) seconds + " s of sound, more than the "
                    + (long) MAX_AUDIO_SECONDS + " s allowed");
        }
    }

    private static void checkWav(byte[] b, String what) {
        int pos = 12;
        long rate = -1;
        int blockAlign = 0;
        while (pos + 8 <= b.length) {
            long size = Integer.toUnsignedLong(le32(b, pos + 4));
            if (startsWith(b, pos, "fmt ") && pos + 8 + 16 <= b.length) {
                int channels = le16(b, pos + 10);
                rate = Integer.toUnsignedLong(le32(b, pos + 12));
                blockAlign = le16(b, pos + 20);
                if (channels == 0 || blockAlign == 0) {
                    throw new FormatException(what + ": the WAV header claims " + channels + " channels and " + blockAlign + " bytes per frame");
                }
            } else if (startsWith(b, pos, "data")) {
                if (rate < 0) {
                    throw new FormatException(what + ": a WAV file whose data comes before its format chunk");
                }
                long bytes = Math.min(size, b.length - pos - 8L); // a streamed WAV may claim 0xFFFFFFFF
                checkRate(rate, bytes / (double) blockAlign / rate, what);
                return;
            }
            pos += 8 + size + (size & 1);
            if (pos < 0) {
                break;
            }
        }
        if (rate >= 0) {
            checkRate(rate, 0, what);
        }
    }

    private static void checkFlac(byte[] b, String what) {
        // the first metadata block is STREAMINFO: 4 bytes of block header, then 34 bytes
        if (b.length < 4 + 4 + 18 || (b[4] & 0x7f) != 0) {
            return;
        }
        int p = 8 + 10; // after min/max block size and min/max frame size
        long rate = ((b[p] & 0xffL) << 12) | ((b[p + 1] & 0xffL) << 4) | ((b[p + 2] & 0xf0L) >> 4);
        long total = ((b[p + 3] & 0x0fL) << 32) | ((b[p + 4] & 0xffL) << 24) | ((b[p + 5] & 0xffL) << 16) | ((b[p + 6] & 0xffL) << 8) | (b[p + 7] & 0xffL);
        checkRate(rate, rate > 0 ? total / (double) rate : 0, what);
    }

    private static void checkJpeg(byte[] b, String what) {
        int pos = 2;
        while (pos + 4 <= b.length) {
            if ((b[pos] & 0xff) != 0xFF) {
                return;
            }
            int marker = b[pos + 1] & 0xff;
            if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
                pos += 2;
                continue;
            }
            int len = be16(b, pos + 2);
            boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (sof && pos + 9 <= b.length) {
                checkPixels(be16(b, pos + 7), be16(b, pos + 5), what);
                return;
            }
            if (marker == 0xDA || len < 2) {
                return;
            }
            pos += 2 + len;
        }
    }

    private static boolean startsWith(byte[] b, int at, String ascii) {
        if (b.length < at + ascii.length()) {
            return false;
        }
        for (int i = 0; i < ascii.length(); i++) {
            if (b[at + i] != ascii.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static int le16(byte[] b, int at) {
        return at + 2 <= b.length ? ByteBuffer.wrap(b, at, 2).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xffff : 0;
    }

    private static int le32(byte[] b, int at) {
        return at + 4 <= b.length ? ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() : 0;
    }

    private static int be16(byte[] b, int at) {
        return at + 2 <= b.length ? ByteBuffer.wrap(b, at, 2).order(ByteOrder.BIG_ENDIAN).getShort() & 0xffff : 0;
    }

    private static long be32(byte[] b, int at) {
        return at + 4 <= b.length ? Integer.toUnsignedLong(ByteBuffer.wrap(b, at, 4).order(ByteOrder.BIG_ENDIAN).getInt()) : 0;
    }
}
