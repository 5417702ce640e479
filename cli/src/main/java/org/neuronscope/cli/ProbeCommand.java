package org.neuronscope.cli;

import org.neuronscope.experiments.ModelOptions;

import org.neuronscope.collect.Pooling;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.ProbeExperiment;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.probe.LayerProbe;
import org.neuronscope.probe.LinearProbe;
import org.neuronscope.probe.RandomInitModel;
import org.neuronscope.probe.Representations;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code neuronscope probe}: layer-wise linear probes on pooled representations (Tao et al. 2024). */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = "Pool each sample's residual stream per layer in the graph (last token, mean over text or image tokens), save it as "
                + ".npy, and train a linear probe per layer with k-fold cross-validation and a shuffled-label control; resumable.")
final class ProbeCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    ModelOptions model;
    @Option(names = "--dataset", description = "JSONL dataset whose samples carry the label (required unless --representations)")
    Path dataset;
    @Option(names = "--representations", description = "probe representations saved by an earlier run (a representations/ directory) "
            + "instead of running a model")
    Path representations;
    @Option(names = "--label", required = true, description = "the sample label to probe (a class for logistic, a number for linear)")
    String label;
    @Option(names = "--out", required = true, description = "output directory (representations/, checkpoint/, probe-<pooling>/)")
    Path out;
    @Option(names = "--pooling", split = ",",
            description = "last, mean, mean:text, mean:image, mean:audio, mean:video, mean:special; several comma-separated are collected "
                    + "in one pass (default: last; with --representations, every pooling saved there)")
    List<String> pooling;
    @Option(names = "--probe", defaultValue = "logistic", description = "logistic (LIBLINEAR's L2 logistic regression; one-vs-rest for more "
            + "than two classes), multinomial (softmax L2 logistic regression, OpenNLP's maximum entropy; see docs/METHODS.md §5) "
            + "or linear (L2 least squares on a numeric label) (default: ${DEFAULT-VALUE})")
    String probe;
    @Option(names = "--folds", defaultValue = "5", description = "k of the k-fold cross-validation (default: ${DEFAULT-VALUE})")
    int folds;
    @Option(names = "--seed", defaultValue = "0", description = "seed of the folds and of the control's shuffle (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--c", defaultValue = "1.0", description = "the probe's cost C, the inverse regularisation strength (default: ${DEFAULT-VALUE})")
    double c;
    @Option(names = "--layers", defaultValue = "all", description = "layers to probe: all, or a list such as 0,4,8-12 (default: ${DEFAULT-VALUE})")
    String layers;
    @Option(names = "--checkpoint-every", defaultValue = "50", description = "samples between checkpoints (default: ${DEFAULT-VALUE})")
    int checkpointEvery;
    @Option(names = "--parallel", defaultValue = "1", description = "samples decoded together, one sequence each (default: ${DEFAULT-VALUE})")
    int parallel;
    @Option(names = "--control", description = "random-init: also probe the same architecture with random weights (Tao et al.'s baseline; "
            + "writes DIR/random-init/model.gguf, needs --model and --dataset)")
    String control;
    @Option(names = "--control-seed", defaultValue = "0", description = "seed of the random weights of --control random-init (default: ${DEFAULT-VALUE})")
    long controlSeed;
    @Option(names = "--init-std", defaultValue = "0.02", description = "standard deviation of the random weights (Hugging Face's "
            + "initializer_range; default: ${DEFAULT-VALUE})")
    double initStd;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        List<Pooling> poolings = (pooling == null ? List.of("last") : pooling).stream().map(Pooling::parse).toList();
        LayerProbe.Params params = new LayerProbe.Params(new LinearProbe.Params(LinearProbe.Kind.parse(probe), c, 1e-4), folds, seed,
                parseLayers(layers));
        if (control != null && !control.equalsIgnoreCase("random-init")) {
            throw new IllegalArgumentException("--control: unknown control '" + control + "' (random-init)");
        }
        boolean randomInit = control != null;
        if (randomInit && (representations != null || dataset == null || model.model() == null)) {
            throw new IllegalArgumentException("--control random-init needs --model and --dataset (it decodes the dataset again on the "
                    + "randomly-initialised copy of the model), not --representations");
        }
        Representations reps;
        if (representations != null) {
            reps = Representations.read(representations);
            LayerProbe.checkInput(reps.sampleIds(), labelsOf(reps), label, params, reps.layers());
        } else {
            if (dataset == null) {
                throw new IllegalArgumentException("--dataset (or --representations) is required");
            }
            Dataset data = Dataset.load(dataset);
            List<String> ids = data.samples().stream().map(Sample::id).toList();
            List<Map<String, String>> labels = data.samples().stream().map(Sample::labels).toList();
            try (Workbench wb = Workbench.open(model.setup(parallel))) {
                // everything the probe would reject is said before the first decode
                LayerProbe.checkInput(ids, labels, label, params, wb.hooks().layers());
                reps = ProbeExperiment.collect(wb, data, new ProbeExperiment.Params(poolings, checkpointEvery, parallel), out,
                        CliSupport.bar(spec.commandLine().getErr()));
            }
            stdout.println("representations of " + reps.size() + " samples (" + reps.layers() + " layers x " + reps.width() + ") in "
                    + ProbeExperiment.representationsDir(out));
        }
        List<String> names = representations != null && pooling == null ? reps.poolings() : poolings.stream().map(Pooling::name).toList();
        for (String p : names) {
            Path dir = out.resolve("probe-" + Representations.fileName(p).replace(".npy", ""));
            LayerProbe.Report report = ProbeExperiment.probe(reps, p, label, params, dir, CliSupport.bar(spec.commandLine().getErr()));
            stdout.print(report.table());
            stdout.println("written to " + dir + " (probe.txt, probe.csv, probe.json, report/index.html)");
        }
        if (randomInit) {
            randomInitControl(stdout, poolings, params, names, reps);
        }
        return 0;
    }

    /**
     * The randomly-initialised-model control: the same dataset, poolings and probe on a copy of the
     * model with random weights ({@link RandomInitModel}); its reports go under DIR/random-init/, and
     * a per-layer comparison with the trained model's to DIR/probe-&lt;pooling&gt;/random-init.csv.
     */
    private void randomInitControl(PrintWriter stdout, List<Pooling> poolings, LayerProbe.Params params, List<String> names, Representations trained)
            throws IOException {
        Path dir = out.resolve("random-init");
        Path file = dir.resolve("model.gguf");
        boolean reuse = false;
        if (Files.exists(file)) {
            try (GgufFile g = GgufFile.open(file)) {
                reuse = g.metadata().containsKey(RandomInitModel.SEED_KEY)
                        && Long.toString(controlSeed).equals(g.getString(RandomInitModel.SEED_KEY))
                        && g.getFloat(RandomInitModel.STD_KEY) == (float) initStd;
            }
        }
        if (!reuse) {
            if (Files.exists(ProbeExperiment.representationsDir(dir)) || Files.exists(dir.resolve("checkpoint"))) {
                throw new IllegalArgumentException(dir + " holds a random-init control with another seed or std: remove it or use the same "
                        + "--control-seed and --init-std");
            }
            Files.createDirectories(dir);
            RandomInitModel.Summary sum = RandomInitModel.write(model.model(), file, controlSeed, initStd);
            stdout.println("random-init copy of the model: " + sum.drawn().size() + " tensors drawn from N(0, " + initStd + "^2), "
                    + sum.ones().size() + " norms set to 1, " + sum.zeros().size() + " biases set to 0, " + sum.copied().size() + " copied, in "
                    + file);
        }
        Workbench.Setup s = model.setup(parallel);
        Representations reps;
        try (Workbench wb = Workbench.open(new Workbench.Setup(file, s.loading(), s.projector(), s.session(), s.media(), s.format()))) {
            reps = ProbeExperiment.collect(wb, Dataset.load(dataset), new ProbeExperiment.Params(poolings, checkpointEvery, parallel), dir,
                    CliSupport.bar(spec.commandLine().getErr()));
        }
        for (String p : names) {
            String stem = "probe-" + Representations.fileName(p).replace(".npy", "");
            LayerProbe.Report control = ProbeExperiment.probe(reps, p, label, params, dir.resolve(stem), CliSupport.bar(spec.commandLine().getErr()));
            LayerProbe.Report real = LayerProbe.run(trained, p, label, params, null);
            StringBuilder csv = new StringBuilder("layer,trained,random_init,difference\n");
            stdout.printf(java.util.Locale.ROOT, "trained against random-init (%s, %s):%n%5s  %8s  %11s  %10s%n", p, control.metric(), "layer", "trained",
                    "random-init", "difference");
            for (int i = 0; i < real.layers().size(); i++) {
                LayerProbe.LayerResult a = real.layers().get(i);
                LayerProbe.LayerResult b = control.layers().get(i);
                stdout.printf(java.util.Locale.ROOT, "%5d  %8.4f  %11.4f  %10.4f%n", a.layer(), a.score(), b.score(), a.score() - b.score());
                csv.append(a.layer()).append(',').append(a.score()).append(',').append(b.score()).append(',').append(a.score() - b.score()).append('\n');
            }
            Files.writeString(out.resolve(stem).resolve("random-init.csv"), csv);
            stdout.println("random-init control written to " + dir.resolve(stem) + " and " + out.resolve(stem).resolve("random-init.csv"));
        }
    }

    private static List<Map<String, String>> labelsOf(Representations reps) {
        List<Map<String, String>> l = new ArrayList<>();
        for (int i = 0; i < reps.size(); i++) {
            l.add(reps.labels(i));
        }
        return l;
    }

    /** {@code all} (empty), or comma-separated layers and ranges {@code a-b}. */
    static int[] parseLayers(String text) {
        if (text.equalsIgnoreCase("all")) {
            return new int[0];
        }
        List<Integer> out = new ArrayList<>();
        for (String part : text.split(",")) {
            String p = part.strip();
            try {
                int dash = p.indexOf('-', 1);
                if (dash > 0) {
                    int a = Integer.parseInt(p.substring(0, dash).strip());
                    int b = Integer.parseInt(p.substring(dash + 1).strip());
                    if (b < a) {
                        throw new IllegalArgumentException("--layers: range " + p + " is empty");
                    }
                    for (int l = a; l <= b; l++) {
                        out.add(l);
                    }
                } else {
                    out.add(Integer.parseInt(p));
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--layers: '" + p + "' is not a layer or a range a-b");
            }
        }
        return out.stream().mapToInt(Integer::intValue).distinct().sorted().toArray();
    }
}
