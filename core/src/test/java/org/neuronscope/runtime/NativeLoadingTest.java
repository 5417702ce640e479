package org.neuronscope.runtime;

import org.junit.jupiter.api.Test;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

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

    private static String firstLibrary(URL index) throws Exception {
        try (var in = index.openStream()) {
            String line = new String(in.readAllBytes()).lines().findFirst().orElseThrow();
            return line.trim().split("\\s+", 2)[1];
        }
    }
}
