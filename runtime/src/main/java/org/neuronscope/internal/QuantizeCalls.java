package org.neuronscope.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * {@code llama_model_quantize} of llama.h. Written by hand: the committed jextract bindings do not
 * include it (their symbol list predates this use), and regenerating them needs a jextract build.
 * The struct layout is {@code llama_model_quantize_params} of the pinned llama.h: four int32 fields,
 * six bools, four pointers, a size_t (64 bytes on x86-64); the defaults come from
 * {@code llama_model_quantize_default_params}, only {@code nthread} and {@code ftype} are set here.
 */
public final class QuantizeCalls {
    private static final StructLayout PARAMS = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("nthread"),
            ValueLayout.JAVA_INT.withName("ftype"),
            ValueLayout.JAVA_INT.withName("output_tensor_type"),
            ValueLayout.JAVA_INT.withName("token_embedding_type"),
            ValueLayout.JAVA_BOOLEAN.withName("allow_requantize"),
            ValueLayout.JAVA_BOOLEAN.withName("quantize_output_tensor"),
            ValueLayout.JAVA_BOOLEAN.withName("only_copy"),
            ValueLayout.JAVA_BOOLEAN.withName("pure"),
            ValueLayout.JAVA_BOOLEAN.withName("keep_split"),
            ValueLayout.JAVA_BOOLEAN.withName("dry_run"),
            MemoryLayout.paddingLayout(2),
            ValueLayout.ADDRESS.withName("imatrix"),
            ValueLayout.ADDRESS.withName("kv_overrides"),
            ValueLayout.ADDRESS.withName("tt_overrides"),
            ValueLayout.ADDRESS.withName("prune_layers"),
            ValueLayout.JAVA_LONG.withName("max_buf_size"));

    private static volatile MethodHandle defaults, quantize;

    private QuantizeCalls() {
    }

    private static void bind() {
        if (quantize != null) {
            return;
        }
        LlamaRuntime.init();
        SymbolLookup lookup = SymbolLookup.loaderLookup().or(Linker.nativeLinker().defaultLookup());
        Linker linker = Linker.nativeLinker();
        defaults = linker.downcallHandle(lookup.findOrThrow("llama_model_quantize_default_params"), FunctionDescriptor.of(PARAMS));
        quantize = linker.downcallHandle(lookup.findOrThrow("llama_model_quantize"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }

    /** Runs llama.cpp's quantiser; returns its status (0: success). Arguments are checked by the caller. */
    public static int quantize(String input, String output, int ftype, int threads) {
        bind();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) defaults.invokeExact((java.lang.foreign.SegmentAllocator) arena);
            p.set(ValueLayout.JAVA_INT, PARAMS.byteOffset(MemoryLayout.PathElement.groupElement("nthread")), threads);
            p.set(ValueLayout.JAVA_INT, PARAMS.byteOffset(MemoryLayout.PathElement.groupElement("ftype")), ftype);
            return (int) quantize.invokeExact(arena.allocateFrom(input), arena.allocateFrom(output), p);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama_model_quantize failed to run", t);
        }
    }
}
