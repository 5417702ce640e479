package org.neuronscope.spark;

import org.neuronscope.eval.Dataset;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.TokenGrouping;

import java.io.Serializable;
import java.util.List;

/**
 * A token grouping as a serializable value (the groupings themselves are not): {@code modality}, or
 * {@code label:<name>} with the label's values in order of first appearance in the whole dataset
 * and whether a sample's text alone counts ({@code textOnly}: LAPE's rule, the command line's
 * default) — fixed on the driver, so every partition has the same groups in the same order.
 */
public record Grouping(String label, List<String> values, boolean textOnly) implements Serializable {
    public Grouping {
        values = values == null ? null : List.copyOf(values);
    }

    /** By modality (text, image, ..., with the derived groups special_text and prompt in the result). */
    public static Grouping modality() {
        return new Grouping(null, null, false);
    }

    /**
     * From a {@code --group-by} value over the dataset, checked as {@code neuronscope stats} checks it
     * before anything is decoded: some sample must have the label, and every sample must.
     */
    public static Grouping of(String groupBy, Dataset data, boolean textOnly) {
        if (groupBy.equals("modality")) {
            return modality();
        }
        if (!groupBy.startsWith("label:")) {
            throw new IllegalArgumentException("--group-by must be 'modality' or 'label:<name>', got " + groupBy);
        }
        String label = groupBy.substring("label:".length());
        return new Grouping(label, data.requireLabelValues(label), textOnly);
    }

    public TokenGrouping toGrouping() {
        return label == null ? new ModalityGrouping() : new LabelGrouping(label, values, textOnly);
    }
}
