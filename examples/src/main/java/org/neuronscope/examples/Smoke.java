package org.neuronscope.examples;

import org.neuronscope.model.Batch;
import org.neuronscope.model.Generator;
import org.neuronscope.model.Model;
import org.neuronscope.model.Sampler;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.runtime.LlamaRuntime;

import java.nio.file.Path;

/**
 * Loads the native libraries, prints llama.cpp's system information and devices, and, given a GGUF
 * path, generates a few tokens with it.
 */
public final class Smoke {
    public static void main(String[] args) {
        System.out.println("llama.cpp system info: " + LlamaRuntime.systemInfo());
        LlamaRuntime.devices().forEach(d -> System.out.println("device: " + d));
        if (args.length == 0) {
            return;
        }
        try (Model model = Model.load(Path.of(args[0]));
             Session session = model.newSession(SessionParams.defaults().withContextSize(256).withBatchSize(64));
             Sampler sampler = Sampler.greedy()) {
            System.out.println("model: " + model + ", " + model.description());
            int[] prompt = model.tokenizer().tokenize("The quick brown fox", true, false);
            Generator.Result r = Generator.generate(session, sampler, prompt, 8);
            System.out.println("generated " + r.tokens().length + " tokens: " + r.text().replace("\n", "\\n"));
        }
    }
}
