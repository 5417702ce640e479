package org.neuronscope;

/**
 * Base of every exception NeuronScope throws for bad input, misuse (a closed object, a wrong size,
 * a bad layer index) or a failure reported by llama.cpp. Native code never sees input that Java
 * could have rejected, so these are thrown before anything reaches it whenever possible.
 */
public class NeuronScopeException extends RuntimeException {
    public NeuronScopeException(String message) {
        super(message);
    }

    public NeuronScopeException(String message, Throwable cause) {
        super(message, cause);
    }
}
