package org.neuronscope.internal;

import org.junit.jupiter.api.Test;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The natives come from the packaged jar (as in a user's application), not from the build directory. */
class NativeLoadingTest {
    @Test
    void loadsTheNativeJarFromTheClassPathAndCallsIntoLlamaCpp() throws Exception {
        URL index = NativeLoadingTest.class.getClassLoader()
                .getResource("org/neuronscope/native/" + NativeLibraries.platform() + "/.libraries");
        assertNotNull(index, "the native jar is not on the test class path");
        assertEquals("jar", index.getProtocol(), "natives must come from the packaged jar: " + index);
        assertTrue(index.toString().contains("neuronscope-native"), index.toString());

        Path dir = NativeLibraries.load();
        assertTrue(Files.exists(dir.resolve(".").resolve(firstLibrary(index))), "extracted into " + dir);
        assertTrue(!dir.toString().contains("/native/target/"), "loaded from the build directory: " + dir);

        String info = LlamaRuntime.systemInfo();
        assertTrue(info.contains("CPU"), info);
        assertTrue(LlamaRuntime.devices().stream().anyMatch(d -> d.name().startsWith("CPU")), "no CPU device");
        assertEquals(dir, NativeLibraries.load(), "second load must be a no-op");
    }

    /** The AMX variant is left out of what ggml chooses from (its kernels die with SIGILL on some VMs), unless allowed. */
    @Test
    void theBackendDirectoryHoldsEveryBackendButTheAmxVariant() throws Exception {
        Path dir = NativeLibraries.load();
        List<String> all = names(dir).stream().filter(n -> n.startsWith("libggml-cpu-") || n.startsWith("libggml-cuda")).toList();
        assertTrue(all.containsAll(NativeLibraries.AMX_VARIANTS), "the build has an AMX variant: " + all);
        Path backends = NativeLibraries.backendDirectory();
        List<String> chosenFrom = names(backends);
        List<String> want = all.stream().filter(n -> !NativeLibraries.AMX_VARIANTS.contains(n)).toList();
        assertEquals(want.stream().sorted().toList(), chosenFrom.stream().sorted().toList());
        assertEquals(dir, NativeLibraries.backendDirectory(dir, true), "-Dneuronscope.cpu.amx=true: every variant");
        assertEquals(backends, NativeLibraries.backendDirectory(dir, false), "a second call reuses the directory");
        for (String n : chosenFrom) {
            assertEquals(Files.size(dir.resolve(n)), Files.size(backends.resolve(n)), n);
        }
    }

    private static List<String> names(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).toList();
        }
    }

    private static String firstLibrary(URL index) throws Exception {
        try (var in = index.openStream()) {
            String line = new String(in.readAllBytes()).lines().findFirst().orElseThrow();
            return line.trim().split("\\s+", 2)[1];
        }
    }
}
