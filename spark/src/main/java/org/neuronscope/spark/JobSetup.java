package org.neuronscope.spark;

import org.neuronscope.experiments.ModelOptions;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * How every executor opens its model: the options of the command line's model mixin as a
 * serializable value (it travels with the tasks) and the key of the per-JVM model cache
 * ({@link Workbenches}). Paths name files every executor can read (a shared filesystem, or files
 * shipped with {@code --files} at the same place on every node).
 *
 * @param model          the language model GGUF
 * @param mmproj         its projector GGUF, or null
 * @param threads        CPU threads of a decode (0: all cores of the executor's machine)
 * @param ctx            context size in tokens
 * @param batch          batch size in tokens
 * @param gpuLayers      layers offloaded to the executor's GPU
 * @param imageMaxTokens upper bound on tokens per image (0: the model's)
 * @param chatTemplate   a template name or text, {@code raw} for none, or null for the model's
 * @param defaultSystem  the system message of samples without one (see {@code neuronscope stats --help}), or null
 * @param parallel       samples decoded together, one sequence each
 * @param flashAttention the sessions' flash attention (off where attention probabilities are read)
 */
public record JobSetup(String model, String mmproj, int threads, int ctx, int batch, int gpuLayers, int imageMaxTokens,
                       String chatTemplate, String defaultSystem, int parallel, SessionParams.FlashAttention flashAttention) implements Serializable {
    public JobSetup {
        if (flashAttention == null) {
            flashAttention = SessionParams.FlashAttention.OFF;
        }
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("a model file is required");
        }
        if (threads < 0 || ctx <= 0 || batch <= 0 || gpuLayers < 0 || imageMaxTokens < 0 || parallel <= 0) {
            throw new IllegalArgumentException("threads, gpu layers and image tokens must be >= 0, ctx, batch and parallel > 0; got threads="
                    + threads + " ctx=" + ctx + " batch=" + batch + " gpuLayers=" + gpuLayers + " imageMaxTokens=" + imageMaxTokens
                    + " parallel=" + parallel);
        }
    }

    /** The command line's defaults (4096-token context, 512-token batches, all cores, CPU only) for a model; flash attention off. */
    public static JobSetup of(Path model) {
        return new JobSetup(model.toString(), null, 0, 4096, 512, 0, 0, null, null, 1, SessionParams.FlashAttention.OFF);
    }

    /**
     * The command line's model options ({@link ModelOptions}) as a job's setup, with {@code parallel}
     * sequences per session; with {@code attentionProbabilities} flash attention is off.
     */
    public static JobSetup of(ModelOptions o, int parallel, boolean attentionProbabilities) {
        if (o.model() == null) {
            throw new IllegalArgumentException("--model <language model GGUF> is required");
        }
        return new JobSetup(o.model().toAbsolutePath().toString(), o.mmproj() == null ? null : o.mmproj().toAbsolutePath().toString(),
                o.threadsOption(), o.ctx(), o.batch(), o.gpuLayers(), o.imageMaxTokens(), o.chatTemplate(), o.defaultSystem(), parallel,
                o.flashAttention(attentionProbabilities));
    }

    public JobSetup withProjector(Path p) {
        return new JobSetup(model, p == null ? null : p.toString(), threads, ctx, batch, gpuLayers, imageMaxTokens, chatTemplate, defaultSystem, parallel, flashAttention);
    }

    public JobSetup withThreads(int n) {
        return new JobSetup(model, mmproj, n, ctx, batch, gpuLayers, imageMaxTokens, chatTemplate, defaultSystem, parallel, flashAttention);
    }

    public JobSetup withContext(int ctxTokens, int batchTokens) {
        return new JobSetup(model, mmproj, threads, ctxTokens, batchTokens, gpuLayers, imageMaxTokens, chatTemplate, defaultSystem, parallel, flashAttention);
    }

    public JobSetup withGpuLayers(int n) {
        return new JobSetup(model, mmproj, threads, ctx, batch, n, imageMaxTokens, chatTemplate, defaultSystem, parallel, flashAttention);
    }

    public JobSetup withChatTemplate(String t) {
        return new JobSetup(model, mmproj, threads, ctx, batch, gpuLayers, imageMaxTokens, t, defaultSystem, parallel, flashAttention);
    }

    public JobSetup withParallel(int n) {
        return new JobSetup(model, mmproj, threads, ctx, batch, gpuLayers, imageMaxTokens, chatTemplate, defaultSystem, n, flashAttention);
    }

    /** The workbench setup, built as {@code neuronscope stats} builds it from the same options. */
    public Workbench.Setup toSetup() {
        int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        SessionParams sp = SessionParams.defaults().withContextSize(ctx).withBatchSize(batch).withUbatchSize(Math.min(batch, 512))
                .withThreads(t).withFlashAttention(flashAttention).withMaxSequences(parallel);
        ProjectorParams pp = ProjectorParams.defaults().withThreads(t).withImageTokens(0, imageMaxTokens);
        PromptFormat f = chatTemplate == null ? PromptFormat.chat() : chatTemplate.equals("raw") ? PromptFormat.raw()
                : new PromptFormat(chatTemplate, PromptFormat.chat().choiceInstruction());
        f = f.withDefaultSystem(defaultSystem);
        return new Workbench.Setup(Path.of(model), ModelParams.defaults().withGpuLayers(gpuLayers), mmproj == null ? null : Path.of(mmproj),
                sp, pp, f);
    }
}
