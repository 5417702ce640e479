package org.neuronscope.examples;

import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.model.Generator;
import org.neuronscope.model.Model;
import org.neuronscope.model.Sampler;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.model.Backends;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads the native libraries, prints llama.cpp's system information and devices, and generates a
 * few tokens with a model: the GGUF given as argument, or a small synthetic one written on the spot
 * (random weights, llama.cpp's Qwen2 tokenizer from -Dneuronscope.llama.src).
 */
public final class Smoke {
    public static void main(String[] args) throws Exception {
        System.out.println("llama.cpp system info: " + Backends.systemInfo());
        Backends.devices().forEach(d -> System.out.println("device: " + d.name() + " (" + d.description() + ")"));
        Path modelPath;
        if (args.length > 0) {
            modelPath = Path.of(args[0]);
        } else {
            Path vocab = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
            modelPath = Files.createTempFile("neuronscope-smoke", ".gguf");
            modelPath.toFile().deleteOnExit();
            SyntheticModels.write(ModelSpec.tiny("qwen2", vocab), modelPath);
            System.out.println("wrote a synthetic qwen2 model to " + modelPath);
        }
        try (Model model = Model.load(modelPath);
             Session session = model.newSession(SessionParams.defaults().withContextSize(256).withBatchSize(64));
             Sampler sampler = Sampler.greedy()) {
            System.out.println("model: " + model + ", " + model.description());
            int[] prompt = model.tokenizer().tokenize("The quick brown fox", true, false);
            Generator.Result r = Generator.generate(session, sampler, prompt, 8);
            System.out.println("generated " + r.tokens().length + " tokens: " + r.text().replace("\n", "\\n"));
        }
    }
}
