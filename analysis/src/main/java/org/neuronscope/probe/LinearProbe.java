package org.neuronscope.probe;

import de.bwaldvogel.liblinear.Feature;
import de.bwaldvogel.liblinear.FeatureNode;
import de.bwaldvogel.liblinear.Linear;
import de.bwaldvogel.liblinear.Model;
import de.bwaldvogel.liblinear.Parameter;
import de.bwaldvogel.liblinear.Problem;
import de.bwaldvogel.liblinear.SolverType;

/**
 * A linear probe. For a class label: L2-regularised logistic regression, either LIBLINEAR's (its Java
 * port; solver {@code L2R_LR}, the primal trust-region Newton method: deterministic) — binary, or
 * one-vs-rest for more classes, which is all LIBLINEAR's logistic regression offers — or a true
 * multinomial (softmax) model, Apache OpenNLP's maximum-entropy trainer ({@code QNTrainer}: L-BFGS on
 * the negative log-likelihood plus an L2 term, deterministic), chosen with {@link Kind#MULTINOMIAL}.
 * {@link Kind#LOGISTIC}, the default, is LIBLINEAR's. For a numeric target:
 * L2-regularised least squares (ridge regression: {@code L2R_L2LOSS_SVR} with epsilon 0).
 * Features are standardised with the training set's mean and standard deviation (a constant feature
 * becomes 0). LIBLINEAR's objective is {@code ½‖w‖² + C Σ loss(y_i, w·x_i + b)}, its bias not
 * regularised; the multinomial objective is {@code ½‖W‖² + C Σ −log softmax(W x_i + b)_{y_i}} (OpenNLP's
 * {@code NLL + L2Cost·‖θ‖²} with {@code L2Cost = 1/(2C)}), its bias a constant feature that is
 * regularised like the rest. See docs/METHODS.md §5.
 */
public final class LinearProbe {
    static {
        Linear.disableDebugOutput(); // LIBLINEAR prints its iterations to System.out otherwise
    }

    /** What the probe fits. */
    public enum Kind {
        /** LIBLINEAR's L2-regularised logistic regression on a class label (one-vs-rest for more than 2 classes). */
        LOGISTIC,
        /**
         * The multinomial (softmax) L2-regularised logistic regression (OpenNLP's maximum entropy) at
         * any number of classes. Opt-in: OpenNLP's L-BFGS stops at a fixed, loose tolerance (see
         * docs/METHODS.md §5).
         */
        MULTINOMIAL,
        /** L2-regularised linear (ridge) regression on a numeric target. */
        LINEAR;

