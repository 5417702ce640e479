package org.neuronscope.internal;

import org.neuronscope.bindings.ggml_log_callback;
import org.neuronscope.bindings.neuronscope_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The process-wide llama.cpp runtime: native libraries loaded, ggml's backends registered, llama.cpp's
 * and mtmd's log routed to slf4j. Every object that touches native code calls {@link #init()} first;
 * it is cheap after the first call.
 */
public final class LlamaRuntime {
    private static volatile boolean initialised;
    /** Lives as long as the process: llama.cpp keeps the log callback forever. */
    private static final Arena GLOBAL = Arena.global();

    private LlamaRuntime() {
    }

    /** Loads and initialises llama.cpp once. */
    public static void init() {
        if (initialised) {
            return;
        }
        synchronized (LlamaRuntime.class) {
            if (initialised) {
                return;
            }
            NativeLibraries.load();
            Path dir = NativeLibraries.backendDirectory();
            MemorySegment callback = ggml_log_callback.allocate(NativeLog::log, GLOBAL);
            neuronscope_h.llama_log_set(callback, MemorySegment.NULL);
            neuronscope_h.mtmd_helper_log_set(callback, MemorySegment.NULL);
            try (Arena arena = Arena.ofConfined()) {
                neuronscope_h.ggml_backend_load_all_from_path(arena.allocateFrom(dir.toString()));
            }
            neuronscope_h.llama_backend_init();
            initialised = true;
        }
    }

    /**
     * The last error line llama.cpp, ggml or mtmd logged ("" if none). Native calls that fail by
     * returning NULL explain themselves only in the log; exceptions quote this line.
     */
    public static String lastNativeError() {
        return NativeLog.lastError();
    }

    /**
     * Runs a native call and returns its result together with every error line native code logged on
     * this thread meanwhile ("" if none): the reasons llama.cpp gives only in its log.
     */
    public static <T> Logged<T> logged(java.util.function.Supplier<T> call) {
        try (NativeLog.Capture c = NativeLog.capture()) {
            T result = call.get();
            return new Logged<>(result, c.errors());
        }
    }

    /** A native call's result and the error lines it logged. */
    public record Logged<T>(T result, String errors) {
    }

    /** llama.cpp's description of the CPU features and backends in use. */
    public static String systemInfo() {
        init();
        return neuronscope_h.llama_print_system_info().getString(0);
    }

    /** The compute devices ggml registered (e.g. "CPU", "CUDA0"), with their descriptions. */
    public static List<Device> devices() {
        init();
        List<Device> devices = new ArrayList<>();
        long n = neuronscope_h.ggml_backend_dev_count();
        for (long i = 0; i < n; i++) {
            MemorySegment dev = neuronscope_h.ggml_backend_dev_get(i);
            int type = neuronscope_h.ggml_backend_dev_type(dev);
            devices.add(new Device(
                    neuronscope_h.ggml_backend_dev_name(dev).getString(0),
                    neuronscope_h.ggml_backend_dev_description(dev).getString(0),
                    type == neuronscope_h.GGML_BACKEND_DEVICE_TYPE_GPU() || type == neuronscope_h.GGML_BACKEND_DEVICE_TYPE_IGPU()));
        }
        return devices;
    }

    /** A compute device ggml can run layers on. */
    public record Device(String name, String description, boolean gpu) {
    }
}
