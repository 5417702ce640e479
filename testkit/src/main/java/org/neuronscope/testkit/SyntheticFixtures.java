package org.neuronscope.testkit;

import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Synthetic models written once per test JVM into target/test-models. */
public final class SyntheticFixtures {
    /** Every architecture the hooks claim to support, each tested with its own synthetic model. */
    public static final List<String> ARCHITECTURES = List.of("llama", "qwen2", "qwen3", "gemma3", "qwen2vl");

    private static final Map<String, Path> CACHE = new ConcurrentHashMap<>();

    private SyntheticFixtures() {
    }

    public static Path directory() {
        Path dir = Path.of("target", "test-models").toAbsolutePath();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** The vocab-only GGUF of llama.cpp used as the tokenizer of an architecture. */
    public static Path vocabFor(String architecture) {
        return LlamaTree.models().resolve(switch (architecture) {
            case "llama" -> "ggml-vocab-llama-spm.gguf";
            case "gemma3" -> "ggml-vocab-gemma-4.gguf";
            default -> "ggml-vocab-qwen2.gguf";
        });
    }

    /** A tiny random model of an architecture. */
    public static Path tiny(String architecture) {
        return CACHE.computeIfAbsent("tiny-" + architecture,
                k -> SyntheticModels.write(ModelSpec.tiny(architecture, vocabFor(architecture)), directory().resolve(k + ".gguf")));
    }

    /** Any model from a spec, cached by name. */
    public static Path model(String name, ModelSpec spec) {
        return CACHE.computeIfAbsent(name, k -> SyntheticModels.write(spec, directory().resolve(k + ".gguf")));
    }
}
