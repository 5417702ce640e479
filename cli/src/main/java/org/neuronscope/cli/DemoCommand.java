package org.neuronscope.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code neuronscope demo}: plant neurons, find them again, ablate them (see {@link Demo}). */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Plant image-specific neurons in a synthetic model, find them again with the entropy method and MINER, and ablate them against a random set.")
final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Option(names = "--work", defaultValue = "neuronscope-demo", description = "working directory (default: ${DEFAULT-VALUE})")
    Path work;
    @Option(names = "--samples", defaultValue = "8", description = "image questions, and as many text questions (default: ${DEFAULT-VALUE})")
    int samples;
    @Option(names = "--audio", defaultValue = "0", description = "audio questions (generated noise clips); > 0 also plants audio neurons (default: ${DEFAULT-VALUE})")
    int audio;
    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0: all cores)")
    int threads;
    @Option(names = "--vocab", description = "llama.cpp's models/ggml-vocab-qwen2.gguf (default: from the build's llama.cpp tree, else the bundled Qwen2 tokenizer cut to 4096 tokens)")
    Path vocab;

    @Override
    public Integer call() {
        if (samples <= 0 || audio < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--samples must be positive and --audio not negative, got " + samples + " and " + audio);
        }
        Path tree = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
        if (vocab != null && !Files.isRegularFile(vocab)) {
            throw new IllegalArgumentException("--vocab: no such file: " + vocab);
        }
        // the README's figures are those of the full Qwen2 vocabulary; without the build's llama.cpp tree
        // the bundled one (its first 4096 tokens) still runs the demo, with other figures
        Path v = vocab != null ? vocab : Files.isRegularFile(tree) ? tree : org.neuronscope.testkit.Vocabularies.qwen2Small();
        if (vocab == null && !Files.isRegularFile(tree)) {
            spec.commandLine().getErr().println("note: " + tree + " not found; using the bundled tokenizer (Qwen2's first 4096 tokens), "
                    + "so the figures differ from the README's");
        }
        int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        Demo.Result r = Demo.run(work, v, samples, audio, t, CliSupport.bar(spec.commandLine().getErr()));
        var out = spec.commandLine().getOut();
        out.printf("%-34s %10s %10s%n", "method", "precision", "recall");
        r.precisionRecall().forEach((m, pr) -> out.printf("%-34s %10.3f %10.3f%n", m, pr[0], pr[1]));
        out.println();
        out.println(r.ablation().toText(4));
        if (r.probe() != null) {
            out.print(r.probe().table());
        }
        out.println();
        out.println("report: " + r.report().toAbsolutePath());
        out.println("done in " + CliSupport.format(r.elapsed()));
        return 0;
    }
}
