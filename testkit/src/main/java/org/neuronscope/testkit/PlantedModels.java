package org.neuronscope.testkit;

import org.neuronscope.HookPoint;

import org.neuronscope.gguf.GgmlType;

import org.neuronscope.methods.NeuronSet;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Synthetic multimodal models whose modality-specific neurons are known: a planted ground truth for
 * testing selection methods end to end (issue 7 of the project, MINER's setting).
 *
 * <p>The construction: one embedding axis per planted modality ({@link #IMAGE_AXIS}, {@link #AUDIO_AXIS}).
 * The projector's output carries exactly {@code mediaValue} on its modality's axis and exactly 0 on the
 * other's (quiet rows of the final projection). The text model never writes those axes: token
 * embeddings, attention outputs and FFN outputs are zero there, so a text token's residual stream is
 * exactly 0 on both axes at every layer, while a media token keeps its value. In every layer a known
 * set of neurons has gate and up rows that read only their modality's axis: their activation
 * SiLU(g·x) is positive for every token of that modality and exactly 0 for all others. All other
 * neurons ignore both axes and behave like those of a random model.
 */
public final class PlantedModels {
    /** The embedding axis that image (and video) embeddings carry. */
    public static final int IMAGE_AXIS = 3;
    /** The embedding axis that audio embeddings carry. */
    public static final int AUDIO_AXIS = 5;

    private PlantedModels() {
    }

    /**
     * What to plant.
     *
     * @param text            the text model (qwen2vl, so that the vision projector pairs with it)
     * @param neuronsPerLayer planted neurons per modality and layer
     * @param audio           also plant audio neurons and write a projector with an audio encoder
     * @param mediaValue      the value media embeddings carry on their axis
     * @param gateScale       the planted gate and up rows' weight on the axis
     * @param writeBack       the planted neurons' down-projection weight on their axis
     * @param seed            which neurons are planted
     */
    public record Spec(ModelSpec text, int neuronsPerLayer, boolean audio, float mediaValue, float gateScale, float writeBack, long seed) {
        public Spec {
            if (!text.architecture().equals("qwen2vl")) {
                throw new IllegalArgumentException("planted models use a qwen2vl text model, got " + text.architecture());
            }
            if (text.embedding() <= AUDIO_AXIS) {
                throw new IllegalArgumentException("the text model is too narrow for the planted axes");
            }
            int planted = neuronsPerLayer * (audio ? 2 : 1);
            if (neuronsPerLayer <= 0 || planted > text.feedForward()) {
                throw new IllegalArgumentException(neuronsPerLayer + " planted neurons per modality do not fit " + text.feedForward());
            }
        }

        /**
         * The demo's model: 5 layers × 500 neurons (2500), 128 wide, F32, 5 image neurons per layer —
         * 25 planted = 1 % of the neurons (LAPE's default rate) = half of MINER's default 2 % budget
         * split over text and image.
         */
        public static Spec demo(Path qwen2Vocab, boolean audio) {
            ModelSpec text = ModelSpec.builder("qwen2vl", qwen2Vocab).layers(5).embedding(128).feedForward(500).heads(4).kvHeads(2)
                    .contextLength(4096).weightType(GgmlType.F32).seed(11).build();
            return new Spec(text, 5, audio, 4f, 2f, 0.1f, 7);
        }
    }

    /** The files written and the truth: planted neuron indices per layer, per modality, of layers × neurons. */
    public record Planted(Path model, Path projector, int layers, int neurons, int[][] imageNeurons, int[][] audioNeurons) {
        /** The planted neurons as a neuron set (group "image", and "audio" when planted). */
        public NeuronSet truth(HookPoint hookPoint) {
            NeuronSet set = new NeuronSet("planted", hookPoint, layers, neurons, Map.of("axes", IMAGE_AXIS + "," + AUDIO_AXIS));
            set.ensureGroup("image");
            for (int l = 0; l < layers; l++) {
                for (int n : imageNeurons[l]) {
                    set.add("image", l, n, 1);
                }
                for (int n : audioNeurons[l]) {
                    set.add("audio", l, n, 1);
                }
            }
            return set;
        }
    }

    /** Writes {@code dir}/planted-model.gguf and {@code dir}/planted-mmproj.gguf. */
    public static Planted write(Spec spec, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelSpec t = spec.text();
        int layers = t.layers();
        int ff = t.feedForward();
        int[][] image = new int[layers][];
        int[][] audio = new int[layers][];
        SplittableRandom rng = new SplittableRandom(spec.seed());
        for (int l = 0; l < layers; l++) {
            int k = spec.neuronsPerLayer();
            int[] chosen = rng.ints(0, ff).distinct().limit(spec.audio() ? 2L * k : k).toArray();
            image[l] = Arrays.stream(chosen, 0, k).sorted().toArray();
            audio[l] = spec.audio() ? Arrays.stream(chosen, k, 2 * k).sorted().toArray() : new int[0];
        }
        Path model = SyntheticModels.write(t, dir.resolve("planted-model.gguf"), (tensor, row, values) -> {
            String name = tensor.name();
            if (name.equals("token_embd.weight") || name.equals("output.weight")) {
                values[IMAGE_AXIS] = 0f; // text never carries the media axes
                values[AUDIO_AXIS] = 0f;
            } else if (name.endsWith(".attn_output.weight")) {
                if (row == IMAGE_AXIS || row == AUDIO_AXIS) {
                    Arrays.fill(values, 0f); // a row is one output dimension: attention never writes the axes
                }
            } else if (name.endsWith(".ffn_down.weight")) {
                // A row is one output dimension, a column one neuron. Planted neurons write only to their
                // own axis (reinforcing it, so deeper layers see the modality as clearly as the first);
                // no other neuron writes to the axes. Text tokens thus stay exactly 0 on them.
                int layer = Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
                if (row == IMAGE_AXIS || row == AUDIO_AXIS) {
                    Arrays.fill(values, 0f);
                    for (int n : row == IMAGE_AXIS ? image[layer] : audio[layer]) {
                        values[n] = spec.writeBack();
                    }
                } else {
                    for (int n : image[layer]) {
                        values[n] = 0f;
                    }
                    for (int n : audio[layer]) {
                        values[n] = 0f;
                    }
                }
            } else if (name.endsWith(".ffn_gate.weight") || name.endsWith(".ffn_up.weight")) {
                int layer = Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
                int axis = Arrays.binarySearch(image[layer], (int) row) >= 0 ? IMAGE_AXIS
                        : Arrays.binarySearch(audio[layer], (int) row) >= 0 ? AUDIO_AXIS : -1;
                if (axis >= 0) {
                    Arrays.fill(values, 0f); // a row is one neuron: it reads only its modality's axis
                    values[axis] = spec.gateScale();
                } else {
                    values[IMAGE_AXIS] = 0f;
                    values[AUDIO_AXIS] = 0f;
                }
            }
        });
        int width = t.embedding();
        float[] imageBias = new float[width];
        imageBias[IMAGE_AXIS] = spec.mediaValue();
        SyntheticProjectors.Spec vision = SyntheticProjectors.vision(width, spec.seed() + 1)
                .withOutputBias(imageBias).withQuietOutputs(IMAGE_AXIS, AUDIO_AXIS);
        Path projector = dir.resolve("planted-mmproj.gguf");
        if (spec.audio()) {
            float[] audioBias = new float[width];
            audioBias[AUDIO_AXIS] = spec.mediaValue();
            SyntheticProjectors.writeCombined(vision, SyntheticProjectors.audio(width, spec.seed() + 2)
                    .withOutputBias(audioBias).withQuietOutputs(IMAGE_AXIS, AUDIO_AXIS), projector);
        } else {
            SyntheticProjectors.write(vision, projector);
        }
        return new Planted(model, projector, layers, ff, image, audio);
    }
}
