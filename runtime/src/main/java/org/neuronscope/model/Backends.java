package org.neuronscope.model;

import org.neuronscope.internal.LlamaRuntime;

import java.util.List;

/** What llama.cpp runs on in this process: its CPU features and the compute devices ggml registered. */
public final class Backends {
    private Backends() {
    }

    /** A compute device ggml can run layers on ("CPU", "CUDA0", ...). */
    public record Device(String name, String description, boolean gpu) {
    }

    /** llama.cpp's description of the CPU features and backends in use (loads the native libraries). */
    public static String systemInfo() {
        return LlamaRuntime.systemInfo();
    }

    /** The compute devices ggml registered, in its order. */
    public static List<Device> devices() {
        return LlamaRuntime.devices().stream().map(d -> new Device(d.name(), d.description(), d.gpu())).toList();
    }
}
