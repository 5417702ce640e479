package org.neuronscope.reliability;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufFormatException;
import org.neuronscope.gguf.GgufValue;
import org.neuronscope.gguf.GgufWriter;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelLoadException;
import org.neuronscope.model.ModelParams;
import org.neuronscope.testkit.ChildJvm;
import org.neuronscope.testkit.SyntheticFixtures;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The rows of docs/RELIABILITY.md's table of llama.cpp assertions that file content reaches: each
 * builds a mutant of a synthetic model that (1) the Java checks refuse with a message naming the
 * value, and (2) handed straight to llama.cpp in a child JVM, aborts that JVM — proof that the
 * check stands in front of a real abort, not a hypothetical one.
 */
class LlamaCppAssertionsTest {
    @TempDir
    static Path dir;
    private static Path base;
    private static String[] tokens;

    @BeforeAll
    static void baseModel() {
        base = SyntheticFixtures.tiny("llama");
        try (GgufFile g = GgufFile.open(base)) {
            tokens = g.getStringArray("tokenizer.ggml.tokens");
        }
    }

    record Row(String name, Consumer<GgufWriter> mutation, String messagePart) {
    }

    static List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("duplicate-token", w -> {
            String[] t = tokens.clone();
            t[t.length - 1] = t[t.length - 2];
            w.putStringArray("tokenizer.ggml.tokens", t);
        }, "tokenizer.ggml.tokens"));
        rows.add(new Row("empty-token-renamed-onto-another", w -> {
            String[] t = tokens.clone();
            int i = t.length - 2;
            t[i] = "";
            t[i + 1] = "[EMPTY_" + i + "]";
            w.putStringArray("tokenizer.ggml.tokens", t);
        }, "[EMPTY_"));
        rows.add(new Row("block-count-zero", w -> w.putUint32("llama.block_count", 0), "llama.block_count = 0"));
        rows.add(new Row("block-count-above-limit", w -> w.putUint32("llama.block_count", 513), "llama.block_count = 513"));
        rows.add(new Row("nextn-above-block-count", w -> w.putUint32("llama.nextn_predict_layers", 99), "nextn_predict_layers"));
        rows.add(new Row("expert-count-above-limit", w -> {
            w.putUint32("llama.expert_count", 5000);
            w.putUint32("llama.expert_used_count", 2);
        }, "expert_count = 5000"));
        rows.add(new Row("experts-used-without-experts", w -> w.putUint32("llama.expert_used_count", 2), "more experts used per token than there are"));
        rows.add(new Row("experts-none-used", w -> w.putUint32("llama.expert_count", 4), "uses no expert"));
        rows.add(new Row("expert-groups-not-fewer-than-experts", w -> {
            w.putUint32("llama.expert_count", 4);
            w.putUint32("llama.expert_used_count", 1);
            w.putUint32("llama.expert_group_count", 4);
        }, "expert groups must be fewer than experts"));
        rows.add(new Row("expert-groups-uneven", w -> {
            w.putUint32("llama.expert_count", 8);
            w.putUint32("llama.expert_used_count", 1);
            w.putUint32("llama.expert_group_count", 3);
            w.putUint32("llama.expert_group_used_count", 1);
        }, "split evenly"));
        rows.add(new Row("expert-groups-without-experts", w -> w.putUint32("llama.expert_group_count", 2), "expert settings without experts"));
        rows.add(new Row("rope-scaling-type-unknown", w -> w.putString("llama.rope.scaling.type", "banana"), "rope.scaling.type = 'banana'"));
        rows.add(new Row("wordpiece-byte-token", w -> {
            w.putString("tokenizer.ggml.model", "bert");
            int[] types = new int[tokens.length];
            java.util.Arrays.fill(types, 1);
            types[types.length - 1] = 6;
            w.putInt32Array("tokenizer.ggml.token_type", types);
        }, "byte type"));
        return rows;
    }

    /** The base model with one mutation of its metadata, tensors unchanged. */
    static Path mutant(String name, Consumer<GgufWriter> mutation) {
        Path out = dir.resolve(name + ".gguf");
        try (GgufFile g = GgufFile.open(base)) {
            GgufWriter w = new GgufWriter().copyMetadata(g, k -> true);
            mutation.accept(w);
            for (String t : g.tensors().keySet()) {
                w.copyTensor(g, t);
            }
            w.write(out);
        }
        return out;
    }

    @Test
    void everyRowIsRefusedInJavaAndAbortsLlamaCppWithoutTheCheck() throws Exception {
        List<String> problems = new ArrayList<>();
        for (Row row : rows()) {
            Path file = mutant(row.name(), row.mutation());
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> Model.load(file), row.name());
            assertTrue(e.getMessage().contains(row.messagePart()) && e.getMessage().contains(file.getFileName().toString()),
                    row.name() + ": " + e.getMessage());
            ChildJvm.Result raw = ChildJvm.run(LoadProbe.class, 120, file.toString(), "raw");
            if (raw.exitStatus() != ChildJvm.SIGABRT_STATUS) {
                problems.add(row.name() + ": without the check llama.cpp did not abort (exit " + raw.exitStatus() + "): "
                        + tail(raw.output()));
            }
        }
        if (!problems.isEmpty()) {
            fail(String.join("\n", problems));
        }
    }

    @Test
    void theProbeLoadsTheUnmutatedModelInBothModes() throws Exception {
        for (String mode : List.of("checked", "raw")) {
            ChildJvm.Result r = ChildJvm.run(LoadProbe.class, 120, base.toString(), mode);
            assertEquals(0, r.exitStatus(), r.output());
            assertTrue(r.output().contains("LOADED"), r.output());
        }
    }

    @Test
    void llamaCppsOwnReasonIsInTheException() {
        Path file = mutant("unknown-tokenizer", w -> w.putString("tokenizer.ggml.model", "nonsense"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(file, ModelParams.defaults()));
        assertTrue(e.getMessage().contains("unknown tokenizer: 'nonsense'"), e.getMessage());
    }

    private static String tail(String s) {
        return s.length() > 600 ? s.substring(s.length() - 600) : s;
    }
}
