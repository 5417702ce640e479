package org.neuronscope.probe;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Layer-wise probing (Tao et al. 2024): one linear probe per layer on pooled representations,
 * evaluated by seeded k-fold cross-validation (stratified for a class label), with the same probe
 * trained on shuffled labels as a control (selectivity = score − control score, after Hewitt and
 * Liang 2019). See docs/METHODS.md §5.
 */
public final class LayerProbe {
    /**
     * @param probe       the model and its regularisation
     * @param folds       k of the k-fold cross-validation (default 5)
     * @param seed        folds and the control's permutation derive from it
     * @param layers      the layers to probe (null or empty: all)
     */
    public record Params(LinearProbe.Params probe, int folds, long seed, int[] layers) {
        public Params {
            if (probe == null) {
                throw new IllegalArgumentException("probe parameters are required");
            }
            if (folds < 2) {
                throw new IllegalArgumentException("cross-validation needs at least 2 folds, got " + folds);
            }
            layers = layers == null ? new int[0] : layers.clone();
        }

        @Override
        public int[] layers() {
            return layers.clone();
        }

        public static Params defaults(LinearProbe.Kind kind) {
            return new Params(LinearProbe.Params.of(kind), 5, 0, null);
        }

        public Params withFolds(int k) {
            return new Params(probe, k, seed, layers);
        }

        public Params withSeed(long s) {
            return new Params(probe, folds, s, layers);
        }

        public Params withLayers(int... l) {
            return new Params(probe, folds, seed, l);
        }
    }

    /**
     * The cross-validated result of one layer. For a class label the score is the accuracy of the
     * held-out predictions (every sample is held out once) and the interval Wilson's 95 % interval on
     * them; for a numeric target the score is R² of the held-out predictions and the interval the
     * fold mean of R² ± 1.96 standard errors across folds.
     *
     * @param trainScore        mean over folds of the score on the training part
     * @param controlScore      the same probe and folds on shuffled labels: the held-out score
     * @param controlTrainScore and its training score (how well the probe can memorise)
     * @param selectivity       score − controlScore
     */
    public record LayerResult(int layer, double score, double low, double high, double foldMean, double foldSd, double trainScore,
                              double controlScore, double controlLow, double controlHigh, double controlTrainScore, double selectivity) {
    }

