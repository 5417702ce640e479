package org.neuronscope.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Generated datasets in the two recipes of layer-wise probing (docs/FORMATS.md, "Probing datasets"),
 * with synthetic images whose class is planted in the pixels ({@link SyntheticMedia#writeObjectPng}):
 * object recognition (which object is in the image: a class label) and image–text entailment (does
 * the caption describe the image: a yes/no label). For tests and the demo; real data a user brings
 * in the same JSONL form.
 */
public final class ProbeDatasets {
    /** The planted objects: name and colour. */
    public static final List<String> OBJECTS = List.of("apple", "leaf", "sky");
    private static final int[] COLOURS = {0xD03020, 0x30B040, 0x3060E0};

    private ProbeDatasets() {
    }

    /**
     * Writes {@code dir}/objects.jsonl and {@code dir}/img/: {@code perClass} images of each object,
     * one line each: {@code {"id", "image", "prompt": "What object is in the image?", "labels": {"object"}}}.
     */
    public static Path objectRecognition(Path dir, int perClass, int imageSize, long seed) {
        StringBuilder lines = new StringBuilder();
        int id = 0;
        for (int i = 0; i < perClass; i++) {
            for (int c = 0; c < OBJECTS.size(); c++) {
                String image = image(dir, c, i, imageSize, seed);
                lines.append(String.format("{\"id\": \"obj-%d\", \"image\": \"%s\", \"prompt\": \"What object is in the image?\", "
                        + "\"labels\": {\"object\": \"%s\"}}%n", id++, image, OBJECTS.get(c)));
            }
        }
        return write(dir.resolve("objects.jsonl"), lines);
    }

    /**
     * Writes {@code dir}/entailment.jsonl and {@code dir}/img/: every image twice, once with the caption
     * of its own object (entailment "yes") and once with another object's ("no"):
     * {@code {"id", "image", "prompt": "Caption: a photo of a leaf. Does the caption describe the image? Answer yes or no.",
     * "labels": {"entailment", "object", "caption"}}}.
     */
    public static Path entailment(Path dir, int perClass, int imageSize, long seed) {
        StringBuilder lines = new StringBuilder();
        int id = 0;
        for (int i = 0; i < perClass; i++) {
            for (int c = 0; c < OBJECTS.size(); c++) {
                String image = image(dir, c, i, imageSize, seed);
                int other = (c + 1 + i % (OBJECTS.size() - 1)) % OBJECTS.size();
                for (int caption : new int[] {c, other}) {
                    lines.append(String.format("{\"id\": \"ent-%d\", \"image\": \"%s\", \"prompt\": \"Caption: a photo of a %s. Does the caption "
                                    + "describe the image? Answer yes or no.\", \"labels\": {\"entailment\": \"%s\", \"object\": \"%s\", \"caption\": \"%s\"}}%n",
                            id++, image, OBJECTS.get(caption), caption == c ? "yes" : "no", OBJECTS.get(c), OBJECTS.get(caption)));
                }
            }
        }
        return write(dir.resolve("entailment.jsonl"), lines);
    }

    private static String image(Path dir, int c, int i, int size, long seed) {
        String name = "img/" + OBJECTS.get(c) + "-" + i + ".png";
        Path file = dir.resolve(name);
        if (!Files.exists(file)) {
            SyntheticMedia.writeObjectPng(file, size, size, COLOURS[c], seed * 1_000_003L + c * 10_007L + i);
        }
        return name;
    }

    private static Path write(Path file, CharSequence text) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            return Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
