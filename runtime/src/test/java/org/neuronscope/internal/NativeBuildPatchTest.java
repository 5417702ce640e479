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
 * that applies is applied before CMake runs; the project's own native sources (native/include,
 * native/src, native/tests) are copied into the copy, never into the user's tree; and any change
 * under native/ (a source, a script) changes the build key, so it is rebuilt.
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

    @Test
    void theProjectsSourcesAreCopiedIntoThePatchedCopyNotTheUsersTree(@TempDir Path tmp) throws Exception {
        Path tree = standInTree(tmp);
        Path patches = Files.createDirectories(tmp.resolve("patches"));
        Result r = build(tmp, tree, patches);
        assertTrue(r.output().contains("configuring"), r.output());
        Path nativeDir = SCRIPT.getParent().getParent();
        Path copy = patchedCopy(tmp);
        for (String[] f : new String[][] {
                { "include/llama-neuron-hooks.h", "include/llama-neuron-hooks.h" },
                { "src/llama-nh.cpp", "src/llama-nh.cpp" },
                { "src/llama-nh.h", "src/llama-nh.h" },
                { "src/llama-nh-graph.h", "src/llama-nh-graph.h" },
                { "tests/CMakeLists.txt", "tests/neuron-hooks/CMakeLists.txt" } }) {
            Path source = nativeDir.resolve(f[0]);
            if (!Files.exists(source)) {
                continue; // (tests/ may not exist in every checkout of this branch)
            }
            assertEquals(Files.readString(source), Files.readString(copy.resolve(f[1])), f[1] + " in the patched copy");
            assertFalse(Files.exists(tree.resolve(f[1])), "the user's tree must never be modified: " + f[1]);
        }
    }

    @Test
    void anyChangeUnderNativeChangesTheBuildKey(@TempDir Path tmp) throws Exception {
        Path tree = standInTree(tmp);
        Path patches = Files.createDirectories(tmp.resolve("patches"));
        // a copy of native/ (without target/) whose files this test may change
        Path nativeCopy = tmp.resolve("native");
        Path nativeDir = SCRIPT.getParent().getParent();
        try (var files = Files.walk(nativeDir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path rel = nativeDir.relativize(p);
                if (rel.startsWith("target")) {
                    continue;
                }
                Path to = nativeCopy.resolve(rel.toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
        }
        Path script = nativeCopy.resolve("scripts/build-native.sh");
        String k1 = buildKey(build(tmp, tree, patches, script));
        assertEquals(k1, buildKey(build(tmp, tree, patches, script)), "nothing changed: same key");
        Files.writeString(nativeCopy.resolve("src/llama-nh.cpp"), "\n// changed\n", java.nio.file.StandardOpenOption.APPEND);
        String k2 = buildKey(build(tmp, tree, patches, script));
        Files.writeString(nativeCopy.resolve("scripts/lib.sh"), "\n# changed\n", java.nio.file.StandardOpenOption.APPEND);
        String k3 = buildKey(build(tmp, tree, patches, script));
        Files.writeString(patches.resolve("0001-empty.patch"), "");
        String k4 = buildKey(build(tmp, tree, patches, script));
        assertEquals(4, java.util.Set.of(k1, k2, k3, k4).size(), "a source, a script, a patch each change the key: " + List.of(k1, k2, k3, k4));
    }

    private static String buildKey(Result r) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("building (cpu-[0-9a-f]{16})").matcher(r.output());
        assertTrue(m.find(), r.output());
        return m.group(1);
    }

    private static Path patchedCopy(Path tmp) throws IOException {
        try (var dirs = Files.list(tmp.resolve("cache/work"))) {
            return dirs.findFirst().orElseThrow().resolve("src");
        }
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
        return build(tmp, tree, patches, SCRIPT);
    }

    private static Result build(Path tmp, Path tree, Path patches, Path script) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(List.of("bash", script.toString(), "cpu", tmp.resolve("out").toString()))
                .redirectErrorStream(true);
        pb.environment().put("NEURONSCOPE_LLAMA_SRC", tree.toString());
        pb.environment().put("NEURONSCOPE_PATCH_DIR", patches.toString());
        pb.environment().put("NEURONSCOPE_CACHE", tmp.resolve("cache").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.waitFor(), out);
    }
}
