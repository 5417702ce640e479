package org.neuronscope;

/**
 * A file's content is not what its format requires (a GGUF, a statistics {@code .npy} or
 * {@code meta.json}, a neuron set): the message names the file and what is wrong.
 */
public class FormatException extends NeuronScopeException {
    public FormatException(String message) {
        super(message);
    }

    public FormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
