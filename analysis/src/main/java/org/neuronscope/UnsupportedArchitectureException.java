package org.neuronscope;

/** The model's architecture lacks something a request needs (a hook point, a head, an encoder). */
public class UnsupportedArchitectureException extends NeuronScopeException {
    public UnsupportedArchitectureException(String message) {
        super(message);
    }
}
