package org.neuronscope.media;

/**
 * Options of a {@link Projector} (mtmd's context parameters).
 *
 * @param useGpu         run the encoder on the GPU when the build has one
 * @param threads        CPU threads of the encoder
 * @param imageMinTokens lower bound on tokens per image for dynamic-resolution models (0: the model's)
 * @param imageMaxTokens upper bound on tokens per image (0: the model's; Qwen2-VL allows 4096)
 * @param warmup         run one encode at load time at the largest image size, so the compute buffer
 *                       is allocated once (mtmd's default; costly for large limits on CPU)
 * @param validate       check the mmproj file with the Java GGUF validator before mtmd reads it
 */
public record ProjectorParams(boolean useGpu, int threads, int imageMinTokens, int imageMaxTokens, boolean warmup, boolean validate) {
    public ProjectorParams {
        if (threads <= 0) {
            throw new IllegalArgumentException("threads must be positive, got " + threads);
        }
        if (imageMinTokens < 0 || imageMaxTokens < 0) {
            throw new IllegalArgumentException("image token limits must not be negative");
        }
        if (imageMaxTokens > 0 && imageMinTokens > imageMaxTokens) {
            throw new IllegalArgumentException("imageMinTokens " + imageMinTokens + " > imageMaxTokens " + imageMaxTokens);
        }
    }

    public static ProjectorParams defaults() {
        return new ProjectorParams(true, Math.max(1, Runtime.getRuntime().availableProcessors()), 0, 0, true, true);
    }

    public ProjectorParams withThreads(int n) {
        return new ProjectorParams(useGpu, n, imageMinTokens, imageMaxTokens, warmup, validate);
    }

    public ProjectorParams withImageTokens(int min, int max) {
        return new ProjectorParams(useGpu, threads, min, max, warmup, validate);
    }

    public ProjectorParams withWarmup(boolean on) {
        return new ProjectorParams(useGpu, threads, imageMinTokens, imageMaxTokens, on, validate);
    }

    public ProjectorParams withGpu(boolean on) {
        return new ProjectorParams(on, threads, imageMinTokens, imageMaxTokens, warmup, validate);
    }
}
