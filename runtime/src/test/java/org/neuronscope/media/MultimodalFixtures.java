package org.neuronscope.media;

import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.SyntheticProjectors;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.LlamaTree;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/** Models, projectors and media files for the multimodal tests (written once per JVM). */
final class MultimodalFixtures {
    private static final Map<String, Path> CACHE = new ConcurrentHashMap<>();

    private MultimodalFixtures() {
    }

    private static Path cached(String file, Function<Path, Path> writer) {
        return CACHE.computeIfAbsent(file, f -> writer.apply(SyntheticFixtures.directory().resolve(f)));
    }

    static Path dir() {
        return SyntheticFixtures.directory();
    }

    /** qwen2vl text model, 64 wide (Qwen2-VL's pairing for the vision projector). */
    static Path visionModel() {
        return SyntheticFixtures.tiny("qwen2vl");
    }

    /** qwen2 text model, 64 wide (Qwen2-Audio's pairing for the audio projector). */
    static Path audioModel() {
        return SyntheticFixtures.tiny("qwen2");
    }

    static Path visionProjector() {
        return cached("mmproj-qwen2vl-64.gguf", p -> SyntheticProjectors.write(SyntheticProjectors.vision(64, 7), p));
    }

    /** Qwen2.5-VL's tower (qwen2.5vl_merger, 2 blocks): gated SiLU FFNs, as clip's build_ffn reads ffn_gate. */
    static Path gatedProjector() {
        return cached("mmproj-qwen25vl-64.gguf", p -> SyntheticProjectors.write(SyntheticProjectors.visionGated(64, 23), p));
    }

    static Path audioProjector() {
        return cached("mmproj-qwen2a-64.gguf", p -> SyntheticProjectors.write(SyntheticProjectors.audio(64, 9), p));
    }

    /** gemma3 text model, 64 wide, with its Gemma 3 (SigLIP) projector below. */
    static Path gemmaModel() {
        return SyntheticFixtures.tiny("gemma3");
    }

    static Path gemmaProjector() {
        return cached("mmproj-gemma3-64.gguf", p -> SyntheticProjectors.write(SyntheticProjectors.gemma3(64, 13), p));
    }

    /** One projector with Qwen2-VL's vision and Qwen2-Audio's audio encoders, as Qwen2.5-Omni's is, for the qwen2vl model. */
    static Path omniProjector() {
        return cached("mmproj-omni-64.gguf", p -> SyntheticProjectors.writeCombined(SyntheticProjectors.vision(64, 21),
                SyntheticProjectors.audio(64, 22), p));
    }

    /** A vision projector for a model of another width (32): belongs to another model. */
    static Path mismatchedProjector() {
        return cached("mmproj-qwen2vl-32.gguf", p -> SyntheticProjectors.write(SyntheticProjectors.vision(32, 7), p));
    }

    /** A model whose layer 0 adds nothing to the residual stream: resid.post of layer 0 is the input embedding. */
    static Path visionModelWithTransparentLayer0() {
        return cached("qwen2vl-transparent0.gguf", p -> SyntheticModels.write(
                ModelSpec.tiny("qwen2vl", SyntheticFixtures.vocabFor("qwen2vl")), p, (t, row, values) -> {
                    if (t.name().equals("blk.0.attn_output.weight") || t.name().equals("blk.0.ffn_down.weight")) {
                        Arrays.fill(values, 0f);
                    }
                }));
    }

    /** Small images (8 to 16 tokens) and no warm-up encode: fast on two cores. */
    static ProjectorParams params() {
        return ProjectorParams.defaults().withThreads(2).withWarmup(false).withImageTokens(8, 16);
    }

    static SessionParams session() {
        return SessionParams.defaults().withContextSize(2048).withBatchSize(512).withThreads(2);
    }

    /** The image llama.cpp ships for mtmd's tests. */
    static Path testImage() {
        return LlamaTree.root().resolve("tools/mtmd/test-1.jpeg");
    }

    /** The audio clip llama.cpp ships for mtmd's tests. */
    static Path testAudio() {
        return LlamaTree.root().resolve("tools/mtmd/test-2.mp3");
    }
}
