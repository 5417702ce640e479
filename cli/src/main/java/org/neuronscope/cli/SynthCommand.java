package org.neuronscope.cli;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.Vocabularies;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code neuronscope synth}: a random-weight GGUF model to try the other commands on, no download, no llama.cpp tree. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write a small random-weight GGUF model (llama.cpp loads it like a real one) with the bundled tokenizer or a vocab-only GGUF.")
final class SynthCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Option(names = "--out", required = true, description = "the GGUF file to write")
    Path out;
    @Option(names = "--arch", defaultValue = "qwen2", description = "llama, qwen2, qwen3, gemma3 or qwen2vl (default: ${DEFAULT-VALUE})")
    String arch;
    @Option(names = "--layers", defaultValue = "3", description = "layers (default: ${DEFAULT-VALUE})")
    int layers;
    @Option(names = "--embedding", defaultValue = "64", description = "hidden width (default: ${DEFAULT-VALUE})")
    int embedding;
    @Option(names = "--ffn", defaultValue = "128", description = "FFN width: neurons per layer (default: ${DEFAULT-VALUE})")
    int ffn;
    @Option(names = "--heads", defaultValue = "4", description = "attention heads (default: ${DEFAULT-VALUE})")
    int heads;
    @Option(names = "--kv-heads", defaultValue = "2", description = "key/value heads (default: ${DEFAULT-VALUE})")
    int kvHeads;
    @Option(names = "--type", defaultValue = "F32", description = "matrix type: F32, F16 or Q8_0 (default: ${DEFAULT-VALUE})")
    GgmlType type;
    @Option(names = "--seed", defaultValue = "42", description = "the weights are a function of the seed and the tensor names (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--vocab", description = "a vocab-only GGUF to take the tokenizer from, e.g. llama.cpp's models/ggml-vocab-qwen2.gguf "
            + "(default: the bundled one, Qwen2's tokenizer cut to 4096 tokens)")
    Path vocab;

    @Override
    public Integer call() {
        if (vocab != null && !Files.isRegularFile(vocab)) {
            throw new IllegalArgumentException("--vocab: no such file: " + vocab);
        }
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a directory; give the GGUF file to write");
        }
        Path v = vocab != null ? vocab : Vocabularies.qwen2Small();
        ModelSpec s = ModelSpec.builder(arch, v).layers(layers).embedding(embedding).feedForward(ffn).heads(heads).kvHeads(kvHeads)
                .weightType(type).seed(seed).build();
        Path written = SyntheticModels.write(s, out);
        spec.commandLine().getOut().printf("%s model: %d layers, %d wide, %d FFN neurons per layer, %s; tokenizer %s%n", arch, layers, embedding, ffn,
                type, vocab != null ? vocab : "bundled (Qwen2, 4096 tokens)");
        spec.commandLine().getOut().println("written to " + written);
        return 0;
    }
}
