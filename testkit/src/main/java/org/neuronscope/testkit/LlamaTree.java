package org.neuronscope.testkit;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** The pinned, patched llama.cpp tree the native build left behind (vocab files, test vectors, media). */
public final class LlamaTree {
    private LlamaTree() {
    }

    public static Path root() {
        String p = System.getProperty("neuronscope.llama.src");
        Assumptions.assumeTrue(p != null && Files.isDirectory(Path.of(p, "models")),
                "the llama.cpp tree (native/target/llama.cpp) is missing: build the native module first");
        return Path.of(p).toAbsolutePath();
    }

    public static Path models() {
        return root().resolve("models");
    }

    /** A vocab-only GGUF of llama.cpp's models/ directory, e.g. {@code vocab("qwen2")}. */
    public static Path vocab(String name) {
        Path f = models().resolve("ggml-vocab-" + name + ".gguf");
        Assumptions.assumeTrue(Files.isRegularFile(f), f + " is missing");
        return f;
    }
}
