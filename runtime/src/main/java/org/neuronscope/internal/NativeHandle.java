package org.neuronscope.internal;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One native pointer with one owner: freed exactly once, unusable afterwards, and never freed while
 * another thread uses it. Every public type that holds a llama.cpp or mtmd object keeps it in one of
 * these; the library's other packages find it by its owner ({@link #of}), so no public method hands
 * out a native pointer.
 *
 * <p>Uses come in two kinds. {@link #shared} uses (reading metadata, tokenizing) may run on several
 * threads at once. An {@link #exclusive} use (a decode, changing the hooks) is refused with an
 * {@link IllegalStateException} while another thread uses the object, instead of letting llama.cpp
 * race with itself. {@link #close()} waits for the uses in flight and then frees the pointer.
 */
public final class NativeHandle {
    private static final Map<Object, NativeHandle> BY_OWNER = Collections.synchronizedMap(new WeakHashMap<>());

    private final String what;
    private volatile String name;
    private final Consumer<MemorySegment> free;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile MemorySegment pointer;
    /** The thread inside the outermost exclusive use, and what it does (for the refusal message). */
    private volatile Thread holder;
    private volatile String holderDoing;
    /** Whether the outermost exclusive use lets the same thread nest exclusive uses (a block of changes, not a decode). */
    private boolean holderNests;

    private NativeHandle(String what, MemorySegment pointer, Consumer<MemorySegment> free) {
        this.what = what;
        this.name = "this " + what;
        this.pointer = pointer;
        this.free = free;
    }

    /** How messages name the object ("session 3 on tiny.gguf"); defaults to its kind. */
    public NativeHandle named(String name) {
        this.name = name;
        return this;
    }

    public String name() {
        return name;
    }

    /**
     * The handle of {@code owner} for {@code pointer}, freed by {@code free} on {@link #close()}.
     *
     * @throws IllegalStateException if llama.cpp returned no object (a null pointer)
     */
    public static NativeHandle create(Object owner, String what, MemorySegment pointer, Consumer<MemorySegment> free) {
        if (pointer == null || pointer.equals(MemorySegment.NULL)) {
            throw new IllegalStateException("llama.cpp returned no " + what);
        }
        NativeHandle h = new NativeHandle(what, pointer, free);
        BY_OWNER.put(owner, h);
        return h;
    }

    /** The handle an object of the library owns (a model, a session, a projector). */
    public static NativeHandle of(Object owner) {
        NativeHandle h = BY_OWNER.get(owner);
        if (h == null) {
            throw new IllegalArgumentException(owner + " holds no native object");
        }
        return h;
    }

    /** The live pointer, for a call that needs no protection from a concurrent close (callers hold a use). */
    public MemorySegment get() {
        MemorySegment p = pointer;
        if (p == null) {
            throw new IllegalStateException(name + " is closed");
        }
        return p;
    }

    public boolean isOpen() {
        return pointer != null;
    }

    /** Runs {@code action} on the pointer; other shared uses may run at the same time, a close waits. */
    public <T> T shared(Function<MemorySegment, T> action) {
        lock.readLock().lock();
        try {
            return action.apply(get());
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Runs {@code action} on the pointer with no other use at the same time; refused, not waited for,
     * while another thread uses the object (a decode).
     *
     * @param doing what the action does, for the message when it is refused
     * @throws IllegalStateException if another thread uses the object, or this thread is inside an
     *                               exclusive use already (a tap listener that decodes or changes hooks)
     */
    public <T> T exclusive(String doing, Function<MemorySegment, T> action) {
        return exclusive(doing, false, false, action);
    }

    /**
     * Runs a block of changes with the object to itself, waiting for a use in flight on another thread
     * (a decode) to end first; exclusive uses of this thread nest inside it. Refused inside a decode of
     * this thread (a tap listener).
     */
    public <T> T block(String doing, Function<MemorySegment, T> action) {
        return exclusive(doing, true, true, action);
    }

    private <T> T exclusive(String doing, boolean wait, boolean nests, Function<MemorySegment, T> action) {
        if (lock.isWriteLockedByCurrentThread()) {
            if (!holderNests) {
                throw new IllegalStateException("cannot " + doing + " while this thread is " + holderDoing + " with " + name
                        + " (called from a tap listener?)");
            }
            lock.writeLock().lock(); // reentrant: a change inside a block of changes
            try {
                return action.apply(get());
            } finally {
                lock.writeLock().unlock();
            }
        }
        if (lock.getReadHoldCount() > 0) {
            throw new IllegalStateException("cannot " + doing + " while this thread reads " + name);
        }
        if (wait) {
            lock.writeLock().lock();
        } else if (!lock.writeLock().tryLock()) {
            Thread t = holder;
            String by = t != null ? "thread '" + t.getName() + "' (" + holderDoing + ")" : "another thread";
            throw new IllegalStateException("cannot " + doing + ": " + name + " is in use by " + by
                    + "; a " + what + " serves one thread at a time");
        }
        holder = Thread.currentThread();
        holderDoing = doing;
        holderNests = nests;
        try {
            return action.apply(get());
        } finally {
            holder = null;
            holderDoing = null;
            holderNests = false;
            lock.writeLock().unlock();
        }
    }

    /** Whether this thread is inside an {@link #exclusive} use (i.e. a callback of a decode). */
    public boolean heldByCurrentThread() {
        return lock.isWriteLockedByCurrentThread();
    }

    /**
     * Waits until no thread uses the pointer, then frees it. Idempotent.
     *
     * @throws IllegalStateException if called from inside a use of this handle (a tap listener)
     */
    public void close() {
        close(p -> { });
    }

    /**
     * Waits until no thread uses the pointer, runs {@code beforeFree} on it (detaching what uses it),
     * then frees it, also when {@code beforeFree} throws (which is rethrown). Idempotent: a second
     * call does nothing.
     */
    public void close(Consumer<MemorySegment> beforeFree) {
        if (lock.isWriteLockedByCurrentThread() || lock.getReadHoldCount() > 0) {
            throw new IllegalStateException("cannot close " + name + " from inside its own use (a tap listener?)");
        }
        lock.writeLock().lock();
        holder = Thread.currentThread();
        holderDoing = "closing it";
        try {
            MemorySegment p = pointer;
            if (p == null) {
                return;
            }
            try {
                beforeFree.accept(p);
            } finally {
                pointer = null;
                free.accept(p);
            }
        } finally {
            holder = null;
            holderDoing = null;
            lock.writeLock().unlock();
        }
    }
}
