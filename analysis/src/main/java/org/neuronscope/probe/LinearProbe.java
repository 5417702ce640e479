package org.neuronscope.probe;

import de.bwaldvogel.liblinear.Feature;
import de.bwaldvogel.liblinear.FeatureNode;
import de.bwaldvogel.liblinear.Linear;
import de.bwaldvogel.liblinear.Model;
import de.bwaldvogel.liblinear.Parameter;
import de.bwaldvogel.liblinear.Problem;
import de.bwaldvogel.liblinear.SolverType;

/**
 * A linear probe trained with LIBLINEAR (its Java port): L2-regularised logistic regression (solver
 * {@code L2R_LR}, the primal trust-region Newton method: deterministic) for a class label — binary,
 * or one-vs-rest for more classes, which is what LIBLINEAR's logistic regression offers — and
 * L2-regularised least squares (ridge regression: {@code L2R_L2LOSS_SVR} with epsilon 0) for a
 * numeric target. Features are standardised with the training set's mean and standard deviation (a
 * constant feature becomes 0), and the bias is a feature LIBLINEAR does not regularise.
 * The objective is LIBLINEAR's: {@code ½‖w‖² + C Σ loss(y_i, w·x_i + b)}.
 */
public final class LinearProbe {
    static {
        Linear.disableDebugOutput(); // LIBLINEAR prints its iterations to System.out otherwise
    }

    /** What the probe fits. */
    public enum Kind {
        /** L2-regularised logistic regression on a class label (one-vs-rest for more than 2 classes). */
        LOGISTIC,
        /** L2-regularised linear (ridge) regression on a numeric target. */
        LINEAR;

        public static Kind parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "logistic", "logreg", "lr" -> LOGISTIC;
                case "linear", "ridge", "regression" -> LINEAR;
                default -> throw new IllegalArgumentException("unknown probe '" + s + "': logistic or linear");
            };
        }

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * @param kind the model
     * @param c    LIBLINEAR's cost C (inverse regularisation strength), default 1
     * @param eps  LIBLINEAR's stopping tolerance, default 1e-4
     */
    public record Params(Kind kind, double c, double eps) {
        public Params {
            if (kind == null) {
                throw new IllegalArgumentException("a probe kind is required");
            }
            if (!(c > 0) || !(eps > 0) || Double.isInfinite(c)) {
                throw new IllegalArgumentException("C and eps must be positive and finite, got " + c + " and " + eps);
            }
        }

        public static Params of(Kind kind) {
            return new Params(kind, 1.0, 1e-4);
        }
    }

    private final Params params;
    private final Model model;
    private final double[] mean;
    private final double[] scale;

    private LinearProbe(Params params, Model model, double[] mean, double[] scale) {
        this.params = params;
        this.model = model;
        this.mean = mean;
        this.scale = scale;
    }

    /**
     * Trains on rows {@code x} (samples x features) with targets {@code y}: class indices for
     * LOGISTIC (at least two distinct), values for LINEAR.
     */
    public static LinearProbe fit(double[][] x, double[] y, Params params) {
        if (x.length == 0 || x.length != y.length) {
            throw new IllegalArgumentException(x.length + " samples and " + y.length + " targets");
        }
        int d = x[0].length;
        double[] mean = new double[d];
        double[] scale = new double[d];
        for (double[] row : x) {
            if (row.length != d) {
                throw new IllegalArgumentException("rows of different widths: " + d + " and " + row.length);
            }
            for (int j = 0; j < d; j++) {
                mean[j] += row[j];
            }
        }
        for (int j = 0; j < d; j++) {
            mean[j] /= x.length;
        }
        for (double[] row : x) {
            for (int j = 0; j < d; j++) {
                double t = row[j] - mean[j];
                scale[j] += t * t;
            }
        }
        for (int j = 0; j < d; j++) {
            double sd = Math.sqrt(scale[j] / x.length);
            scale[j] = sd > 1e-12 * Math.max(1, Math.abs(mean[j])) ? 1 / sd : 0; // a constant feature carries nothing
        }
        Problem p = new Problem();
        p.l = x.length;
        p.n = d + 1;
        p.bias = 1;
        p.y = y.clone();
        p.x = new Feature[x.length][];
        for (int i = 0; i < x.length; i++) {
            p.x[i] = features(x[i], mean, scale);
        }
        Parameter param = params.kind() == Kind.LOGISTIC
                ? new Parameter(SolverType.L2R_LR, params.c(), params.eps())
                : new Parameter(SolverType.L2R_L2LOSS_SVR, params.c(), params.eps(), 0.0);
        param.setRegularizeBias(false);
        return new LinearProbe(params, Linear.train(p, param), mean, scale);
    }

    /** Standardised features with LIBLINEAR's 1-based indices, and the bias feature (index d+1) last. */
    private static Feature[] features(double[] row, double[] mean, double[] scale) {
        Feature[] f = new Feature[row.length + 1];
        for (int j = 0; j < row.length; j++) {
            f[j] = new FeatureNode(j + 1, (row[j] - mean[j]) * scale[j]);
        }
        f[row.length] = new FeatureNode(row.length + 1, 1.0);
        return f;
    }

    public Params params() {
        return params;
    }

    /** The predicted class index (LOGISTIC) or value (LINEAR). */
    public double predict(double[] row) {
        check(row);
        return Linear.predict(model, features(row, mean, scale));
    }

    /**
     * LIBLINEAR's decision values: for a binary model one value (positive: {@link #labels()}[0]), for
     * more classes one per class in {@link #labels()} order, for regression the prediction.
     */
    public double[] decisionValues(double[] row) {
        check(row);
        int n = model.getNrClass() == 2 || params.kind() == Kind.LINEAR ? 1 : model.getNrClass();
        double[] dec = new double[n];
        Linear.predictValues(model, features(row, mean, scale), dec);
        return dec;
    }

    /** The classes in the model's order (LIBLINEAR orders them by first appearance in the training set). */
    public int[] labels() {
        return model.getLabels() == null ? new int[0] : model.getLabels().clone();
    }

    /**
     * The weights on standardised features and the bias last: {@code (d + 1) x m} row-major, m = 1
     * for binary or regression, the number of classes otherwise (LIBLINEAR's layout).
     */
    public double[] weights() {
        return model.getFeatureWeights().clone();
    }

    /** The training mean and 1/sd (0 for a constant feature) used to standardise features. */
    public double[] featureMean() {
        return mean.clone();
    }

    public double[] featureScale() {
        return scale.clone();
    }

    private void check(double[] row) {
        if (row.length != mean.length) {
            throw new IllegalArgumentException("a row of " + row.length + " features for a probe of " + mean.length);
        }
    }
}
