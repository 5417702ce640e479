package org.neuronscope.hooks;

import org.neuronscope.UnsupportedArchitectureException;

/** The model's architecture does not have, or the hooks do not reach, a requested hook point. */
public class UnsupportedHookException extends UnsupportedArchitectureException {
    public UnsupportedHookException(String message) {
        super(message);
    }
}
