package org.neuronscope.media;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.Sample;

import java.util.Arrays;
import java.util.List;

/**
 * Groups by a sample label (language, domain, split): every entry of a sample counts for the group of
 * the sample's value of {@code label}; with {@code textOnly}, only its text entries do (template and
 * media entries are left out, as LAPE measures the language's own tokens).
 */
public final class LabelGrouping implements TokenGrouping {
    private final String label;
    private final List<String> values;
    private final boolean textOnly;

    public LabelGrouping(String label, List<String> values, boolean textOnly) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("label grouping by '" + label + "' needs at least one value");
        }
        this.label = label;
        this.values = List.copyOf(values);
        this.textOnly = textOnly;
    }

    public String label() {
        return label;
    }

    /** Whether only text entries count (template, special and media entries get no group). */
    public boolean textOnly() {
        return textOnly;
    }

    /** {@code label:<name> text} or {@code label:<name> all}: how the tokens were grouped, for metadata. */
    @Override
    public String toString() {
        return "label:" + label + (textOnly ? " text" : " all");
    }

    @Override
    public List<String> groupNames() {
        return values;
    }

    @Override
    public int[] groups(Sample sample, Prompt prompt) {
        String value = sample.label(label);
        if (value == null) {
            throw new IllegalArgumentException("sample " + sample.id() + " has no label '" + label + "'");
        }
        int group = values.indexOf(value);
        if (group < 0) {
            throw new IllegalArgumentException("sample " + sample.id() + " has " + label + "=" + value + ", not one of " + values);
        }
        int[] g = new int[prompt.length()];
        Arrays.fill(g, group);
        if (textOnly) {
            for (int i = 0; i < g.length; i++) {
                if (prompt.modality(i) != Modality.TEXT) {
                    g[i] = -1;
                }
            }
        }
        return g;
    }
}
