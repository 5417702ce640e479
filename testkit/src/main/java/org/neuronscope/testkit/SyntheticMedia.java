package org.neuronscope.testkit;

import java.io.UncheckedIOException;
import org.neuronscope.NeuronScopeException;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Generated media files for tests and the demo: PNG images and 16-bit mono WAV audio. */
public final class SyntheticMedia {
    private SyntheticMedia() {
    }

    /** A seeded image of smooth colour gradients with noise, written as PNG. */
    public static Path writePng(Path out, int width, int height, long seed) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        SplittableRandom rng = new SplittableRandom(seed);
        double fr = 1 + rng.nextDouble() * 4, fg = 1 + rng.nextDouble() * 4, fb = 1 + rng.nextDouble() * 4;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int r = channel(Math.sin(fr * x / width * Math.PI) * 0.8 + rng.nextDouble() * 0.2);
                int g = channel(Math.cos(fg * y / height * Math.PI) * 0.8 + rng.nextDouble() * 0.2);
                int b = channel(Math.sin(fb * (x + y) / (width + height) * Math.PI) * 0.8 + rng.nextDouble() * 0.2);
                img.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        try {
            Files.createDirectories(out.toAbsolutePath().getParent());
            if (!ImageIO.write(img, "png", out.toFile())) {
                throw new IllegalStateException("no PNG writer available");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * A seeded image whose class is planted in its pixels: a square of {@code rgb} (a quarter to a half
     * of the side, at a random place) on a background of dim noise, written as PNG.
     */
    public static Path writeObjectPng(Path out, int width, int height, int rgb, long seed) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        SplittableRandom rng = new SplittableRandom(seed);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int v = 40 + rng.nextInt(60);
                img.setRGB(x, y, (v << 16) | (v << 8) | v);
            }
        }
        int side = Math.min(width, height) / 4 + rng.nextInt(Math.max(1, Math.min(width, height) / 4));
        int x0 = rng.nextInt(Math.max(1, width - side));
        int y0 = rng.nextInt(Math.max(1, height - side));
        for (int y = y0; y < y0 + side; y++) {
            for (int x = x0; x < x0 + side; x++) {
                int jitter = rng.nextInt(16);
                int r = Math.min(255, ((rgb >> 16) & 0xFF) + jitter);
                int g = Math.min(255, ((rgb >> 8) & 0xFF) + jitter);
                int b = Math.min(255, (rgb & 0xFF) + jitter);
                img.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        try {
            Files.createDirectories(out.toAbsolutePath().getParent());
            if (!ImageIO.write(img, "png", out.toFile())) {
                throw new IllegalStateException("no PNG writer available");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        return out;
    }

    private static int channel(double v) {
        return (int) Math.max(0, Math.min(255, Math.round((v + 1) / 2 * 255)));
    }

    /** RGB bytes (row-major, 3 per pixel) of a seeded noise image. */
    public static byte[] rgbNoise(int width, int height, long seed) {
        byte[] rgb = new byte[width * height * 3];
        new SplittableRandom(seed).nextBytes(rgb);
        return rgb;
    }

    /** A sine tone with a little seeded noise, amplitude 0.5. */
    public static float[] tone(double frequencyHz, double seconds, int sampleRate, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] pcm = new float[(int) Math.round(seconds * sampleRate)];
        for (int i = 0; i < pcm.length; i++) {
            pcm[i] = (float) (0.5 * Math.sin(2 * Math.PI * frequencyHz * i / sampleRate) + 0.02 * rng.nextGaussian());
        }
        return pcm;
    }

    /** Writes mono samples in [-1, 1] as a 16-bit PCM WAV file. */
    public static Path writeWav(Path out, float[] pcm, int sampleRate) {
        ByteBuffer b = ByteBuffer.allocate(44 + pcm.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes()).putInt(36 + pcm.length * 2).put("WAVE".getBytes());
        b.put("fmt ".getBytes()).putInt(16).putShort((short) 1).putShort((short) 1).putInt(sampleRate).putInt(sampleRate * 2)
                .putShort((short) 2).putShort((short) 16);
        b.put("data".getBytes()).putInt(pcm.length * 2);
        for (float v : pcm) {
            b.putShort((short) Math.round(Math.max(-1f, Math.min(1f, v)) * 32767));
        }
        try {
            Files.createDirectories(out.toAbsolutePath().getParent());
            try (OutputStream os = Files.newOutputStream(out)) {
                os.write(b.array());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        return out;
    }
}
