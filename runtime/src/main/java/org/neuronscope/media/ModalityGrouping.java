package org.neuronscope.media;

import org.neuronscope.eval.Sample;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * MINER's modality separation: group i is {@code Modality.values()[i]} (text, special, image, audio,
 * video). The derived groupings special_text and prompt are unions of these and are formed after
 * collection ({@link #DERIVED}), since every statistic is a sum, a count or an extremum.
 */
public final class ModalityGrouping implements TokenGrouping {
    /** Derived groups and the base groups they unite (docs/METHODS.md §2). */
    public static final Map<String, List<String>> DERIVED = derived();

    private static Map<String, List<String>> derived() {
        Map<String, List<String>> m = new java.util.LinkedHashMap<>(); // a fixed order: files written from it compare byte for byte
        m.put("special_text", List.of("text", "special"));
        m.put("prompt", List.of("text", "special", "image", "audio", "video"));
        return java.util.Collections.unmodifiableMap(m);
    }

    private static final List<String> NAMES = Arrays.stream(Modality.values()).map(Modality::groupName).toList();

    @Override
    public List<String> groupNames() {
        return NAMES;
    }

    @Override
    public int[] groups(Sample sample, Prompt prompt) {
        int[] g = new int[prompt.length()];
        for (int i = 0; i < g.length; i++) {
            g[i] = prompt.modality(i).ordinal();
        }
        return g;
    }
}
