package org.neuronscope.internal;

import org.neuronscope.bindings.neuronscope_h;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * ggml CPU thread pools, which llama.cpp's own programs (llama-bench, llama-cli, the server) attach
 * to their contexts: worker threads that live as long as the context and poll briefly for the next
 * graph. Without one, ggml starts and joins its worker threads for every graph it computes. That is
 * nothing against a 512-token prompt (seconds of compute), but it dominates one-token generation
 * steps, most of all on a busy machine, where each new thread waits for a core (BENCHMARKS.md,
 * issue 19).
 *
 * <p>The pool functions live in the CPU backend, which ggml loads at run time (one library per CPU
 * variant), so they are found through the backend's registry
 * ({@code ggml_backend_reg_get_proc_address}), as llama-bench finds them, not linked by name. A
 * session owns its pool and frees it after its context ({@code Session}).
 */
public final class CpuThreadPools {
    private static final Logger LOG = LoggerFactory.getLogger(CpuThreadPools.class);

    /** ggml's limit on threads (GGML_MAX_N_THREADS): more would fail an assertion in ggml, so Java refuses them. */
    public static final int MAX_THREADS = 512;

    /** {@code struct ggml_threadpool_params} (ggml.h): filled by ggml_threadpool_params_init. */
    private static final StructLayout PARAMS = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(MAX_THREADS, ValueLayout.JAVA_BOOLEAN).withName("cpumask"),
            ValueLayout.JAVA_INT.withName("n_threads"),
            ValueLayout.JAVA_INT.withName("prio"),
            ValueLayout.JAVA_INT.withName("poll"),
            ValueLayout.JAVA_BOOLEAN.withName("strict_cpu"),
            ValueLayout.JAVA_BOOLEAN.withName("paused"),
            MemoryLayout.paddingLayout(2));

    private record Functions(MethodHandle create, MethodHandle free) {
    }

    /** Looked up once; null where the CPU backend offers no pools. */
    private static final Functions FUNCTIONS = lookUp();

    private CpuThreadPools() {
    }

    /**
     * A new pool of {@code threads} threads (ggml's defaults: normal priority, polling level 50, no
     * CPU affinity), or {@code MemorySegment.NULL} where the CPU backend offers none; the context
     * then starts threads per graph, as it does without a pool.
     */
    public static MemorySegment create(int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("a thread pool needs 1 to " + MAX_THREADS + " threads, not " + threads);
        }
        if (FUNCTIONS == null) {
            return MemorySegment.NULL;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(PARAMS);
            neuronscope_h.ggml_threadpool_params_init(params, threads);
            MemorySegment pool = (MemorySegment) FUNCTIONS.create().invokeExact(params);
            if (pool.equals(MemorySegment.NULL)) {
                LOG.warn("ggml could not create a thread pool of {} threads; the session starts threads per graph", threads);
            }
            return pool;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("should not reach here", t);
        }
    }

    /** Frees a pool from {@link #create} (NULL is ignored); the contexts it was attached to must be freed first. */
    public static void free(MemorySegment pool) {
        if (pool == null || pool.equals(MemorySegment.NULL)) {
            return;
        }
        try {
            FUNCTIONS.free().invokeExact(pool);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("should not reach here", t);
        }
    }

    private static Functions lookUp() {
        LlamaRuntime.init();
        MemorySegment cpu = neuronscope_h.ggml_backend_dev_by_type(neuronscope_h.GGML_BACKEND_DEVICE_TYPE_CPU());
        if (cpu.equals(MemorySegment.NULL)) {
            LOG.debug("no CPU backend registered: no thread pools");
            return null;
        }
        MemorySegment reg = neuronscope_h.ggml_backend_dev_backend_reg(cpu);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment create = neuronscope_h.ggml_backend_reg_get_proc_address(reg, arena.allocateFrom("ggml_threadpool_new"));
            MemorySegment free = neuronscope_h.ggml_backend_reg_get_proc_address(reg, arena.allocateFrom("ggml_threadpool_free"));
            if (create.equals(MemorySegment.NULL) || free.equals(MemorySegment.NULL)) {
                LOG.debug("the CPU backend offers no thread pools");
                return null;
            }
            Linker linker = Linker.nativeLinker();
            return new Functions(
                    linker.downcallHandle(create, FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS)),
                    linker.downcallHandle(free, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS)));
        }
    }
}
