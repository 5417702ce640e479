package org.neuronscope.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.testkit.MiniLm;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code neuronscope convert-bert} on the real all-MiniLM-L6-v2 export: the same file the library writes. */
class ConvertBertCommandTest {
    @TempDir
    Path dir;

    @Test
    void convertsMiniLmToTheFixturesFile() throws Exception {
        Path out = dir.resolve("minilm.gguf");
        NeuronScopeCliTest.Run r = NeuronScopeCliTest.cli("convert-bert", "--onnx", MiniLm.onnx().toString(), "--tokenizer",
                MiniLm.tokenizerJson().toString(), "--out", out.toString(), "--name", "all-MiniLM-L6-v2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("6 layers, width 384, FFN 1536, 12 heads, vocabulary 30522"), r.out());
        assertEquals(-1, Files.mismatch(out, MiniLm.gguf()), "the command's GGUF differs from OnnxBertConverter's");
    }

    /** ablate's metrics all score tokens: an embedding model without head is refused with what applies. */
    @Test
    void ablateRefusesAModelWithoutHead() throws Exception {
        Path data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"id\": \"a\", \"prompt\": \"a recipe for bread\", \"domain\": \"recipes\"}\n");
        Path set = dir.resolve("set.json");
        new org.neuronscope.methods.NeuronSet("lape", org.neuronscope.HookPoint.FFN_ACT, 6, 1536, java.util.Map.of())
                .add("recipes", 3, 100, 0.1).save(set);
        NeuronScopeCliTest.Run r = NeuronScopeCliTest.cli("ablate", "--model", MiniLm.gguf().toString(), "--dataset", data.toString(),
                "--set", set.toString(), "--group-by", "label:domain", "--max-tokens", "0", "--threads", "1", "--out", dir.resolve("out").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("need a language-model head") && r.err().contains("embedding model"), r.err());
    }

    @Test
    void missingInputIsAMessage() {
        NeuronScopeCliTest.Run r = NeuronScopeCliTest.cli("convert-bert", "--onnx", dir.resolve("none.onnx").toString(), "--tokenizer",
                dir.resolve("none.json").toString(), "--out", dir.resolve("x.gguf").toString());
        assertNotEquals(0, r.code());
        assertTrue(r.err().startsWith("error:"), r.err());
        NeuronScopeCliTest.Run t = NeuronScopeCliTest.cli("convert-bert", "--onnx", "a", "--tokenizer", "b", "--out", "c", "--type", "Q4_K");
        assertNotEquals(0, t.code());
        assertTrue(t.err().contains("F32 or F16"), t.err());
    }
}
