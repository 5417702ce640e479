package org.neuronscope.bindings;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Every struct the project binds has, in Java, the size and field offsets the C compiler gives it,
 * so a llama.cpp upgrade that changes a struct fails here, loudly, instead of corrupting memory.
 * The oracle is a C program generated from the Java layouts and compiled against the headers the
 * native module built from.
 */
class StructLayoutTest {
    /** C struct name -> its jextract layout. */
    private static final Map<String, GroupLayout> STRUCTS = new LinkedHashMap<>();

    static {
        STRUCTS.put("llama_model_params", llama_model_params.layout());
        STRUCTS.put("llama_context_params", llama_context_params.layout());
        STRUCTS.put("llama_sampler_chain_params", llama_sampler_chain_params.layout());
        STRUCTS.put("llama_batch", llama_batch.layout());
        STRUCTS.put("llama_chat_message", llama_chat_message.layout());
        STRUCTS.put("mtmd_context_params", mtmd_context_params.layout());
        STRUCTS.put("mtmd_input_text", mtmd_input_text.layout());
        STRUCTS.put("mtmd_decoder_pos", mtmd_decoder_pos.layout());
        STRUCTS.put("mtmd_helper_bitmap_wrapper", mtmd_helper_bitmap_wrapper.layout());
        STRUCTS.put("mtmd_helper_init_opt", mtmd_helper_init_opt.layout());
        STRUCTS.put("mtmd_helper_video_init_params", mtmd_helper_video_init_params.layout());
    }

    @Test
    void javaLayoutsMatchTheCCompiler(@TempDir Path tmp) throws Exception {
        Path include = Path.of(System.getProperty("neuronscope.include.dir", "../native/target/include"));
        Assumptions.assumeTrue(Files.exists(include.resolve("llama-neuron-hooks.h")), "native headers not built: " + include);

        StringBuilder c = new StringBuilder("""
                #include <stdio.h>
                #include <stddef.h>
                #include "llama.h"
                #include "llama-neuron-hooks.h"
                #include "mtmd.h"
                #include "mtmd-helper.h"
                int main(void) {
                """);
        List<String> expected = new ArrayList<>();
        STRUCTS.forEach((name, layout) -> {
            c.append("    printf(\"%s sizeof %zu\\n\", \"").append(name).append("\", sizeof(struct ").append(name).append("));\n");
            expected.add(name + " sizeof " + layout.byteSize());
            for (MemoryLayout field : layout.memberLayouts()) {
                if (field instanceof PaddingLayout || field.name().isEmpty()) {
                    continue;
                }
                String f = field.name().get();
                long offset = layout.byteOffset(MemoryLayout.PathElement.groupElement(f));
                c.append("    printf(\"%s.%s offsetof %zu\\n\", \"").append(name).append("\", \"").append(f)
                        .append("\", offsetof(struct ").append(name).append(", ").append(f).append("));\n");
                expected.add(name + "." + f + " offsetof " + offset);
            }
        });
        c.append("    return 0;\n}\n");
        Path source = tmp.resolve("layouts.c");
        Files.writeString(source, c);
        Path exe = tmp.resolve("layouts");
        run(List.of("cc", "-std=c11", "-I", include.toString(), source.toString(), "-o", exe.toString()));
        List<String> actual = run(List.of(exe.toString()));
        assertFalse(actual.isEmpty());
        assertEquals(String.join("\n", actual), String.join("\n", expected));
    }

    private static List<String> run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            throw new AssertionError(String.join(" ", command) + " failed (" + rc + "):\n" + out);
        }
        return out.lines().toList();
    }
}
