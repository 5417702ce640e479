package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Values of metrics per group for one or more runs (e.g. "baseline", "ablated", "random"), with the
 * difference of every run to a baseline run, rendered as an aligned text table or as CSV.
 *
 * <pre>{@code
 * MetricTable t = new MetricTable();
 * t.put("baseline", "medical", "accuracy", new Accuracy(56, 100));
 * t.put("ablated",  "medical", "accuracy", new Accuracy(24, 100));
 * t.put("random",   "medical", "accuracy", new Accuracy(55, 100));
 * String text = t.toText(3);   // group | metric | baseline | ablated | Δ ablated | random | Δ random
 * }</pre>
 *
 * Runs, groups and metrics keep the order in which they were first put. The baseline is the first
 * run unless {@link #baseline(String)} names another; a delta is {@code value(run) − value(baseline)}
 * and is absent when either value is. Not thread-safe.
 */
public final class MetricTable {
    private final Set<String> runs = new LinkedHashSet<>();
    private final Set<String> groups = new LinkedHashSet<>();
    private final Set<String> metrics = new LinkedHashSet<>();
    private final Map<Key, Cell> cells = new LinkedHashMap<>();
    private String baseline;

    /**
     * One value, with a confidence interval or none (NaN bounds).
     */
    public record Cell(double value, double low, double high) {
        public boolean hasInterval() {
            return !Double.isNaN(low) && !Double.isNaN(high);
        }
    }

    private record Key(String run, String group, String metric) {
    }

    /** Puts a value without interval, replacing any earlier value of the same cell. */
    public MetricTable put(String run, String group, String metric, double value) {
        return put(run, group, metric, new Cell(value, Double.NaN, Double.NaN));
    }

    /** Puts an accuracy as its value with its 95 % Wilson interval. */
    public MetricTable put(String run, String group, String metric, Accuracy accuracy) {
        Accuracy.Interval ci = accuracy.wilson95();
        return put(run, group, metric, new Cell(accuracy.value(), ci.low(), ci.high()));
    }

    public MetricTable put(String run, String group, String metric, Cell cell) {
        for (String s : new String[] {run, group, metric}) {
            if (s == null || s.isBlank()) {
                throw new IllegalArgumentException("run, group and metric names must not be blank");
            }
        }
        runs.add(run);
        groups.add(group);
        metrics.add(metric);
        cells.put(new Key(run, group, metric), cell);
        return this;
    }

    /** Makes {@code run} the run that deltas are taken against. */
    public MetricTable baseline(String run) {
        if (!runs.contains(run)) {
            throw new IllegalArgumentException("unknown run '" + run + "' (runs: " + runs + ")");
        }
        baseline = run;
        return this;
    }

    /** The baseline run: the one named, else the first run; null for an empty table. */
    public String baseline() {
        return baseline != null ? baseline : runs.isEmpty() ? null : runs.iterator().next();
    }

    public List<String> runs() {
        return List.copyOf(runs);
    }

    public List<String> groups() {
        return List.copyOf(groups);
    }

    public List<String> metrics() {
        return List.copyOf(metrics);
    }

    /** The cell, or null if none was put. */
    public Cell cell(String run, String group, String metric) {
        return cells.get(new Key(run, group, metric));
    }

    /** The value, or NaN if none was put. */
    public double value(String run, String group, String metric) {
        Cell c = cell(run, group, metric);
        return c == null ? Double.NaN : c.value();
    }

    /** {@code value(run) − value(baseline)}, NaN where either is absent. */
    public double delta(String run, String group, String metric) {
        return value(run, group, metric) - value(baseline(), group, metric);
    }

    /** {@link #toText(int)} with 4 decimals. */
    public String toText() {
        return toText(4);
    }

    /**
     * An aligned text table, one row per (group, metric) that has any value, columns: group, metric,
     * then each run's value ("0.560 [0.462, 0.653]" when it has an interval), each non-baseline run
     * followed by its signed delta to the baseline ("Δ ablated"). Missing values show as "-".
     */
    public String toText(int decimals) {
        String base = baseline();
        List<String> header = new ArrayList<>(List.of("group", "metric"));
        for (String r : runs) {
            header.add(r);
            if (!r.equals(base)) {
                header.add("Δ " + r);
            }
        }
        List<List<String>> rows = new ArrayList<>();
        for (String g : groups) {
            for (String m : metrics) {
                if (!hasRow(g, m)) {
                    continue;
                }
                List<String> row = new ArrayList<>(List.of(g, m));
                for (String r : runs) {
                    Cell c = cell(r, g, m);
                    row.add(c == null ? "-" : c.hasInterval()
                            ? fmt(c.value(), decimals, false) + " [" + fmt(c.low(), decimals, false) + ", " + fmt(c.high(), decimals, false) + "]"
                            : fmt(c.value(), decimals, false));
                    if (!r.equals(base)) {
                        row.add(fmt(delta(r, g, m), decimals, true));
                    }
                }
                rows.add(row);
            }
        }
        int[] width = new int[header.size()];
        for (List<String> row : concat(header, rows)) {
            for (int i = 0; i < row.size(); i++) {
                width[i] = Math.max(width[i], row.get(i).codePointCount(0, row.get(i).length()));
            }
        }
        StringBuilder sb = new StringBuilder();
        appendRow(sb, header, width);
        for (int i = 0; i < width.length; i++) {
            sb.append(i == 0 ? "" : "  ").append("-".repeat(width[i]));
        }
        sb.append('\n');
        for (List<String> row : rows) {
            appendRow(sb, row, width);
        }
        return sb.toString();
    }

    /**
     * CSV (RFC 4180, "\n" line ends) in long form, one line per stored value:
     * {@code group,metric,run,value,ci_low,ci_high,delta} where delta is to the baseline run (empty
     * for the baseline itself and where absent). Numbers at full precision ({@link Double#toString}),
     * NaN as an empty field.
     */
    public String toCsv() {
        String base = baseline();
        StringBuilder sb = new StringBuilder("group,metric,run,value,ci_low,ci_high,delta\n");
        for (String g : groups) {
            for (String m : metrics) {
                for (String r : runs) {
                    Cell c = cell(r, g, m);
                    if (c == null) {
                        continue;
                    }
                    sb.append(csv(g)).append(',').append(csv(m)).append(',').append(csv(r)).append(',')
                            .append(num(c.value())).append(',').append(num(c.low())).append(',')
                            .append(num(c.high())).append(',')
                            .append(r.equals(base) ? "" : num(delta(r, g, m))).append('\n');
                }
            }
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return toText();
    }

    private boolean hasRow(String g, String m) {
        for (String r : runs) {
            if (cell(r, g, m) != null) {
                return true;
            }
        }
        return false;
    }

    private static List<List<String>> concat(List<String> header, List<List<String>> rows) {
        List<List<String>> all = new ArrayList<>(rows.size() + 1);
        all.add(header);
        all.addAll(rows);
        return all;
    }

    private static void appendRow(StringBuilder sb, List<String> row, int[] width) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < row.size(); i++) {
            String s = row.get(i);
            int pad = width[i] - s.codePointCount(0, s.length());
            if (i > 0) {
                line.append("  ");
            }
            if (i < 2) {   // names left-aligned, numbers right-aligned
                line.append(s).append(" ".repeat(pad));
            } else {
                line.append(" ".repeat(pad)).append(s);
            }
        }
        sb.append(line.toString().stripTrailing()).append('\n');
    }

    private static String fmt(double v, int decimals, boolean signed) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return String.format(Locale.ROOT, signed ? "%+." + decimals + "f" : "%." + decimals + "f", v);
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : Double.toString(v);
    }

    private static String csv(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
