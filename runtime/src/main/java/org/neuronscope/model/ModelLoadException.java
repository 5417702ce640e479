package org.neuronscope.model;

import org.neuronscope.NeuronScopeException;

/**
 * llama.cpp or mtmd could not load a model or projector file, or create a context on it; the message
 * carries llama.cpp's own reason (its last error log line).
 */
public class ModelLoadException extends NeuronScopeException {
    public ModelLoadException(String message) {
        super(message);
    }
}