    /**
     * All layers' results.
     *
     * @param metric    "accuracy" or "r2"
     * @param classes   the class names (empty for a numeric target)
     * @param chance    the majority-class rate (accuracy of always predicting the largest class), 0 for R²
     */
    public record Report(String pooling, String label, LinearProbe.Kind kind, String metric, int samples, List<String> classes,
                         int[] classCounts, double chance, int folds, long seed, double c, List<LayerResult> layers) {
        public Report {
            classes = List.copyOf(classes);
            classCounts = classCounts.clone();
            layers = List.copyOf(layers);
        }

        /** The model and solver that fitted this label (LIBLINEAR or the multinomial model), in words. */
        public String solver() {
            return kind.solver(classes.size());
        }

        /** The layer with the highest score (the first of equals). */
        public LayerResult best() {
            LayerResult b = layers.getFirst();
            for (LayerResult r : layers) {
                if (r.score() > b.score()) {
                    b = r;
                }
            }
            return b;
        }

        /** An aligned text table, one line per layer. */
        public String table() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(java.util.Locale.ROOT, "probe %s on %s (%s), %d samples, %d-fold CV, seed %d, C %s; %s%n", kind.id(), label, pooling,
                    samples, folds, seed, c, solver()));
            if (!classes.isEmpty()) {
                StringBuilder cc = new StringBuilder();
                for (int i = 0; i < classes.size(); i++) {
                    cc.append(i == 0 ? "" : ", ").append(classes.get(i)).append(' ').append(classCounts[i]);
                }
                sb.append(String.format(java.util.Locale.ROOT, "classes: %s; majority-class rate %.4f%n", cc, chance));
            }
            sb.append(String.format(java.util.Locale.ROOT, "%5s  %8s  %17s  %8s  %8s  %8s  %8s%n", "layer", metric, "95% interval",
                    "train", "control", "ctl.train", "select."));
            for (LayerResult r : layers) {
                sb.append(String.format(java.util.Locale.ROOT, "%5d  %8.4f  [%7.4f, %7.4f]  %8.4f  %8.4f  %8.4f  %8.4f%n", r.layer(), r.score(),
                        r.low(), r.high(), r.trainScore(), r.controlScore(), r.controlTrainScore(), r.selectivity()));
            }
            return sb.toString();
        }

        /** CSV (RFC 4180, {@code \n} line ends), one line per layer, numbers at full precision. */
        public String csv() {
            StringBuilder sb = new StringBuilder("layer,metric,score,ci_low,ci_high,fold_mean,fold_sd,train,control,control_ci_low,control_ci_high,"
                    + "control_train,selectivity,chance\n");
            for (LayerResult r : layers) {
                sb.append(r.layer()).append(',').append(metric);
                for (double v : new double[] {r.score(), r.low(), r.high(), r.foldMean(), r.foldSd(), r.trainScore(), r.controlScore(),
                        r.controlLow(), r.controlHigh(), r.controlTrainScore(), r.selectivity(), chance}) {
                    sb.append(',').append(Double.isNaN(v) ? "" : Double.toString(v));
                }
                sb.append('\n');
            }
            return sb.toString();
        }

        /** The report as a JSON-ready map (field names as in the CSV). */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pooling", pooling);
            m.put("label", label);
            m.put("probe", kind.id());
            m.put("solver", solver());
            m.put("metric", metric);
            m.put("samples", samples);
            m.put("classes", classes);
            m.put("class_counts", classCounts);
            m.put("chance", chance);
            m.put("folds", folds);
            m.put("seed", seed);
            m.put("c", c);
            List<Map<String, Object>> ls = new ArrayList<>();
            for (LayerResult r : layers) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("layer", r.layer());
                o.put("score", r.score());
                o.put("ci_low", r.low());
                o.put("ci_high", r.high());
                o.put("fold_mean", r.foldMean());
                o.put("fold_sd", r.foldSd());
                o.put("train", r.trainScore());
                o.put("control", r.controlScore());
                o.put("control_ci_low", r.controlLow());
                o.put("control_ci_high", r.controlHigh());
                o.put("control_train", r.controlTrainScore());
                o.put("selectivity", r.selectivity());
                ls.add(o);
            }
            m.put("layers", ls);
            return m;
        }
    }

    private LayerProbe() {
    }

    /**
     * Probes every requested layer of {@code reps}' pooling {@code pooling} for label {@code label}
     * (class names for LOGISTIC, numbers for LINEAR). Layers run in parallel; {@code layerDone} is
     * called (from any thread, one call at a time) as each finishes.
     *
     * @throws IllegalArgumentException  a sample without the label, a label with one class, a class
     *                                   with fewer samples than folds, a value that is not a number
     * @throws IndexOutOfBoundsException a layer out of range
     */
    public static Report run(Representations reps, String pooling, String label, Params params, IntConsumer layerDone) {
        int n = reps.size();
        if (n == 0) {
            throw new IllegalArgumentException("no samples to probe");
        }
        if (!reps.poolings().contains(pooling)) {
            throw new IllegalArgumentException("no pooling '" + pooling + "' in these representations; they hold " + reps.poolings());
        }
        int[] layers = params.layers().length == 0 ? IntStream.range(0, reps.layers()).toArray() : params.layers();
        List<Map<String, String>> labelSets = IntStream.range(0, n).mapToObj(reps::labels).toList();
        String[] values = checkInput(reps.sampleIds(), labelSets, label, params, reps.layers());
        boolean classify = params.probe().kind().classifies();
        List<String> classes = new ArrayList<>();
        int[] counts;
        double[] y = new double[n];
        int[] folds;
        double chance;
        double[] control;
        int[] controlFolds;
        if (classify) {
            List<String> sorted = Arrays.stream(values).distinct().sorted().toList();
            classes.addAll(sorted);
            counts = new int[classes.size()];
            int[] yi = new int[n];
            for (int i = 0; i < n; i++) {
                yi[i] = Collections.binarySearch(sorted, values[i]);
                y[i] = yi[i];
                counts[yi[i]]++;
            }
            chance = (double) Arrays.stream(counts).max().orElseThrow() / n;
            folds = Folds.stratified(yi, params.folds(), params.seed(), classes);
            int[] shuffled = Folds.permuted(yi, params.seed() ^ 0x5DEECE66DL);
            control = Arrays.stream(shuffled).asDoubleStream().toArray();
            controlFolds = Folds.stratified(shuffled, params.folds(), params.seed(), classes);
        } else {
            counts = new int[0];
            for (int i = 0; i < n; i++) {
                y[i] = Double.parseDouble(values[i]); // checked above
            }
            chance = 0;
            folds = Folds.plain(n, params.folds(), params.seed());
            control = Folds.permuted(y, params.seed() ^ 0x5DEECE66DL);
            controlFolds = folds;
        }
        Object lock = new Object();
        List<LayerResult> results = Arrays.stream(layers).parallel().mapToObj(l -> {
            double[][] x = reps.layer(pooling, l);
            Score real = crossValidate(x, y, folds, params, classify);
            Score ctl = crossValidate(x, control, controlFolds, params, classify);
            LayerResult r = new LayerResult(l, real.score, real.low, real.high, real.foldMean, real.foldSd, real.train, ctl.score, ctl.low,
                    ctl.high, ctl.train, real.score - ctl.score);
            if (layerDone != null) {
                synchronized (lock) {
                    layerDone.accept(l);
                }
            }
            return r;
        }).toList();
        return new Report(pooling, label, params.probe().kind(), classify ? "accuracy" : "r2", n, classes, counts, chance, params.folds(),
                params.seed(), params.probe().c(), results);
    }

    /**
     * Checks what {@link #run} would reject, before anything is collected: every requested layer in
     * range, every sample with the label, at least two classes (two values for a numeric target),
     * every class with at least as many samples as folds, numbers for a numeric target.
     *
     * @return the label's value of every sample
     */
    public static String[] checkInput(List<String> sampleIds, List<Map<String, String>> labels, String label, Params params, int modelLayers) {
        for (int l : params.layers()) {
            if (l < 0 || l >= modelLayers) {
                throw new IndexOutOfBoundsException("layer " + l + " is out of range [0, " + modelLayers + ")");
            }
        }
        int n = sampleIds.size();
        if (n == 0) {
            throw new IllegalArgumentException("no samples to probe");
        }
        String[] values = new String[n];
        for (int i = 0; i < n; i++) {
            values[i] = labels.get(i).get(label);
            if (values[i] == null) {
                throw new IllegalArgumentException("sample " + sampleIds.get(i) + " has no label '" + label + "'"
                        + (labels.get(i).isEmpty() ? "" : " (it has " + new java.util.TreeSet<>(labels.get(i).keySet()) + ")"));
            }
        }
        if (params.probe().kind().classifies()) {
            List<String> classes = Arrays.stream(values).distinct().sorted().toList();
            if (classes.size() < 2) {
                throw new IllegalArgumentException("label '" + label + "' has a single class ('" + classes.getFirst() + "') in all " + n
                        + " samples: a probe needs at least two");
            }
            int[] yi = Arrays.stream(values).mapToInt(v -> Collections.binarySearch(classes, v)).toArray();
            Folds.stratified(yi, params.folds(), params.seed(), classes); // throws for a class with fewer samples than folds
        } else {
            double[] y = new double[n];
            for (int i = 0; i < n; i++) {
                try {
                    y[i] = Double.parseDouble(values[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("sample " + sampleIds.get(i) + ": label '" + label + "' is '" + values[i]
                            + "', not a number (a linear probe needs a numeric target)");
                }
                if (!Double.isFinite(y[i])) {
                    throw new IllegalArgumentException("sample " + sampleIds.get(i) + ": label '" + label + "' is not finite");
                }
            }
            if (Arrays.stream(y).distinct().count() < 2) {
                throw new IllegalArgumentException("label '" + label + "' has the same value in all " + n + " samples: nothing to regress");
            }
            if (params.folds() > n) {
                throw new IllegalArgumentException(params.folds() + " folds for " + n + " samples");
            }
        }
        return values;
    }

    private record Score(double score, double low, double high, double foldMean, double foldSd, double train) {
    }

    /** k-fold cross-validation of one probe on (x, y) with the given fold of each sample. */
    static Score crossValidate(double[][] x, double[] y, int[] fold, Params params, boolean classify) {
        int k = params.folds();
        int n = x.length;
        double[] predicted = new double[n];
        double[] foldScores = new double[k];
        double trainSum = 0;
        for (int f = 0; f < k; f++) {
            List<Integer> train = new ArrayList<>();
            List<Integer> test = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                (fold[i] == f ? test : train).add(i);
            }
            double[][] xt = new double[train.size()][];
            double[] yt = new double[train.size()];
            for (int i = 0; i < xt.length; i++) {
                xt[i] = x[train.get(i)];
                yt[i] = y[train.get(i)];
            }
            LinearProbe probe = LinearProbe.fit(xt, yt, params.probe());
            double[] pt = new double[test.size()];
            double[] ytest = new double[test.size()];
            for (int i = 0; i < pt.length; i++) {
                pt[i] = probe.predict(x[test.get(i)]);
                ytest[i] = y[test.get(i)];
                predicted[test.get(i)] = pt[i];
            }
            foldScores[f] = score(ytest, pt, classify);
            double[] ptrain = new double[xt.length];
            for (int i = 0; i < xt.length; i++) {
                ptrain[i] = probe.predict(xt[i]);
            }
            trainSum += score(yt, ptrain, classify);
        }
        double mean = Arrays.stream(foldScores).average().orElse(Double.NaN);
        double sd = Math.sqrt(Arrays.stream(foldScores).map(s -> (s - mean) * (s - mean)).sum() / (k - 1));
        double score = score(y, predicted, classify);
        double low;
        double high;
        if (classify) {
            long correct = IntStream.range(0, n).filter(i -> predicted[i] == y[i]).count();
            double[] ci = Intervals.wilson(correct, n, Intervals.Z95);
            low = ci[0];
            high = ci[1];
        } else {
            double se = sd / Math.sqrt(k);
            low = mean - Intervals.Z95 * se;
            high = mean + Intervals.Z95 * se;
        }
        return new Score(score, low, high, mean, sd, trainSum / k);
    }

    /** Accuracy, or R² = 1 − SSE/SST (SST about the mean of {@code truth}). */
    static double score(double[] truth, double[] predicted, boolean classify) {
        if (classify) {
            int c = 0;
            for (int i = 0; i < truth.length; i++) {
                if (truth[i] == predicted[i]) {
                    c++;
                }
            }
            return (double) c / truth.length;
        }
        double m = Arrays.stream(truth).average().orElse(0);
        double sse = 0;
        double sst = 0;
        for (int i = 0; i < truth.length; i++) {
            sse += (truth[i] - predicted[i]) * (truth[i] - predicted[i]);
            sst += (truth[i] - m) * (truth[i] - m);
        }
        return sst == 0 ? Double.NaN : 1 - sse / sst;
    }
}
