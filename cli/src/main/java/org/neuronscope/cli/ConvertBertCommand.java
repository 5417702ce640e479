package org.neuronscope.cli;

import org.neuronscope.gguf.GgmlType;
import org.neuronscope.gguf.OnnxBertConverter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code neuronscope convert-bert}: a BERT encoder exported to ONNX, and its tokenizer.json, to a GGUF llama.cpp runs. */
@Command(name = "convert-bert", mixinStandardHelpOptions = true,
        description = "Convert a BERT encoder exported to ONNX from Hugging Face (e.g. sentence-transformers' all-MiniLM-L6-v2) "
                + "and its WordPiece tokenizer.json to a GGUF of llama.cpp's bert architecture.")
final class ConvertBertCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Option(names = "--onnx", required = true, description = "the ONNX model (weights embedded, not external data)")
    Path onnx;
    @Option(names = "--tokenizer", required = true, description = "its tokenizer.json (WordPiece)")
    Path tokenizer;
    @Option(names = "--out", required = true, description = "the GGUF file to write")
    Path out;
    @Option(names = "--name", defaultValue = "bert", description = "general.name (default: ${DEFAULT-VALUE})")
    String name;
    @Option(names = "--type", defaultValue = "F32", description = "F32 or F16 for the matrices (default: ${DEFAULT-VALUE})")
    GgmlType type;
    @Option(names = "--pooling", defaultValue = "MEAN", description = "NONE, MEAN, CLS or LAST (default: ${DEFAULT-VALUE})")
    OnnxBertConverter.Pooling pooling;
    @Option(names = "--heads", defaultValue = "0", description = "attention heads (default: read from the graph)")
    int heads;

    @Override
    public Integer call() throws Exception {
        OnnxBertConverter.Options options;
        try {
            options = OnnxBertConverter.Options.defaults(name).withType(type).withPooling(pooling).withHeadCount(heads);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        OnnxBertConverter.Result r;
        try {
            r = OnnxBertConverter.convert(onnx, tokenizer, out, options);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot convert " + onnx + ": " + e, e);
        }
        var o = spec.commandLine().getOut();
        o.printf("bert: %d layers, width %d, FFN %d, %d heads, vocabulary %d, context %d, %d tensors%n",
                r.layers(), r.embedding(), r.feedForward(), r.heads(), r.vocabulary(), r.contextLength(), r.tensors());
        o.println("written to " + r.path());
        return 0;
    }
}