        public static Kind parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "logistic", "logreg", "lr", "ovr", "one-vs-rest", "liblinear" -> LOGISTIC;
                case "multinomial", "softmax", "maxent" -> MULTINOMIAL;
                case "linear", "ridge", "regression" -> LINEAR;
                default -> throw new IllegalArgumentException("unknown probe '" + s + "': logistic, multinomial or linear");
            };
        }

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Whether this kind predicts a class (all but {@link #LINEAR}). */
        public boolean classifies() {
            return this != LINEAR;
        }

        /** Whether a label with {@code classes} classes is fitted by the multinomial model. */
        public boolean multinomialFor(int classes) {
            return this == MULTINOMIAL;
        }

        /** The model and solver that fit a label with {@code classes} classes (0 for a numeric target), in words. */
        public String solver(int classes) {
            if (this == LINEAR) {
                return "liblinear L2R_L2LOSS_SVR (ridge)";
            }
            if (multinomialFor(classes)) {
                return "opennlp maxent QN (multinomial)";
            }
            return classes <= 2 ? "liblinear L2R_LR (binary)" : "liblinear L2R_LR (one-vs-rest)";
        }
    }

    /**
     * @param kind the model
     * @param c    the cost C (inverse regularisation strength) of either model, default 1
     * @param eps  LIBLINEAR's stopping tolerance, default 1e-4 (OpenNLP's L-BFGS stops at its own
     *             tolerances: a relative objective change or a relative gradient norm below 1e-4)
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
    private final Model model; // LIBLINEAR's, or null
    private final MultinomialModel multinomial; // or null
    private final double[] mean;
    private final double[] scale;

    private LinearProbe(Params params, Model model, MultinomialModel multinomial, double[] mean, double[] scale) {
        this.params = params;
        this.model = model;
        this.multinomial = multinomial;
        this.mean = mean;
        this.scale = scale;
    }

    /**
     * Trains on rows {@code x} (samples x features) with targets {@code y}: class indices for the
     * classifying kinds (at least two distinct), values for LINEAR.
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
        if (params.kind().classifies()) {
            for (double v : y) {
                if (v != Math.rint(v) || v < 0) {
                    throw new IllegalArgumentException("class indices must be whole numbers >= 0, got " + v);
                }
            }
        }
        if (params.kind().multinomialFor((int) java.util.Arrays.stream(y).distinct().count())) {
            double[][] z = new double[x.length][];
            for (int i = 0; i < x.length; i++) {
                z[i] = standardised(x[i], mean, scale);
            }
            return new LinearProbe(params, null, MultinomialModel.fit(z, y, params.c()), mean, scale);
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
        Parameter param = params.kind().classifies()
                ? new Parameter(SolverType.L2R_LR, params.c(), params.eps())
                : new Parameter(SolverType.L2R_L2LOSS_SVR, params.c(), params.eps(), 0.0);
        param.setRegularizeBias(false);
        return new LinearProbe(params, Linear.train(p, param), null, mean, scale);
    }

    private static double[] standardised(double[] row, double[] mean, double[] scale) {
        double[] z = new double[row.length];
        for (int j = 0; j < row.length; j++) {
            z[j] = (row[j] - mean[j]) * scale[j];
        }
        return z;
    }

    /** Whether this probe is the multinomial (softmax) model. */
    public boolean isMultinomial() {
        return multinomial != null;
    }

    /** The model and solver fitted, in words (as {@link Kind#solver}). */
    public String solver() {
        return params.kind().solver(params.kind() == Kind.LINEAR ? 0 : labels().length);
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
        if (multinomial != null) {
            return multinomial.predict(standardised(row, mean, scale));
        }
        return Linear.predict(model, features(row, mean, scale));
    }

    /**
     * LIBLINEAR's decision values: for a binary model one value (positive: {@link #labels()}[0]), for
     * more classes one per class in {@link #labels()} order, for regression the prediction; for the
     * multinomial model the linear scores {@code W x + b}, one per class in {@link #labels()} order.
     */
    public double[] decisionValues(double[] row) {
        check(row);
        if (multinomial != null) {
            return multinomial.scores(standardised(row, mean, scale));
        }
        int n = model.getNrClass() == 2 || params.kind() == Kind.LINEAR ? 1 : model.getNrClass();
        double[] dec = new double[n];
        Linear.predictValues(model, features(row, mean, scale), dec);
        return dec;
    }

    /**
     * The classes in the model's order (LIBLINEAR orders them by first appearance in the training set;
     * the multinomial model by class index).
     */
    public int[] labels() {
        if (multinomial != null) {
            return multinomial.classes();
        }
        return model.getLabels() == null ? new int[0] : model.getLabels().clone();
    }

    /**
     * The multinomial model's class probabilities (softmax of {@link #decisionValues}), in
     * {@link #labels()} order.
     *
     * @throws IllegalStateException for a LIBLINEAR model
     */
    public double[] probabilities(double[] row) {
        check(row);
        if (multinomial == null) {
            throw new IllegalStateException("class probabilities are the multinomial model's; this probe is " + solver());
        }
        return MultinomialModel.softmax(multinomial.scores(standardised(row, mean, scale)));
    }

    /**
     * The weights on standardised features and the bias last: {@code (d + 1) x m} row-major, m = 1
     * for binary or regression, the number of classes otherwise (LIBLINEAR's layout; the multinomial
     * model's in the same layout, one column per class).
     */
    public double[] weights() {
        if (multinomial != null) {
            return multinomial.weights();
        }
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
