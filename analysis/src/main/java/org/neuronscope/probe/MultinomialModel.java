package org.neuronscope.probe;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import opennlp.tools.ml.AbstractEventTrainer;
import opennlp.tools.ml.maxent.quasinewton.QNTrainer;
import opennlp.tools.ml.model.AbstractModel;
import opennlp.tools.ml.model.Context;
import opennlp.tools.ml.model.Event;
import opennlp.tools.ml.model.MaxentModel;
import opennlp.tools.util.ObjectStreamUtils;
import opennlp.tools.util.TrainingParameters;

/**
 * The multinomial (softmax) L2-regularised logistic regression of {@link LinearProbe}: Apache
 * OpenNLP's maximum-entropy model trained by its {@code QNTrainer} (L-BFGS, one thread:
 * deterministic) on real-valued features. A maximum-entropy model over real-valued predicates is
 * exactly multinomial logistic regression: {@code p(c | x) = softmax(W x + b)_c} with one weight per
 * (feature, class). Each feature j is the predicate {@code "f<j>"} with its (standardised) value, and
 * the bias is the predicate {@code "bias"} with value 1. OpenNLP minimises {@code NLL(θ) + L2Cost·‖θ‖²};
 * with {@code L2Cost = 1/(2C)} that is {@code C}× LIBLINEAR's scaling of the same loss
 * ({@code ½‖θ‖² + C·NLL}), so the two probes' C mean the same. OpenNLP passes values as float, so
 * the features it sees are rounded to single precision; the scores here are computed in double from
 * the fitted weights.
 */
final class MultinomialModel {
    /** L-BFGS iterations at most; the minimiser stops earlier at its tolerances (relative change 1e-4). */
    static final int ITERATIONS = 1000;
    private static final String BIAS = "bias";

    private final int[] classes; // class index of each row of w, ascending
    private final double[][] w; // [class][feature], the bias last

    private MultinomialModel(int[] classes, double[][] w) {
        this.classes = classes;
        this.w = w;
    }

    /** Fits standardised rows {@code x} with class indices {@code y} (whole numbers, at least two distinct). */
    static MultinomialModel fit(double[][] x, double[] y, double c) {
        int d = x[0].length;
        String[] context = new String[d + 1];
        for (int j = 0; j < d; j++) {
            context[j] = "f" + j;
        }
        context[d] = BIAS;
        List<Event> events = new ArrayList<>(x.length);
        for (int i = 0; i < x.length; i++) {
            float[] v = new float[d + 1];
            for (int j = 0; j < d; j++) {
                v[j] = (float) x[i][j];
            }
            v[d] = 1;
            events.add(new Event(Integer.toString((int) y[i]), context, v));
        }
        TrainingParameters tp = new TrainingParameters();
        tp.put(TrainingParameters.ALGORITHM_PARAM, QNTrainer.MAXENT_QN_VALUE);
        tp.put(TrainingParameters.ITERATIONS_PARAM, ITERATIONS);
        tp.put(TrainingParameters.CUTOFF_PARAM, 0); // OpenNLP's default drops predicates seen fewer than 5 times
        tp.put(QNTrainer.THREADS_PARAM, 1);
        tp.put(QNTrainer.L1COST_PARAM, 0.0);
        tp.put(QNTrainer.L2COST_PARAM, 1.0 / (2.0 * c));
        tp.put(AbstractEventTrainer.DATA_INDEXER_PARAM, AbstractEventTrainer.DATA_INDEXER_ONE_PASS_REAL_VALUE);
        QNTrainer trainer = new QNTrainer();
        trainer.init(tp, new HashMap<>());
        MaxentModel model;
        try {
            model = trainer.train(ObjectStreamUtils.createObjectStream(events));
        } catch (IOException e) {
            throw new UncheckedIOException("OpenNLP's trainer failed on an in-memory event stream", e);
        }
        return fromModel((AbstractModel) model, d);
    }

    /** The weights out of OpenNLP's model: its parameters per predicate, its outcomes named by class index. */
    @SuppressWarnings("unchecked")
    private static MultinomialModel fromModel(AbstractModel model, int d) {
        Object[] data = model.getDataStructures();
        Map<String, Context> pmap = (Map<String, Context>) data[1];
        String[] outcomes = (String[]) data[2];
        int m = outcomes.length;
        int[] byIndex = new int[m];
        for (int o = 0; o < m; o++) {
            byIndex[o] = Integer.parseInt(outcomes[o]);
        }
        int[] classes = byIndex.clone();
        Arrays.sort(classes);
        double[][] w = new double[m][d + 1];
        for (int j = 0; j <= d; j++) {
            String pred = j < d ? "f" + j : BIAS;
            Context ctx = pmap.get(pred);
            if (ctx == null) {
                continue; // a predicate OpenNLP dropped (value 0 in every event: a constant feature) has weight 0
            }
            int[] os = ctx.getOutcomes();
            double[] ps = ctx.getParameters();
            for (int q = 0; q < os.length; q++) {
                w[Arrays.binarySearch(classes, byIndex[os[q]])][j] = ps[q];
            }
        }
        return new MultinomialModel(classes, w);
    }

    /** The class indices, ascending (the order of {@link #scores} and of the weights' columns). */
    int[] classes() {
        return classes.clone();
    }

    /** {@code W x + b} per class. */
    double[] scores(double[] z) {
        double[] s = new double[w.length];
        for (int c = 0; c < w.length; c++) {
            double v = w[c][z.length];
            for (int j = 0; j < z.length; j++) {
                v += w[c][j] * z[j];
            }
            s[c] = v;
        }
        return s;
    }

    /** The class of the highest score (the lowest class index among equal scores). */
    double predict(double[] z) {
        double[] s = scores(z);
        int best = 0;
        for (int c = 1; c < s.length; c++) {
            if (s[c] > s[best]) {
                best = c;
            }
        }
        return classes[best];
    }

    /** The weights as {@code (d + 1) x m} row-major, the bias row last (LIBLINEAR's layout). */
    double[] weights() {
        int m = w.length;
        int p = w[0].length;
        double[] out = new double[p * m];
        for (int j = 0; j < p; j++) {
            for (int c = 0; c < m; c++) {
                out[j * m + c] = w[c][j];
            }
        }
        return out;
    }

    static double[] softmax(double[] s) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : s) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] p = new double[s.length];
        for (int c = 0; c < s.length; c++) {
            p[c] = Math.exp(s[c] - max);
            sum += p[c];
        }
        for (int c = 0; c < s.length; c++) {
            p[c] /= sum;
        }
        return p;
    }
}
