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
