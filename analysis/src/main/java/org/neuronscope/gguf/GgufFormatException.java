package org.neuronscope.gguf;

import org.neuronscope.NeuronScopeException;

/** A GGUF file is malformed; the message names what is wrong and where. */
public class GgufFormatException extends NeuronScopeException {
    public GgufFormatException(String message) {
        super(message);
    }
}
