package org.neuronscope.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.neuronscope.eval.Sample;

/**
 * Synthetic models in which a binary label becomes linearly readable from the last token's residual
 * stream only from a chosen layer k on: a planted ground truth for layer-wise probing.
 *
 * <p>The construction. Prompts of the two classes differ in one token, {@code classTokens[0]} or
 * {@code classTokens[1]}, somewhere before the end. The two tokens' embeddings are the same vector
 * except on the class axis {@link #CLASS_AXIS}, where they carry +v and −v; every other token has 0
 * there, and on the read-out axis {@link #READ_AXIS}. No layer reads either axis (their columns are
 * zero in every Q, K, V, gate and up matrix) and no layer writes them (their rows are zero in every
 * attention output and FFN down matrix), with one exception in layer k: one dimension of each value
 * head reads the class axis, and the attention output writes those dimensions (and only them) to the
 * read-out axis; its queries are zero, so it attends uniformly and the class token's weight is
 * 1/(position + 1), never vanishing. Since ±v have the same square, the class tokens' RMS norms are equal, so below layer
 * k every computation outside the class axis is identical for both classes: the last token's
 * residual stream does not depend on the class at all (the label is not readable, by construction).
 * From layer k on it carries {@code ±β} on the read-out axis (β > 0: the attention weight times v over
 * the class token's RMS times the gains), again with the same square for both classes, so that nothing else changes and
 * the sign of one coordinate separates the classes. Mean pooling over all tokens, in contrast, sees
 * the class token's ±v from the first layer on.
 */
public final class PlantedProbeModels {
    /** The embedding axis on which the two class tokens differ (+v, −v). */
    public static final int CLASS_AXIS = 7;
    /** The axis layer k writes the class to (in every token that attends to the class token). */
    public static final int READ_AXIS = 9;

    private PlantedProbeModels() {
    }

    /**
     * @param text        a llama-architecture model (no Q/K/V biases, so the read-out carries no offset)
     * @param fromLayer   k: the layer whose attention writes the class to the read-out axis
     * @param classTokens the two token ids that make the classes
     * @param value       v, the class tokens' value on the class axis
     * @param gain        the weight of the value dimensions on the class axis, and of the output on them
     */
    public record Spec(ModelSpec text, int fromLayer, int[] classTokens, float value, float gain) {
        public Spec {
            if (!text.architecture().equals("llama")) {
                throw new IllegalArgumentException("planted probe models use the llama architecture, got " + text.architecture());
            }
            if (fromLayer < 0 || fromLayer >= text.layers()) {
                throw new IllegalArgumentException("layer " + fromLayer + " is out of range [0, " + text.layers() + ")");
            }
            if (classTokens.length != 2 || classTokens[0] == classTokens[1]) {
                throw new IllegalArgumentException("two distinct class tokens are needed, got " + Arrays.toString(classTokens));
            }
            if (text.embedding() <= READ_AXIS) {
                throw new IllegalArgumentException("the model is too narrow for the planted axes");
            }
            classTokens = classTokens.clone();
        }

        @Override
        public int[] classTokens() {
            return classTokens.clone();
        }

        /** Six layers, 64 wide (the tiny model's shape otherwise), readable from layer {@code k}. */
        public static Spec tiny(Path llamaVocab, int k, int[] classTokens) {
            ModelSpec text = ModelSpec.builder("llama", llamaVocab).layers(6).seed(13).build();
            return new Spec(text, k, classTokens, 1.0f, 4.0f);
        }
    }

