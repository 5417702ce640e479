package org.neuronscope.model;

/**
 * How a model is loaded.
 *
 * @param gpuLayers layers to offload to a GPU (-1: all of them; 0: CPU only)
 * @param useMmap   map the file instead of reading it (shares pages between processes)
 * @param useMlock  lock the model in RAM
 * @param vocabOnly load only the tokenizer
 * @param validate  check the GGUF file completely in Java before llama.cpp reads it
 */
public record ModelParams(int gpuLayers, boolean useMmap, boolean useMlock, boolean vocabOnly, boolean validate) {
    public ModelParams {
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpuLayers must be -1 (all) or >= 0, got " + gpuLayers);
        }
    }

    /** All layers on the GPU if there is one, memory-mapped, validated. */
    public static ModelParams defaults() {
        return new ModelParams(-1, true, false, false, true);
    }

    public ModelParams withGpuLayers(int layers) {
        return new ModelParams(layers, useMmap, useMlock, vocabOnly, validate);
    }

    public ModelParams withMmap(boolean mmap) {
        return new ModelParams(gpuLayers, mmap, useMlock, vocabOnly, validate);
    }

    public ModelParams withVocabOnly(boolean only) {
        return new ModelParams(gpuLayers, useMmap, useMlock, only, validate);
    }

    public ModelParams withValidation(boolean check) {
        return new ModelParams(gpuLayers, useMmap, useMlock, vocabOnly, check);
    }
}
