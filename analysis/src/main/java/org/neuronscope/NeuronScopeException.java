package org.neuronscope;

/**
 * Base of the exceptions NeuronScope throws for failures that are not programming errors: a file that
 * is not what its format says ({@link FormatException}), a dataset that cannot be read, a model that
 * llama.cpp cannot load, a decode that fails, an architecture that lacks what is asked
 * ({@link UnsupportedArchitectureException}). Misuse follows the JDK's conventions instead: a closed
 * object is an {@link IllegalStateException}, a bad index an {@link IndexOutOfBoundsException}, a bad
 * argument an {@link IllegalArgumentException}. Native code never sees input that Java could have
 * rejected.
 */
public class NeuronScopeException extends RuntimeException {
    public NeuronScopeException(String message) {
        super(message);
    }

    public NeuronScopeException(String message, Throwable cause) {
        super(message, cause);
    }
}
