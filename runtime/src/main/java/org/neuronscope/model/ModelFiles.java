package org.neuronscope.model;

import org.neuronscope.gguf.GgufFile;

import java.nio.file.Path;

/** The checks a model file passes before llama.cpp sees it. */
final class ModelFiles {
    private ModelFiles() {
    }

    /** Throws {@link org.neuronscope.gguf.GgufFormatException} naming the first problem of a bad file. */
    static void validate(Path path) {
        GgufFile.validate(path);
    }
}
