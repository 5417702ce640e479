package org.neuronscope.experiments;

import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * Model, projector and runtime options of the commands that run a model (a picocli mixin): the
 * command line's commands and the Spark module's entry points share it, so the options have one
 * name, default and meaning everywhere.
 */
public final class ModelOptions {
    @Option(names = "--model", description = "language model GGUF file (required by stats, ablate and select --method miner)")
    Path model;
    @Option(names = "--mmproj", description = "multimodal projector GGUF file (for images, audio, video)")
    Path mmproj;
    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0: all cores)")
    int threads;
    @Option(names = "--ctx", defaultValue = "4096", description = "context size in tokens (default: ${DEFAULT-VALUE})")
    int ctx;
    @Option(names = "--batch", defaultValue = "512", description = "batch size in tokens (default: ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--gpu-layers", defaultValue = "0", description = "layers offloaded to the GPU (default: ${DEFAULT-VALUE})")
    int gpuLayers;
    @Option(names = "--image-max-tokens", defaultValue = "0", description = "upper bound on tokens per image (0: the model's)")
    int imageMaxTokens;
    @Option(names = "--chat-template", description = "a template name or text; 'raw' for none (default: the model's)")
    String chatTemplate;
    @Option(names = "--default-system", description = "system message of samples without one: 'template' for the one the model's "
            + "chat template writes when there is none (Qwen's 'You are a helpful assistant.', as Hugging Face renders it and MINER's "
            + "code prompts), or a text (default: none)")
    String defaultSystem;

    @Option(names = "--flash-attn", defaultValue = "auto", description = "flash attention: auto (on where the backend has it), on, off. "
            + "Statistics, lens and ablation do not need it off; commands that read attention probabilities (select --method miner "
            + "with attention weights) turn it off (default: ${DEFAULT-VALUE})")
    SessionParams.FlashAttention flashAttention;

    /** The language model file, or null when not given. */
    public Path model() {
        return model;
    }

    /** The projector file, or null. */
    public Path mmproj() {
        return mmproj;
    }

    /** {@code --threads} as given (0: all cores of the machine that runs the model). */
    public int threadsOption() {
        return threads;
    }

    public int ctx() {
        return ctx;
    }

    public int batch() {
        return batch;
    }

    public int gpuLayers() {
        return gpuLayers;
    }

    public int imageMaxTokens() {
        return imageMaxTokens;
    }

    public String chatTemplate() {
        return chatTemplate;
    }

    public String defaultSystem() {
        return defaultSystem;
    }

    /** The flash attention a run uses: off when it reads attention probabilities (refused with {@code on}), else {@code --flash-attn}. */
    public SessionParams.FlashAttention flashAttention(boolean attentionProbabilities) {
        if (attentionProbabilities && flashAttention == SessionParams.FlashAttention.ON) {
            throw new IllegalArgumentException("--flash-attn on cannot be used here: attention probabilities (MINER's attn_k/attn_q "
                    + "weights) need flash attention off; use auto or off, or weights without attention (--weights mean-max)");
        }
        return attentionProbabilities ? SessionParams.FlashAttention.OFF
                : flashAttention == null ? SessionParams.FlashAttention.AUTO : flashAttention;
    }

    public Workbench.Setup setup() {
        return setup(1);
    }

    /** The setup with a session of {@code sequences} sequences (prompts decoded together). */
    public Workbench.Setup setup(int sequences) {
        return setup(sequences, false);
    }

    /**
     * The setup with a session of {@code sequences} sequences; with {@code attentionProbabilities}
     * (the attn.probs hook point is read) flash attention is off, which that hook point needs.
     */
    public Workbench.Setup setup(int sequences, boolean attentionProbabilities) {
        SessionParams.FlashAttention fa = flashAttention(attentionProbabilities);
        if (model == null) {
            throw new IllegalArgumentException("--model <language model GGUF> is required");
        }
        int t = threads();
        SessionParams sp = SessionParams.defaults().withContextSize(ctx).withBatchSize(batch).withUbatchSize(Math.min(batch, 512))
                .withThreads(t).withFlashAttention(fa).withMaxSequences(sequences);
        ProjectorParams pp = ProjectorParams.defaults().withThreads(t).withImageTokens(0, imageMaxTokens);
        PromptFormat f = chatTemplate == null ? PromptFormat.chat() : chatTemplate.equals("raw") ? PromptFormat.raw()
                : new PromptFormat(chatTemplate, PromptFormat.chat().choiceInstruction());
        f = f.withDefaultSystem(defaultSystem);
        return new Workbench.Setup(model, ModelParams.defaults().withGpuLayers(gpuLayers), mmproj, sp, pp, f);
    }

    /** The threads a decode uses here: {@code --threads}, or all cores. */
    public int threads() {
        return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    }
}
