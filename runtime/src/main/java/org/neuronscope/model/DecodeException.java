package org.neuronscope.model;

import org.neuronscope.NeuronScopeException;

/** llama_decode failed; {@link #code()} is its return value. */
public class DecodeException extends NeuronScopeException {
    private final int code;

    public DecodeException(String message, int code) {
        super(message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
