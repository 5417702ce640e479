package org.neuronscope.hooks;

import org.neuronscope.NeuronScopeException;

/** The model's architecture does not have, or the hooks do not reach, a requested hook point. */
public class UnsupportedHookException extends NeuronScopeException {
    public UnsupportedHookException(String message) {
        super(message);
    }
}
