package org.neuronscope.experiments;

import org.neuronscope.methods.NeuronSet;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * A neuron set's neurons per layer and group, with the union of its groups, named by the set's
 * module and hook point ({@code vision.ffn.act}): the per-module tables of the select and ablate
 * reports.
 */
public final class NeuronTables {
    private NeuronTables() {
    }

    /** The heading of a set's table: its qualified hook point and method. */
    public static String title(NeuronSet set) {
        return set.qualifiedPoint() + " (" + set.module() + " module, " + set.method() + "): neurons per layer";
    }

    /** Column names: layer, each group, union. */
    public static List<String> header(NeuronSet set) {
        List<String> h = new ArrayList<>();
        h.add("layer");
        h.addAll(set.groupNames());
        h.add("union");
        return h;
    }

    /**
     * One row per layer, then a total row ("all"): the count of each group in the layer and of the
     * union of the groups (a neuron in several groups counts once there).
     */
    public static List<long[]> rows(NeuronSet set) {
        List<String> groups = set.groupNames();
        BitSet union = set.union(groups);
        List<long[]> rows = new ArrayList<>();
        long[] total = new long[groups.size() + 1];
        for (int l = 0; l < set.layers(); l++) {
            long[] r = new long[groups.size() + 2];
            r[0] = l;
            for (int g = 0; g < groups.size(); g++) {
                r[g + 1] = set.neurons(groups.get(g), l).length;
                total[g] += r[g + 1];
            }
            r[groups.size() + 1] = union.get(l * set.neurons(), (l + 1) * set.neurons()).cardinality();
            total[groups.size()] += r[groups.size() + 1];
            rows.add(r);
        }
        long[] t = new long[groups.size() + 2];
        t[0] = -1; // the total row
        System.arraycopy(total, 0, t, 1, total.length);
        rows.add(t);
        return rows;
    }

    /** The table as aligned text, headed by {@link #title}. */
    public static String text(NeuronSet set) {
        List<String> header = header(set);
        List<String[]> cells = new ArrayList<>();
        cells.add(header.toArray(String[]::new));
        for (long[] r : rows(set)) {
            String[] c = new String[r.length];
            c[0] = r[0] < 0 ? "all" : Long.toString(r[0]);
            for (int i = 1; i < r.length; i++) {
                c[i] = Long.toString(r[i]);
            }
            cells.add(c);
        }
        int[] width = new int[header.size()];
        for (String[] c : cells) {
            for (int i = 0; i < c.length; i++) {
                width[i] = Math.max(width[i], c[i].length());
            }
        }
        StringBuilder sb = new StringBuilder(title(set)).append('\n');
        for (String[] c : cells) {
            for (int i = 0; i < c.length; i++) {
                sb.append(i == 0 ? String.format(Locale.ROOT, "%-" + width[i] + "s", c[i]) : String.format(Locale.ROOT, "  %" + width[i] + "s", c[i]));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** The table as CSV rows {@code module,hook_point,layer,group,neurons} (group "union" for the union; no total row). */
    public static String csv(NeuronSet set) {
        StringBuilder sb = new StringBuilder("module,hook_point,layer,group,neurons\n");
        List<String> header = header(set);
        for (long[] r : rows(set)) {
            if (r[0] < 0) {
                continue;
            }
            for (int i = 1; i < r.length; i++) {
                sb.append(set.module().id()).append(',').append(set.hookPoint().id()).append(',').append(r[0]).append(',')
                        .append(csvField(header.get(i))).append(',').append(r[i]).append('\n');
            }
        }
        return sb.toString();
    }

    private static String csvField(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
