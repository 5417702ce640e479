package org.neuronscope.gguf;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The pinned llama.cpp source tree, for its vocab-only GGUF files: system property
 * {@code neuronscope.llama.src}, else {@code /tmp/lcpp}; tests that need it are skipped without it.
 */
final class LlamaSource {
    static final String PROPERTY = "neuronscope.llama.src";
    private static final Path FALLBACK = Path.of("/tmp/lcpp");

    private LlamaSource() {
    }

    static Path root() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank() && Files.isDirectory(Path.of(p, "models"))) {
            return Path.of(p).toAbsolutePath();
        }
        Assumptions.assumeTrue(Files.isDirectory(FALLBACK.resolve("models")),
                "no llama.cpp source tree: set -D" + PROPERTY + " (tried '" + p + "' and " + FALLBACK + ")");
        return FALLBACK;
    }

    static Path vocab(String name) {
        Path f = root().resolve("models").resolve("ggml-vocab-" + name + ".gguf");
        Assumptions.assumeTrue(Files.isRegularFile(f), f + " is missing");
        return f;
    }
}
