package org.neuronscope.internal;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * What a session needs from its hooks, which live in another package: the hooks' part of a decode
 * failure, and their removal before the context is freed. Registered by the hooks for their session.
 */
public interface ContextHooks {
    /** The hooks' native message about the last failed call or decode ("" if none). */
    String lastNativeError();

    /** The first exception a tap listener threw during the last decode, or null; clears it. */
    Throwable takeListenerFailure();

    /** Removes every hook from {@code ctx} and frees the hooks' memory; the session is about to free {@code ctx}. */
    void release(MemorySegment ctx);

    /** The hooks registered for {@code session}. */
    static ContextHooks of(Object session) {
        ContextHooks h = Registry.BY_SESSION.get(session);
        if (h == null) {
            throw new IllegalStateException("no hooks registered for " + session);
        }
        return h;
    }

    static void register(Object session, ContextHooks hooks) {
        Registry.BY_SESSION.put(session, hooks);
    }

    static void unregister(Object session) {
        Registry.BY_SESSION.remove(session);
    }

    final class Registry {
        private static final Map<Object, ContextHooks> BY_SESSION = Collections.synchronizedMap(new WeakHashMap<>());

        private Registry() {
        }
    }
}
