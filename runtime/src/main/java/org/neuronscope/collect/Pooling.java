package org.neuronscope.collect;

import org.neuronscope.eval.Sample;
import org.neuronscope.media.Modality;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.TokenGrouping;

import java.util.Locale;

/**
 * How the entries of a prompt pool into one vector per layer: a weight per entry, and the pooled
 * vector is {@code Σ w[t] x[t] / Σ w[t]}. The weights become the token weights of an in-graph
 * reduction ({@link RepresentationCollector}), so only the pooled sums leave the backend.
 */
public interface Pooling {
    /** The name reports and files use ({@code last}, {@code mean}, {@code mean:text}, ...). */
    String name();

    /** The weight (≥ 0) of every entry of {@code prompt}, prepared from {@code sample} (which may be null). */
    float[] weights(Sample sample, Prompt prompt);

    /** The last entry of the prompt (the paper's default). */
    static Pooling last() {
        return new Pooling() {
            @Override
            public String name() {
                return "last";
            }

            @Override
            public float[] weights(Sample sample, Prompt prompt) {
                float[] w = new float[prompt.length()];
                w[w.length - 1] = 1f;
                return w;
            }
        };
    }

    /** The mean over all entries. */
    static Pooling mean() {
        return new Pooling() {
            @Override
            public String name() {
                return "mean";
            }

            @Override
            public float[] weights(Sample sample, Prompt prompt) {
                float[] w = new float[prompt.length()];
                java.util.Arrays.fill(w, 1f);
                return w;
            }
        };
    }

    /** The mean over the entries of one modality ({@code mean:text}, {@code mean:image}, ...). */
    static Pooling mean(Modality modality) {
        String name = "mean:" + modality.groupName();
        return new Pooling() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public float[] weights(Sample sample, Prompt prompt) {
                float[] w = new float[prompt.length()];
                for (int i = 0; i < w.length; i++) {
                    w[i] = prompt.modality(i) == modality ? 1f : 0f;
                }
                return w;
            }
        };
    }

    /** The mean over the entries a grouping puts into {@code group} ({@code mean:<group>}). */
    static Pooling mean(TokenGrouping grouping, String group) {
        int g = grouping.groupNames().indexOf(group);
        if (g < 0) {
            throw new IllegalArgumentException("no group '" + group + "' in " + grouping.groupNames());
        }
        String name = "mean:" + group;
        return new Pooling() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public float[] weights(Sample sample, Prompt prompt) {
                int[] groups = grouping.groups(sample, prompt);
                float[] w = new float[prompt.length()];
                for (int i = 0; i < w.length; i++) {
                    w[i] = groups[i] == g ? 1f : 0f;
                }
                return w;
            }
        };
    }

    /** {@code last}, {@code mean}, or {@code mean:<modality>} (text, special, image, audio, video). */
    static Pooling parse(String text) {
        String s = text.strip().toLowerCase(Locale.ROOT);
        if (s.equals("last")) {
            return last();
        }
        if (s.equals("mean")) {
            return mean();
        }
        if (s.startsWith("mean:")) {
            String m = s.substring(5);
            for (Modality mod : Modality.values()) {
                if (mod.groupName().equals(m)) {
                    return mean(mod);
                }
            }
        }
        StringBuilder known = new StringBuilder("last, mean");
        for (Modality mod : Modality.values()) {
            known.append(", mean:").append(mod.groupName());
        }
        throw new IllegalArgumentException("unknown pooling '" + text + "'; known: " + known);
    }
}
