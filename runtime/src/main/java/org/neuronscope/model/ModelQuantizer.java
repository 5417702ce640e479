package org.neuronscope.model;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.internal.LlamaRuntime;
import org.neuronscope.internal.QuantizeCalls;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Quantised copies of a GGUF model made by llama.cpp's own quantiser ({@code llama_model_quantize},
 * what the {@code llama-quantize} tool runs). Tensors whose rows do not split into the type's blocks
 * get llama.cpp's fallback type (e.g. a 384-wide matrix cannot be Q4_K, 256-element blocks, and
 * becomes Q5_0); 1-D tensors stay F32.
 */
public final class ModelQuantizer {
    /** llama.cpp's {@code llama_ftype} values offered here. */
    public enum Type {
        F16(1), Q8_0(7), Q4_0(2), Q4_K_S(14), Q4_K_M(15), Q5_K_M(17), Q6_K(18);

        final int ftype;

        Type(int ftype) {
            this.ftype = ftype;
        }
    }

    private ModelQuantizer() {
    }

    /**
     * Writes a quantised copy of {@code input} to {@code output} (beside it first, moved into place
     * when complete). The input is validated like {@link Model#load} does.
     */
    public static Path quantize(Path input, Path output, Type type, int threads) {
        if (input == null || output == null || type == null) {
            throw new IllegalArgumentException("input, output and type must not be null");
        }
        if (threads <= 0) {
            throw new IllegalArgumentException("threads must be positive, got " + threads);
        }
        if (!Files.isRegularFile(input)) {
            throw new ModelLoadException("model file not found: " + input);
        }
        if (input.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("the quantised copy must not replace its input " + input);
        }
        ModelFiles.validate(input);
        Path tmp = output.resolveSibling(output.getFileName() + ".part");
        int rc = QuantizeCalls.quantize(input.toAbsolutePath().toString(), tmp.toAbsolutePath().toString(), type.ftype, threads);
        try {
            if (rc != 0) {
                Files.deleteIfExists(tmp);
                throw new NeuronScopeException("llama.cpp could not quantise " + input + " to " + type + ": " + LlamaRuntime.lastNativeError());
            }
            Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return output;
    }
}
