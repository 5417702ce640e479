package org.neuronscope.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native build's patch mechanism, run as a script on a small stand-in llama.cpp tree (same ggml
 * version as the pin): a patch that does not apply stops the build with a message naming it; one
 * that applies is applied before CMake runs.
 */
class NativeBuildPatchTest {
    private static final Path SCRIPT = Path.of("../native/scripts/build-native.sh").toAbsolutePath().normalize();

    @Test
    void aPatchThatDoesNotApplyFailsTheBuildNamingIt(@TempDir Path tmp) throws Exception {
        Path tree = standInTree(tmp);
        Path patches = Files.createDirectories(tmp.resolve("patches"));
        Files.writeString(patches.resolve("0001-broken.patch"), """
                --- a/include/llama.h
                +++ b/include/llama.h
                @@ -1,3 +1,3 @@
                 // line one
                -// a line that is not in the file
                +// replacement
                 // line three
                """);
        Result r = build(tmp, tree, patches);
        assertEquals(1, r.exitCode(), r.output());
        assertTrue(r.output().contains("patch 0001-broken.patch does not apply"), r.output());
        assertFalse(r.output().contains("configuring"), "CMake must not run after a failed patch:\n" + r.output());
        assertEquals("// line one\n// line two\n// line three\n", Files.readString(tree.resolve("include/llama.h")),
                "the user's tree must never be modified");
    }

    @Test
    void aPatchThatAppliesIsAppliedToACopyBeforeCMake(@TempDir Path tmp) throws Exception {
        Path tree = standInTree(tmp);
        Path patches = Files.createDirectories(tmp.resolve("patches"));
        Files.writeString(patches.resolve("0001-good.patch"), """
                --- a/include/llama.h
                +++ b/include/llama.h
                @@ -1,3 +1,3 @@
                 // line one
                -// line two
                +// patched
                 // line three
                """);
        Result r = build(tmp, tree, patches);
        assertTrue(r.output().contains("applied 0001-good.patch"), r.output());
        assertTrue(r.output().contains("configuring"), r.output());
        assertEquals(1, r.exitCode(), "the stand-in tree has no real CMake project, so CMake must fail:\n" + r.output());
        assertEquals("// line one\n// line two\n// line three\n", Files.readString(tree.resolve("include/llama.h")));
    }

    private static Path standInTree(Path tmp) throws IOException {
        Path tree = tmp.resolve("llama.cpp");
        Files.createDirectories(tree.resolve("include"));
        Files.createDirectories(tree.resolve("ggml"));
        Files.writeString(tree.resolve("include/llama.h"), "// line one\n// line two\n// line three\n");
        String version = pinnedGgmlVersion();
        String[] v = version.split("\\.");
        Files.writeString(tree.resolve("ggml/CMakeLists.txt"), "set(GGML_VERSION_MAJOR " + v[0] + ")\nset(GGML_VERSION_MINOR " + v[1]
                + ")\nset(GGML_VERSION_PATCH " + v[2] + ")\n");
        Files.writeString(tree.resolve("CMakeLists.txt"), "this is not a CMake project\n");
        return tree;
    }

    private static String pinnedGgmlVersion() throws IOException {
        return Files.readAllLines(SCRIPT.getParent().getParent().resolve("llama.cpp.properties")).stream()
                .filter(l -> l.startsWith("ggml.version=")).findFirst().orElseThrow().substring("ggml.version=".length());
    }

    private record Result(int exitCode, String output) {
    }

    private static Result build(Path tmp, Path tree, Path patches) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(List.of("bash", SCRIPT.toString(), "cpu", tmp.resolve("out").toString()))
                .redirectErrorStream(true);
        pb.environment().put("NEURONSCOPE_LLAMA_SRC", tree.toString());
        pb.environment().put("NEURONSCOPE_PATCH_DIR", patches.toString());
        pb.environment().put("NEURONSCOPE_CACHE", tmp.resolve("cache").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.waitFor(), out);
    }
}
