package org.neuronscope.spark;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.LabelGrouping;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.TokenGrouping;

import java.io.Serializable;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

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
        if (label.isBlank()) {
            throw new IllegalArgumentException("--group-by label:<name> needs a label name, e.g. label:language");
        }
        List<String> values = data.labelValues(label);
        if (values.isEmpty()) {
            Set<String> known = new TreeSet<>();
            data.samples().forEach(s -> known.addAll(s.labels().keySet()));
            throw new IllegalArgumentException("no sample of " + data.name() + " has the label '" + label + "'"
                    + (known.isEmpty() ? " (its samples have no labels)" : " (labels in the dataset: " + String.join(", ", known) + ")"));
        }
        List<String> missing = data.samples().stream().filter(s -> s.label(label) == null).map(Sample::id).toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(missing.size() + " of " + data.size() + " samples of " + data.name() + " have no label '" + label
                    + "': " + String.join(", ", missing.subList(0, Math.min(5, missing.size()))) + (missing.size() > 5 ? ", ..." : ""));
        }
        return new Grouping(label, values, textOnly);
    }

    public TokenGrouping toGrouping() {
        return label == null ? new ModalityGrouping() : new LabelGrouping(label, values, textOnly);
    }
}
