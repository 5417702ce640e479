package org.neuronscope.gguf;

import org.neuronscope.FormatException;

/** A GGUF file is malformed; the message names what is wrong and where. */
public class GgufFormatException extends FormatException {
    public GgufFormatException(String message) {
        super(message);
    }

    public GgufFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
