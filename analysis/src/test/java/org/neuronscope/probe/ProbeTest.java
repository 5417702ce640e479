package org.neuronscope.probe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The probes against independent computations: LIBLINEAR's decision values against w·x by hand, its
 * logistic regression and ridge regression against a Newton's-method / closed-form reference written
 * here, the folds against a brute-force count, Wilson's interval against published values, and the
 * shuffled-label control.
 */
class ProbeTest {
    /** Two Gaussian blobs in d dimensions, means ±delta on the first two axes. */
    static double[][] blobs(int n, int d, double delta, long seed, double[] yOut) {
        SplittableRandom r = new SplittableRandom(seed);
        double[][] x = new double[n][d];
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            yOut[i] = c;
            for (int j = 0; j < d; j++) {
                x[i][j] = r.nextGaussian() * (1 + j % 3) + 5 * j;
            }
            x[i][0] += c == 1 ? delta : -delta;
            x[i][1] += c == 1 ? delta * 3 : -delta * 3;
        }
        return x;
    }

    // ------------------------------------------------------------------ LIBLINEAR against references

    @Test
    void decisionValuesAreWDotXOfTheStandardisedFeatures() {
        double[] y = new double[80];
        double[][] x = blobs(80, 6, 0.7, 1, y);
        LinearProbe p = LinearProbe.fit(x, y, LinearProbe.Params.of(LinearProbe.Kind.LOGISTIC));
        double[] w = p.weights();
        double[] mean = p.featureMean();
        double[] scale = p.featureScale();
        assertEquals(7, w.length);
        for (double[] row : x) {
            double dot = w[6];
            for (int j = 0; j < 6; j++) {
                dot += w[j] * (row[j] - mean[j]) * scale[j];
            }
            assertEquals(dot, p.decisionValues(row)[0], 1e-12);
            int expected = dot > 0 ? p.labels()[0] : p.labels()[1];
            assertEquals(expected, p.predict(row));
        }
        // three classes, one-vs-rest: the prediction is the class with the largest decision value
        double[] y3 = new double[90];
        double[][] x3 = blobs(90, 5, 0.5, 2, y3);
        for (int i = 0; i < 90; i++) {
            y3[i] = i % 3;
            x3[i][2] += 2 * (i % 3);
        }
        LinearProbe p3 = LinearProbe.fit(x3, y3, LinearProbe.Params.of(LinearProbe.Kind.LOGISTIC));
        double[] w3 = p3.weights();
        double[] m3 = p3.featureMean();
        double[] s3 = p3.featureScale();
        int[] labels = p3.labels();
        for (double[] row : x3) {
            double[] dec = p3.decisionValues(row);
            int arg = 0;
            for (int c = 0; c < 3; c++) {
                double dot = w3[5 * 3 + c];
                for (int j = 0; j < 5; j++) {
                    dot += w3[j * 3 + c] * (row[j] - m3[j]) * s3[j];
                }
                assertEquals(dot, dec[c], 1e-12);
                if (dec[c] > dec[arg]) {
                    arg = c;
                }
            }
            assertEquals(labels[arg], p3.predict(row));
        }
    }

    /**
     * An independent L2 logistic regression: Newton's method on ½‖w‖² + C Σ log(1 + exp(−s_i (w·z_i + b)))
     * (b unregularised), z the features standardised as the probe does; s = +1 for class 1.
     */
    static double[] referenceLogistic(double[][] x, double[] y, double c, double[][] zOut) {
        int n = x.length;
        int d = x[0].length;
        double[] mean = new double[d];
        double[] sd = new double[d];
        for (double[] r : x) {
            for (int j = 0; j < d; j++) {
                mean[j] += r[j] / n;
            }
        }
        for (double[] r : x) {
            for (int j = 0; j < d; j++) {
                sd[j] += (r[j] - mean[j]) * (r[j] - mean[j]) / n;
            }
        }
        double[][] z = new double[n][d + 1];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                z[i][j] = (x[i][j] - mean[j]) / Math.sqrt(sd[j]);
            }
            z[i][d] = 1;
        }
        zOut[0] = mean;
        zOut[1] = Arrays.stream(sd).map(v -> 1 / Math.sqrt(v)).toArray();
        double[] w = new double[d + 1];
        for (int it = 0; it < 100; it++) {
            double[] g = new double[d + 1];
            double[][] h = new double[d + 1][d + 1];
            for (int j = 0; j < d; j++) {
                g[j] = w[j];
                h[j][j] = 1;
            }
            for (int i = 0; i < n; i++) {
                double s = y[i] == 1 ? 1 : -1;
                double m = 0;
                for (int j = 0; j <= d; j++) {
                    m += w[j] * z[i][j];
                }
                double sig = 1 / (1 + Math.exp(s * m)); // σ(−s m)
                for (int j = 0; j <= d; j++) {
                    g[j] += -c * s * sig * z[i][j];
                    for (int k = 0; k <= d; k++) {
                        h[j][k] += c * sig * (1 - sig) * z[i][j] * z[i][k];
                    }
                }
            }
            double[] step = solve(h, g);
            for (int j = 0; j <= d; j++) {
                w[j] -= step[j];
            }
            if (Arrays.stream(step).map(Math::abs).max().orElse(0) < 1e-12) {
                break;
            }
        }
        return w;
    }

    /** Gaussian elimination with partial pivoting. */
    static double[] solve(double[][] a0, double[] b0) {
        int n = b0.length;
        double[][] a = new double[n][];
        for (int i = 0; i < n; i++) {
            a[i] = Arrays.copyOf(a0[i], n + 1);
            a[i][n] = b0[i];
        }
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int r = col + 1; r < n; r++) {
                if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) {
                    piv = r;
                }
            }
            double[] t = a[col];
            a[col] = a[piv];
            a[piv] = t;
            for (int r = 0; r < n; r++) {
                if (r != col) {
                    double f = a[r][col] / a[col][col];
                    for (int k = col; k <= n; k++) {
                        a[r][k] -= f * a[col][k];
                    }
                }
            }
        }
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = a[i][n] / a[i][i];
        }
        return x;
    }

    @Test
    void accuracyOnAFixedSplitEqualsAnIndependentLogisticRegression() {
        double[] y = new double[300];
        double[][] x = blobs(300, 8, 0.35, 3, y); // overlapping: the accuracy is far from 1
        double[][] xTrain = Arrays.copyOfRange(x, 0, 200);
        double[] yTrain = Arrays.copyOfRange(y, 0, 200);
        LinearProbe p = LinearProbe.fit(xTrain, yTrain, new LinearProbe.Params(LinearProbe.Kind.LOGISTIC, 0.5, 1e-8));
        double[][] std = new double[2][];
        double[] w = referenceLogistic(xTrain, yTrain, 0.5, std);
        int agree = 0;
        int correctProbe = 0;
        int correctRef = 0;
        for (int i = 200; i < 300; i++) {
            double m = w[8];
            for (int j = 0; j < 8; j++) {
                m += w[j] * (x[i][j] - std[0][j]) * std[1][j];
            }
            int ref = m > 0 ? 1 : 0;
            int got = (int) p.predict(x[i]);
            agree += ref == got ? 1 : 0;
            correctRef += ref == y[i] ? 1 : 0;
            correctProbe += got == y[i] ? 1 : 0;
            // the same objective optimised: the same margin (LIBLINEAR's sign convention: labels()[0] positive)
            double dec = p.decisionValues(x[i])[0] * (p.labels()[0] == 1 ? 1 : -1);
            assertEquals(m, dec, 1e-5 * Math.max(1, Math.abs(m)), "margin of test sample " + i);
        }
        assertEquals(100, agree);
        assertEquals(correctRef, correctProbe);
        assertTrue(correctRef > 55 && correctRef < 98, "a task that is neither trivial nor chance: " + correctRef);
    }

    @Test
    void ridgeRegressionEqualsTheClosedForm() {
        SplittableRandom r = new SplittableRandom(4);
        int n = 120;
        int d = 5;
        double[][] x = new double[n][d];
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                x[i][j] = r.nextGaussian() * (j + 1) + j;
            }
            y[i] = 2 * x[i][0] - x[i][3] + 0.5 * r.nextGaussian() + 3;
        }
        double c = 0.05;
        LinearProbe p = LinearProbe.fit(x, y, new LinearProbe.Params(LinearProbe.Kind.LINEAR, c, 1e-10));
        // ½‖w‖² + C Σ (y − w·z − b)²: b = mean(y) (z is centred), (ZᵀZ + I/(2C)) w = Zᵀ(y − ȳ)
        double[] mean = new double[d];
        double[] sd = new double[d];
        for (double[] row : x) {
            for (int j = 0; j < d; j++) {
                mean[j] += row[j] / n;
            }
        }
        for (double[] row : x) {
            for (int j = 0; j < d; j++) {
                sd[j] += (row[j] - mean[j]) * (row[j] - mean[j]) / n;
            }
        }
        double ybar = Arrays.stream(y).average().orElseThrow();
        double[][] a = new double[d][d];
        double[] b = new double[d];
        for (int i = 0; i < n; i++) {
            double[] z = new double[d];
            for (int j = 0; j < d; j++) {
                z[j] = (x[i][j] - mean[j]) / Math.sqrt(sd[j]);
            }
            for (int j = 0; j < d; j++) {
                b[j] += z[j] * (y[i] - ybar);
                for (int k = 0; k < d; k++) {
                    a[j][k] += z[j] * z[k];
                }
            }
        }
        for (int j = 0; j < d; j++) {
            a[j][j] += 1 / (2 * c);
        }
        double[] w = solve(a, b);
        for (int i = 0; i < n; i++) {
            double pred = ybar;
            for (int j = 0; j < d; j++) {
                pred += w[j] * (x[i][j] - mean[j]) / Math.sqrt(sd[j]);
            }
            assertEquals(pred, p.predict(x[i]), 1e-4 * Math.max(1, Math.abs(pred)));
        }
    }

    // ------------------------------------------------------------------ folds

    @Test
    void stratifiedFoldsMatchABruteForceCount() {
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 50; trial++) {
            int k = 2 + r.nextInt(6);
            int classes = 2 + r.nextInt(4);
            List<Integer> labels = new ArrayList<>();
            for (int c = 0; c < classes; c++) {
                int count = k + r.nextInt(30);
                for (int i = 0; i < count; i++) {
                    labels.add(c);
                }
            }
            java.util.Collections.shuffle(labels, new java.util.Random(trial));
            int[] y = labels.stream().mapToInt(Integer::intValue).toArray();
            int[] fold = Folds.stratified(y, k, trial, null);
            int[][] perClass = new int[classes][k];
            int[] sizes = new int[k];
            for (int i = 0; i < y.length; i++) {
                assertTrue(fold[i] >= 0 && fold[i] < k);
                perClass[y[i]][fold[i]]++;
                sizes[fold[i]]++;
            }
            for (int c = 0; c < classes; c++) {
                int min = Arrays.stream(perClass[c]).min().orElseThrow();
                int max = Arrays.stream(perClass[c]).max().orElseThrow();
                assertTrue(max - min <= 1, "class " + c + " spread " + Arrays.toString(perClass[c]));
            }
            assertTrue(Arrays.stream(sizes).max().orElseThrow() - Arrays.stream(sizes).min().orElseThrow() <= 1, Arrays.toString(sizes));
            assertArrayEquals(fold, Folds.stratified(y, k, trial, null), "the same seed gives the same folds");
        }
        int[] y = new int[100];
        for (int i = 0; i < 100; i++) {
            y[i] = i % 2;
        }
        assertFalse(Arrays.equals(Folds.stratified(y, 5, 1, null), Folds.stratified(y, 5, 2, null)), "another seed, other folds");
        int[] plain = Folds.plain(23, 4, 9);
        int[] sizes = new int[4];
        for (int f : plain) {
            sizes[f]++;
        }
        assertArrayEquals(new int[] {6, 6, 6, 5}, sizes);
    }

    // ------------------------------------------------------------------ intervals

    @Test
    void wilsonIntervalMatchesPublishedValues() {
        // Wilson score interval, z = 1.96: 8 of 10 -> [0.4902, 0.9433]; 0 of 10 -> [0, 0.2775]; 50 of 100 -> [0.4038, 0.5962]
        double[] a = Intervals.wilson(8, 10, Intervals.Z95);
        assertEquals(0.4902, a[0], 1e-4);
        assertEquals(0.9433, a[1], 1e-4);
        double[] b = Intervals.wilson(0, 10, Intervals.Z95);
        assertEquals(0.0, b[0], 1e-12);
        assertEquals(0.2775, b[1], 1e-4);
        double[] c = Intervals.wilson(50, 100, Intervals.Z95);
        assertEquals(0.4038, c[0], 1e-4);
        assertEquals(0.5962, c[1], 1e-4);
        assertThrows(IllegalArgumentException.class, () -> Intervals.wilson(3, 2, Intervals.Z95));
    }

    // ------------------------------------------------------------------ cross-validated layers and the control

    /** Representations with 3 layers: layer 0 noise, layers 1 and 2 carry the class (2 more strongly). */
    static Representations layered(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Representations reps = new Representations(List.of("last"), "resid.post", 3, 10, n);
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            double[] v = new double[30];
            for (int j = 0; j < 30; j++) {
                v[j] = r.nextGaussian();
            }
            v[10] += c == 1 ? 0.8 : -0.8;
            v[20] += c == 1 ? 4 : -4;
            reps.add("s" + i, Map.of("class", c == 1 ? "cat" : "dog", "size", Double.toString(v[20] * 2 + v[21])), new double[][] {v});
        }
        return reps;
    }

    @Test
    void crossValidatedLayersAndTheShuffledControl() {
        Representations reps = layered(200, 6);
        LayerProbe.Report report = LayerProbe.run(reps, "last", "class", LayerProbe.Params.defaults(LinearProbe.Kind.LOGISTIC), null);
        assertEquals(List.of("cat", "dog"), report.classes());
        assertEquals(0.5, report.chance());
        LayerProbe.LayerResult l0 = report.layers().get(0);
        LayerProbe.LayerResult l1 = report.layers().get(1);
        LayerProbe.LayerResult l2 = report.layers().get(2);
        assertTrue(Math.abs(l0.score() - 0.5) < 0.12, "noise layer near chance: " + l0.score());
        assertTrue(l1.score() > 0.7 && l1.score() < 0.95, "weak signal: " + l1.score());
        assertTrue(l2.score() > 0.99, "strong signal: " + l2.score());
        for (LayerProbe.LayerResult l : report.layers()) {
            assertTrue(Math.abs(l.controlScore() - 0.5) < 0.12, "shuffled labels are not predictable: " + l.controlScore());
            assertEquals(l.score() - l.controlScore(), l.selectivity(), 1e-15);
            assertTrue(l.low() <= l.score() && l.score() <= l.high());
            double[] w = Intervals.wilson(Math.round(l.score() * 200), 200, Intervals.Z95);
            assertEquals(w[0], l.low(), 1e-12);
            assertEquals(w[1], l.high(), 1e-12);
        }
        assertTrue(l2.selectivity() > 0.35);
        assertEquals(2, report.best().layer());
        // the same seed gives the same report; the table names every layer
        LayerProbe.Report again = LayerProbe.run(reps, "last", "class", LayerProbe.Params.defaults(LinearProbe.Kind.LOGISTIC), null);
        assertEquals(report.layers(), again.layers());
        assertTrue(report.table().contains("majority-class rate 0.5000"));
        assertEquals(4, report.csv().split("\n").length);

        // the cross-validated accuracy is the folds' held-out predictions, recomputed here by hand
        int[] yi = new int[200];
        for (int i = 0; i < 200; i++) {
            yi[i] = reps.labels(i).get("class").equals("cat") ? 0 : 1;
        }
        int[] folds = Folds.stratified(yi, 5, 0, null);
        double[][] x = reps.layer("last", 1);
        int correct = 0;
        for (int f = 0; f < 5; f++) {
            List<double[]> xt = new ArrayList<>();
            List<Double> yt = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                if (folds[i] != f) {
                    xt.add(x[i]);
                    yt.add((double) yi[i]);
                }
            }
            LinearProbe p = LinearProbe.fit(xt.toArray(double[][]::new), yt.stream().mapToDouble(Double::doubleValue).toArray(),
                    LinearProbe.Params.of(LinearProbe.Kind.LOGISTIC));
            for (int i = 0; i < 200; i++) {
                if (folds[i] == f && p.predict(x[i]) == yi[i]) {
                    correct++;
                }
            }
        }
        assertEquals(correct / 200.0, l1.score(), 1e-15);
    }

    @Test
    void linearProbeOnANumericLabel() {
        Representations reps = layered(150, 7);
        LayerProbe.Report report = LayerProbe.run(reps, "last", "size", LayerProbe.Params.defaults(LinearProbe.Kind.LINEAR), null);
        assertEquals("r2", report.metric());
        assertTrue(report.layers().get(2).score() > 0.95, "size is linear in layer 2: " + report.layers().get(2).score());
        assertTrue(report.layers().get(0).score() < 0.2, "not in layer 0: " + report.layers().get(0).score());
        assertTrue(report.layers().get(2).controlScore() < 0.1, "shuffled targets: " + report.layers().get(2).controlScore());
    }

    @Test
    void badInputIsAClearError() {
        Representations reps = new Representations(List.of("last"), "resid.post", 2, 3, 12);
        for (int i = 0; i < 12; i++) {
            reps.add("s" + i, i == 11 ? Map.of("class", "a") : Map.of("class", "a", "kind", i < 2 ? "rare" : "common"), new double[][] {new double[6]});
        }
        LayerProbe.Params defaults = LayerProbe.Params.defaults(LinearProbe.Kind.LOGISTIC);
        var one = assertThrows(IllegalArgumentException.class, () -> LayerProbe.run(reps, "last", "class", defaults, null));
        assertTrue(one.getMessage().contains("single class ('a')"), one.getMessage());
        var missing = assertThrows(IllegalArgumentException.class, () -> LayerProbe.run(reps, "last", "kind", defaults, null));
        assertTrue(missing.getMessage().contains("sample s11 has no label 'kind'"), missing.getMessage());
        var layer = assertThrows(IndexOutOfBoundsException.class, () -> LayerProbe.run(reps, "last", "class", defaults.withLayers(2), null));
        assertTrue(layer.getMessage().contains("layer 2 is out of range [0, 2)"), layer.getMessage());
        var pooling = assertThrows(IllegalArgumentException.class, () -> LayerProbe.run(reps, "mean:image", "class", defaults, null));
        assertTrue(pooling.getMessage().contains("no pooling 'mean:image'"), pooling.getMessage());
        int[] y = {0, 0, 1, 1, 1, 1, 1, 1};
        var rare = assertThrows(IllegalArgumentException.class, () -> Folds.stratified(y, 3, 0, List.of("rare", "common")));
        assertTrue(rare.getMessage().contains("class 'rare' has 2 samples, fewer than the 3 folds"), rare.getMessage());
    }

    @Test
    void representationsRoundTrip(@TempDir Path tmp) throws Exception {
        Representations reps = layered(20, 8);
        reps.metadata().put("model", "m.gguf");
        reps.save(tmp.resolve("r"));
        Representations back = Representations.read(tmp.resolve("r"));
        assertEquals(reps.sampleIds(), back.sampleIds());
        assertEquals(reps.labels(3), back.labels(3));
        assertEquals("m.gguf", back.metadata().get("model"));
        for (int l = 0; l < 3; l++) {
            assertArrayEquals(reps.layer("last", l), back.layer("last", l));
        }
        // numpy sees [samples, layers, width]
        assertArrayEquals(new long[] {20, 3, 10}, org.neuronscope.stats.Npy.readHeader(tmp.resolve("r").resolve("last.npy")).shape());
        // a partly filled collection saves what it has
        Representations partial = new Representations(List.of("last", "mean:text"), "resid.post", 1, 2, 5);
        partial.add("a", Map.of(), new double[][] {{1, 2}, {3, 4}});
        partial.save(tmp.resolve("p"));
        Representations p = Representations.read(tmp.resolve("p"));
        assertEquals(1, p.size());
        assertEquals(5, p.capacity());
        assertEquals(4.0, p.get("mean:text", 0, 0, 1));
    }
}
