package org.neuronscope.media;

import org.neuronscope.NeuronScopeException;

import java.nio.file.Path;
import java.util.List;

/**
 * One media item of a prompt: an image, an audio clip or a video, from a file, encoded bytes, or raw
 * pixels / samples. Files are decoded by mtmd's helpers (images: jpg, png, bmp, gif…; audio: wav, mp3,
 * flac, resampled to the projector's rate); a video is either frames (images of one size, which
 * Qwen-VL projectors merge two by two) or a video file (needs ffmpeg on PATH, as mtmd's helper does).
 */
public sealed interface Media {
    Modality modality();

    /** Short description for error messages. */
    String describe();

    static Media image(Path file) {
        return new File(file, Modality.IMAGE);
    }

    static Media image(byte[] encoded) {
        return new Encoded(encoded.clone(), Modality.IMAGE);
    }

    /** Raw RGB pixels, row-major, 3 bytes per pixel. */
    static Media imagePixels(int width, int height, byte[] rgb) {
        return new Pixels(width, height, rgb.clone());
    }

    static Media audio(Path file) {
        return new File(file, Modality.AUDIO);
    }

    static Media audio(byte[] encoded) {
        return new Encoded(encoded.clone(), Modality.AUDIO);
    }

    /** Mono PCM samples in [-1, 1] at the projector's sample rate ({@link Projector#audioSampleRate()}). */
    static Media audioSamples(float[] pcm) {
        return new Samples(pcm.clone());
    }

    /** A video file, decoded frame by frame with ffmpeg (mtmd's video helper). */
    static Media video(Path file) {
        return new File(file, Modality.VIDEO);
    }

    /** A video given as its frames (image files or pixel arrays of one size), in order. */
    static Media videoFrames(List<Media> frames) {
        return new Frames(List.copyOf(frames));
    }

    record File(Path path, Modality modality) implements Media {
        public File {
            if (path == null) {
                throw new IllegalArgumentException("a media file path must not be null");
            }
        }

        @Override
        public String describe() {
            return modality.groupName() + " file " + path;
        }
    }

    record Encoded(byte[] bytes, Modality modality) implements Media {
        public Encoded {
            if (bytes == null || bytes.length == 0) {
                throw new IllegalArgumentException("encoded " + modality.groupName() + " bytes are empty");
            }
        }

        @Override
        public String describe() {
            return modality.groupName() + " (" + bytes.length + " encoded bytes)";
        }
    }

    record Pixels(int width, int height, byte[] rgb) implements Media {
        public Pixels {
            if (width <= 0 || height <= 0) {
                throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
            }
            if (rgb.length != (long) width * height * 3) {
                throw new IllegalArgumentException("an RGB image of " + width + "x" + height + " needs " + (long) width * height * 3
                        + " bytes, got " + rgb.length);
            }
        }

        @Override
        public Modality modality() {
            return Modality.IMAGE;
        }

        @Override
        public String describe() {
            return "image (" + width + "x" + height + " pixels)";
        }
    }

    record Samples(float[] pcm) implements Media {
        public Samples {
            if (pcm.length == 0) {
                throw new IllegalArgumentException("audio has no samples");
            }
        }

        @Override
        public Modality modality() {
            return Modality.AUDIO;
        }

        @Override
        public String describe() {
            return "audio (" + pcm.length + " samples)";
        }
    }

    record Frames(List<Media> frames) implements Media {
        public Frames {
            if (frames.isEmpty()) {
                throw new IllegalArgumentException("a video needs at least one frame");
            }
            for (Media f : frames) {
                if (f.modality() != Modality.IMAGE) {
                    throw new IllegalArgumentException("video frames must be images, got " + f.describe());
                }
            }
        }

        @Override
        public Modality modality() {
            return Modality.VIDEO;
        }

        @Override
        public String describe() {
            return "video (" + frames.size() + " frames)";
        }
    }
}
