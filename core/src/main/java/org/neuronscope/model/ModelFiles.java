package org.neuronscope.model;

import java.nio.file.Path;

/** The checks a model file passes before llama.cpp sees it. */
final class ModelFiles {
    private ModelFiles() {
    }

    static void validate(Path path) {
        // PENDING-MERGE: GgufFile.validate(path)
    }
}
