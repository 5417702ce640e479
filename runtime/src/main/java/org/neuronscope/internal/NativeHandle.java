package org.neuronscope.internal;

import org.neuronscope.NeuronScopeException;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * One native pointer with one owner: freed exactly once, unusable afterwards. Every public type that
 * holds a llama.cpp object keeps it in one of these.
 */
public final class NativeHandle {
    private final String what;
    private final Consumer<MemorySegment> free;
    private MemorySegment pointer;

    public NativeHandle(String what, MemorySegment pointer, Consumer<MemorySegment> free) {
        if (pointer == null || pointer.equals(MemorySegment.NULL)) {
            throw new NeuronScopeException("llama.cpp returned no " + what);
        }
        this.what = what;
        this.pointer = pointer;
        this.free = free;
    }

    /** The live pointer; a clear exception if the owner was closed. */
    public MemorySegment get() {
        MemorySegment p = pointer;
        if (p == null) {
            throw new NeuronScopeException("this " + what + " is closed");
        }
        return p;
    }

    public boolean isOpen() {
        return pointer != null;
    }

    public void close() {
        MemorySegment p = pointer;
        if (p != null) {
            pointer = null;
            free.accept(p);
        }
    }
}