    /** Writes the model to {@code dir}/planted-probe-model.gguf. */
    public static Path write(Spec spec, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelSpec t = spec.text();
        int head = t.headDim();
        int k = spec.fromLayer();
        int[] cls = spec.classTokens();
        int first = Math.min(cls[0], cls[1]);
        int second = Math.max(cls[0], cls[1]);
        float[][] shared = new float[1][];
        return SyntheticModels.write(t, dir.resolve("planted-probe-model.gguf"), (tensor, row, values) -> {
            String name = tensor.name();
            if (name.equals("token_embd.weight")) {
                values[CLASS_AXIS] = 0f;
                values[READ_AXIS] = 0f;
                if (row == first) {
                    shared[0] = values.clone(); // the second class token gets the same vector
                } else if (row == second) {
                    System.arraycopy(shared[0], 0, values, 0, values.length);
                }
                if (row == cls[0]) {
                    values[CLASS_AXIS] = spec.value();
                } else if (row == cls[1]) {
                    values[CLASS_AXIS] = -spec.value();
                }
                return;
            }
            if (!name.startsWith("blk.")) {
                return;
            }
            int layer = Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
            if (layer == k && name.endsWith(".attn_q.weight")) {
                Arrays.fill(values, 0f); // layer k attends uniformly: every earlier token, the class token too, gets 1/position
            } else if (name.endsWith(".attn_q.weight") || name.endsWith(".attn_k.weight") || name.endsWith(".ffn_gate.weight")
                    || name.endsWith(".ffn_up.weight")) {
                values[CLASS_AXIS] = 0f; // a row is one output: its weights on the planted inputs are 0
                values[READ_AXIS] = 0f;
            } else if (name.endsWith(".attn_v.weight")) {
                values[CLASS_AXIS] = 0f;
                values[READ_AXIS] = 0f;
                if (layer == k && row % head == 0) {
                    Arrays.fill(values, 0f); // dimension 0 of every value head reads the class axis alone
                    values[CLASS_AXIS] = spec.gain();
                }
            } else if (name.endsWith(".attn_output.weight")) {
                // a row is one residual dimension; its inputs are the heads' outputs, head h at h·head
                if (row == CLASS_AXIS || row == READ_AXIS) {
                    Arrays.fill(values, 0f);
                }
                if (layer == k) {
                    for (int h = 0; h * head < values.length; h++) {
                        values[h * head] = row == READ_AXIS ? spec.gain() : 0f;
                    }
                }
            } else if (name.endsWith(".ffn_down.weight")) {
                if (row == CLASS_AXIS || row == READ_AXIS) {
                    Arrays.fill(values, 0f);
                }
            }
        });
    }

    /**
     * The token ids of {@code words} in a SentencePiece vocabulary (llama.cpp's llama-spm file): the
     * pieces {@code "▁" + word}, which is how the tokenizer splits a word after a space.
     */
    public static int[] spmTokens(Path vocab, String... words) {
        try (org.neuronscope.gguf.GgufFile f = org.neuronscope.gguf.GgufFile.open(vocab)) {
            List<String> pieces = Arrays.asList(f.getStringArray("tokenizer.ggml.tokens"));
            int[] ids = new int[words.length];
            for (int i = 0; i < words.length; i++) {
                ids[i] = pieces.indexOf("\u2581" + words[i]);
                if (ids[i] < 0) {
                    throw new IllegalArgumentException("'" + words[i] + "' is not one piece of " + vocab);
                }
            }
            return ids;
        }
    }

    private static final String[] FILLERS = {"the", "big", "small", "red", "house", "near", "river", "old", "man", "saw", "green", "tree",
        "by", "road", "quiet", "morning", "light", "rain", "stone", "bridge", "blue", "window", "under", "hill"};

    /**
     * Text samples for a planted probe model: 3 to 8 random filler words, the class word, 2 to 5 more
     * filler words and "today." (so the class token is never the last). Label {@code class} is
     * {@code classWords[i % 2]}. With {@code paired}, samples 2i and 2i+1 have the same fillers and
     * differ only in the class word (for checking the construction; not for probing, where a pair
     * split over folds would punish memorising); otherwise every sample draws its own fillers.
     */
    public static List<Sample> samples(int n, long seed, String[] classWords, boolean paired) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<Sample> out = new ArrayList<>();
        String before = "";
        String after = "";
        for (int i = 0; i < n; i++) {
            if (!paired || i % 2 == 0) {
                before = words(rng, 3 + rng.nextInt(6));
                after = words(rng, 2 + rng.nextInt(4));
            }
            String word = classWords[i % 2];
            out.add(Sample.text("p" + i, before + " " + word + " " + after + " today.", List.of()).withLabels(Map.of("class", word)));
        }
        return out;
    }

    private static String words(SplittableRandom rng, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : " ").append(FILLERS[rng.nextInt(FILLERS.length)]);
        }
        return sb.toString();
    }
}
