package org.neuronscope.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.neuronscope.FormatException;
import org.neuronscope.UnsupportedArchitectureException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts a BERT encoder exported to ONNX from Hugging Face (e.g. sentence-transformers'
 * all-MiniLM-L6-v2) and its WordPiece {@code tokenizer.json} to a GGUF that llama.cpp runs as
 * architecture {@code bert}, with the tensor names, hyper-parameters and vocabulary that llama.cpp's
 * own converter ({@code convert_hf_to_gguf.py}, class {@code BertModel}) writes:
 *
 * <ul>
 *   <li>tensors: {@code token_embd}, {@code position_embd}, {@code token_types},
 *       {@code token_embd_norm}, and per layer {@code blk.N.attn_q/attn_k/attn_v/attn_output},
 *       {@code attn_output_norm}, {@code ffn_up}, {@code ffn_down}, {@code layer_output_norm}
 *       (weights and biases). PyTorch's exporter stores the linear weights under generated names
 *       ({@code onnx::MatMul_787}) and transposed (input × output); the converter names each by the
 *       {@code MatMul} node that reads it ({@code /encoder/layer.0/attention/self/query/MatMul} →
 *       {@code encoder.layer.0.attention.self.query.weight}) and transposes it back. The pooler and
 *       {@code position_ids} are left out, as llama.cpp's converter does.</li>
 *   <li>hyper-parameters {@code bert.*}: block count, context, embedding and feed-forward lengths
 *       from the tensor shapes; the head count from the attention's score scale
 *       ({@code 1/√head_dim}, a constant of the graph) unless given; the layer-norm epsilon from the
 *       graph's LayerNorm; {@code bert.attention.causal = false}; {@code bert.pooling_type}
 *       (default mean, what sentence-transformers' models use).</li>
 *   <li>vocabulary: {@code tokenizer.ggml.model = "bert"}, {@code pre = "bert-bge"}, tokens in
 *       llama.cpp's "phantom space" form (a word-initial piece gets {@code ▁}, a {@code ##}
 *       continuation loses it, special tokens are kept), token types (special tokens CONTROL, the
 *       rest NORMAL), {@code token_type_count} and the special ids (unknown, separator, padding, CLS,
 *       mask) from the tokenizer.</li>
 * </ul>
 *
 * <p>The weights are written as F32 by default (exactly the ONNX values) or F16
 * ({@link Options#type}); llama.cpp's quantiser makes smaller copies from either.
 */
public final class OnnxBertConverter {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxBertConverter.class);
    /** Bumped whenever the output for the same input changes (part of cache keys). */
    public static final String VERSION = "1";

    /** ggml's {@code llama_pooling_type} values a BERT GGUF can ask for. */
    public enum Pooling {
        NONE(0), MEAN(1), CLS(2), LAST(3);

        public final int id;

        Pooling(int id) {
            this.id = id;
        }
    }

    /**
     * @param name      {@code general.name}
     * @param type      F32 or F16 for the matrices (1-D tensors are always F32)
     * @param pooling   {@code bert.pooling_type}
     * @param headCount attention heads, or 0 to read them from the graph
     */
    public record Options(String name, GgmlType type, Pooling pooling, int headCount) {
        public Options {
            if (type != GgmlType.F32 && type != GgmlType.F16) {
                throw new IllegalArgumentException("type must be F32 or F16, got " + type);
            }
            if (pooling == null || name == null) {
                throw new IllegalArgumentException("name and pooling must not be null");
            }
            if (headCount < 0) {
                throw new IllegalArgumentException("headCount must not be negative");
            }
        }

        public static Options defaults(String name) {
            return new Options(name, GgmlType.F32, Pooling.MEAN, 0);
        }

        public Options withType(GgmlType t) {
            return new Options(name, t, pooling, headCount);
        }

        public Options withPooling(Pooling p) {
            return new Options(name, type, p, headCount);
        }

        public Options withHeadCount(int n) {
            return new Options(name, type, pooling, n);
        }
    }

    /** What was written. */
    public record Result(Path path, int layers, int embedding, int feedForward, int heads, int vocabulary, int contextLength,
                         float layerNormEpsilon, int tensors) {
    }

    private static final int TOKEN_NORMAL = 1, TOKEN_CONTROL = 3;
    private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.(.+)$");
    private static final Map<String, String> LAYER_TENSORS = Map.of(
            "attention.self.query", "attn_q",
            "attention.self.key", "attn_k",
            "attention.self.value", "attn_v",
            "attention.output.dense", "attn_output",
            "attention.output.LayerNorm", "attn_output_norm",
            "intermediate.dense", "ffn_up",
            "output.dense", "ffn_down",
            "output.LayerNorm", "layer_output_norm");
    private static final Map<String, String> GLOBAL_TENSORS = Map.of(
            "embeddings.word_embeddings", "token_embd",
            "embeddings.position_embeddings", "position_embd",
            "embeddings.token_type_embeddings", "token_types",
            "embeddings.LayerNorm", "token_embd_norm");
    private static final Set<String> SKIPPED = Set.of("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias");

    private OnnxBertConverter() {
    }

    /** A weight of the ONNX graph under its Hugging Face name; {@code transposed} when stored input × output. */
    private record Weight(String hfName, OnnxModel.Tensor tensor, boolean transposed) {
    }

    /**
     * Converts {@code onnx} and {@code tokenizerJson} to a GGUF at {@code out} (written beside it and
     * moved into place when complete).
     *
     * @throws FormatException                  a file is not what it should be
     * @throws UnsupportedArchitectureException the graph is not a BERT encoder this converter knows
     */
    public static Result convert(Path onnx, Path tokenizerJson, Path out, Options options) throws IOException {
        JsonNode tokenizer = new ObjectMapper().readTree(tokenizerJson.toFile());
        try (OnnxModel model = OnnxModel.open(onnx)) {
            return convert(model, tokenizer, tokenizerJson.toString(), out, options);
        }
    }

    private static Result convert(OnnxModel model, JsonNode tokenizer, String tokenizerName, Path out, Options options) {
        Map<String, Weight> weights = namedWeights(model);
        Map<String, Weight> byGguf = new LinkedHashMap<>();
        int layers = 0;
        for (Weight w : weights.values()) {
            String name = w.hfName().startsWith("bert.") ? w.hfName().substring(5) : w.hfName();
            if (SKIPPED.contains(name)) {
                continue;
            }
            String suffix = name.endsWith(".weight") ? "weight" : name.endsWith(".bias") ? "bias" : null;
            if (suffix == null) {
                throw new UnsupportedArchitectureException(model.path() + ": tensor '" + w.hfName() + "' is neither a weight nor a bias");
            }
            String module = name.substring(0, name.length() - suffix.length() - 1);
            String gguf;
            Matcher m = LAYER.matcher(module);
            if (m.matches() && LAYER_TENSORS.containsKey(m.group(2))) {
                int layer = Integer.parseInt(m.group(1));
                layers = Math.max(layers, layer + 1);
                gguf = "blk." + layer + "." + LAYER_TENSORS.get(m.group(2)) + "." + suffix;
            } else if (GLOBAL_TENSORS.containsKey(module)) {
                gguf = GLOBAL_TENSORS.get(module) + "." + suffix;
            } else {
                throw new UnsupportedArchitectureException(model.path() + ": tensor '" + w.hfName()
                        + "' has no place in llama.cpp's bert architecture (is this a BERT encoder exported from Hugging Face?)");
            }
            byGguf.put(gguf, new Weight(w.hfName(), w.tensor(), w.transposed()));
        }
        Weight tokens = require(byGguf, "token_embd.weight", model);
        Weight positions = require(byGguf, "position_embd.weight", model);
        Weight up = require(byGguf, "blk.0.ffn_up.weight", model);
        int nVocab = (int) tokens.tensor().dims()[0];
        int nEmbd = (int) tokens.tensor().dims()[1];
        int nCtx = (int) positions.tensor().dims()[0];
        int nFf = (int) (up.transposed() ? up.tensor().dims()[1] : up.tensor().dims()[0]);
        for (int l = 0; l < layers; l++) {
            for (String t : LAYER_TENSORS.values()) {
                require(byGguf, "blk." + l + "." + t + ".weight", model);
            }
        }
        int heads = options.headCount() > 0 ? options.headCount() : headCount(model, nEmbd);
        if (nEmbd % heads != 0) {
            throw new UnsupportedArchitectureException(model.path() + ": " + heads + " heads do not divide the width " + nEmbd);
        }
        float eps = layerNormEpsilon(model);
        if (!model.nodes().stream().anyMatch(n -> n.opType().equals("Erf") || n.opType().equals("Gelu"))) {
            LOG.warn("{}: no Erf or Gelu node; llama.cpp's bert runs a GELU feed-forward network", model.path());
        }

        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "bert");
        w.putString("general.name", options.name());
        w.putUint32("bert.block_count", layers);
        w.putUint32("bert.context_length", nCtx);
        w.putUint32("bert.embedding_length", nEmbd);
        w.putUint32("bert.feed_forward_length", nFf);
        w.putUint32("bert.attention.head_count", heads);
        w.putFloat32("bert.attention.layer_norm_epsilon", eps);
        w.putUint32("general.file_type", options.type() == GgmlType.F32 ? 0 : 1);
        w.putBool("bert.attention.causal", false);
        w.putUint32("bert.pooling_type", options.pooling().id);
        int typeCount = byGguf.containsKey("token_types.weight") ? (int) byGguf.get("token_types.weight").tensor().dims()[0] : 1;
        w.putUint32("tokenizer.ggml.token_type_count", typeCount);
        vocabulary(w, tokenizer, tokenizerName, nVocab);

        for (Map.Entry<String, Weight> e : byGguf.entrySet()) {
            addTensor(w, e.getKey(), e.getValue(), options.type());
        }
        w.write(out);
        LOG.info("converted {} to {}: {} layers, width {}, FFN {}, {} heads, vocabulary {}", model.path(), out, layers, nEmbd, nFf, heads, nVocab);
        return new Result(out, layers, nEmbd, nFf, heads, nVocab, nCtx, eps, byGguf.size());
    }

    /** Initializers under their Hugging Face names; MatMul weights named after the node reading them. */
    private static Map<String, Weight> namedWeights(OnnxModel model) {
        Map<String, Weight> out = new TreeMap<>();
        Set<String> viaMatMul = new HashSet<>();
        for (OnnxModel.Node n : model.nodes()) {
            if (!n.opType().equals("MatMul") || n.inputs().size() != 2) {
                continue;
            }
            OnnxModel.Tensor t = model.initializers().get(n.inputs().get(1));
            if (t == null || t.dims().length != 2) {
                continue;
            }
            if (!looksGenerated(t.name())) {
                // a named weight read by MatMul is already input × output under its own name
                out.put(t.name(), new Weight(t.name(), t, true));
                viaMatMul.add(t.name());
                continue;
            }
            String node = n.name();
            if (!node.endsWith("/MatMul")) {
                throw new UnsupportedArchitectureException(model.path() + ": cannot name the weight '" + t.name()
                        + "' of the MatMul node '" + node + "' (expected a node named /module/path/MatMul)");
            }
            String module = node.substring(node.startsWith("/") ? 1 : 0, node.length() - "/MatMul".length()).replace('/', '.');
            out.put(module + ".weight", new Weight(module + ".weight", t, true));
            viaMatMul.add(t.name());
        }
        for (OnnxModel.Tensor t : model.initializers().values()) {
            if (viaMatMul.contains(t.name())) {
                continue;
            }
            if (looksGenerated(t.name())) {
                throw new UnsupportedArchitectureException(model.path() + ": the initializer '" + t.name() + "' is not read by a MatMul; cannot name it");
            }
            if (t.dataType() != OnnxModel.FLOAT && !SKIPPED.contains(t.name()) && !SKIPPED.contains("bert." + t.name())) {
                throw new FormatException(model.path() + ": tensor '" + t.name() + "' has ONNX element type " + t.dataType() + "; only FLOAT weights are converted");
            }
            out.put(t.name(), new Weight(t.name(), t, false));
        }
        return out;
    }

    private static boolean looksGenerated(String name) {
        return name.startsWith("onnx::");
    }

    private static Weight require(Map<String, Weight> byGguf, String name, OnnxModel model) {
        Weight w = byGguf.get(name);
        if (w == null) {
            throw new UnsupportedArchitectureException(model.path() + ": no tensor for '" + name + "' (not a BERT encoder?)");
        }
        return w;
    }

    /** The score scale of the first attention: a Div by √head_dim (or a Mul by its inverse) after Q·Kᵀ. */
    private static int headCount(OnnxModel model, int nEmbd) {
        for (OnnxModel.Node n : model.nodes()) {
            if (!n.name().matches("^/encoder/layer\\.0/attention/self/(Div|Mul)(_\\d+)?$") || n.inputs().size() != 2) {
                continue;
            }
            Optional<Double> c = constant(model, n.inputs().get(1));
            if (c.isEmpty()) {
                continue;
            }
            double s = n.opType().equals("Div") ? c.get() : 1 / c.get();
            long headDim = Math.round(s * s);
            if (headDim > 0 && Math.abs(Math.sqrt(headDim) - s) < 1e-3 && nEmbd % headDim == 0) {
                return (int) (nEmbd / headDim);
            }
        }
        throw new UnsupportedArchitectureException(model.path()
                + ": cannot read the head count from the attention's scale; give it (Options.withHeadCount)");
    }

    /** Epsilon of the embeddings' LayerNorm: a fused LayerNormalization, or Sqrt(var + eps) of the decomposed one. */
    private static float layerNormEpsilon(OnnxModel model) {
        for (OnnxModel.Node n : model.nodes()) {
            if (n.opType().equals("LayerNormalization")) {
                return n.floatAttributes().getOrDefault("epsilon", 1e-5f);
            }
        }
        for (OnnxModel.Node n : model.nodes()) {
            if (n.opType().equals("Sqrt") && n.name().contains("LayerNorm")) {
                Optional<OnnxModel.Node> add = model.producer(n.inputs().get(0));
                if (add.isPresent() && add.get().opType().equals("Add")) {
                    for (String in : add.get().inputs()) {
                        Optional<Double> c = constant(model, in);
                        if (c.isPresent()) {
                            return c.get().floatValue();
                        }
                    }
                }
            }
        }
        throw new UnsupportedArchitectureException(model.path() + ": no LayerNorm epsilon found in the graph");
    }

    private static Optional<Double> constant(OnnxModel model, String value) {
        OnnxModel.Tensor init = model.initializers().get(value);
        if (init != null && init.elementCount() == 1) {
            return Optional.of(init.scalar());
        }
        return model.producer(value).filter(n -> n.opType().equals("Constant")).flatMap(OnnxModel.Node::valueTensor)
                .filter(t -> t.elementCount() == 1 && (t.dataType() == OnnxModel.FLOAT || t.dataType() == OnnxModel.INT64))
                .map(OnnxModel.Tensor::scalar);
    }

    private static void addTensor(GgufWriter w, String name, Weight weight, GgmlType matrixType) {
        OnnxModel.Tensor t = weight.tensor();
        t.requireType(OnnxModel.FLOAT);
        long[] d = t.dims();
        if (d.length == 1) {
            long n = d[0];
            w.addTensor(name, GgmlType.F32, new long[]{n}, (r, row) -> {
                for (int i = 0; i < n; i++) {
                    row[i] = t.floatAt(i);
                }
            });
            return;
        }
        if (d.length != 2) {
            throw new FormatException("tensor '" + weight.hfName() + "' has shape " + Arrays.toString(d) + "; expected 1 or 2 dimensions");
        }
        // embeddings stay F32 when the matrices are F32; llama.cpp's converter writes them in the
        // file's type too
        if (weight.transposed()) {
            // stored [in][out]: ggml row r (one output) is column r
            long in = d[0], outs = d[1];
            w.addTensor(name, matrixType, new long[]{in, outs}, (r, row) -> {
                for (int i = 0; i < in; i++) {
                    row[i] = t.floatAt(i * outs + r);
                }
            });
        } else {
            long rows = d[0], cols = d[1];
            w.addTensor(name, matrixType, new long[]{cols, rows}, (r, row) -> {
                long base = r * cols;
                for (int i = 0; i < cols; i++) {
                    row[i] = t.floatAt(base + i);
                }
            });
        }
    }

    /** The WordPiece vocabulary as llama.cpp's converter writes it for {@code bert}. */
    private static void vocabulary(GgufWriter w, JsonNode tok, String source, int nVocab) {
        JsonNode model = tok.path("model");
        if (!"WordPiece".equals(model.path("type").asText())) {
            throw new UnsupportedArchitectureException(source + ": tokenizer model '" + model.path("type").asText() + "' is not WordPiece");
        }
        if (!"##".equals(model.path("continuing_subword_prefix").asText("##"))) {
            throw new UnsupportedArchitectureException(source + ": continuing_subword_prefix must be ##, as llama.cpp's WordPiece assumes");
        }
        JsonNode norm = tok.path("normalizer");
        if (norm.isObject() && norm.path("type").asText().equals("BertNormalizer") && !norm.path("lowercase").asBoolean(true)) {
            LOG.warn("{}: a cased WordPiece tokenizer; llama.cpp's WordPiece lowercases its input", source);
        }
        JsonNode vocab = model.path("vocab");
        int size = vocab.size();
        if (size == 0) {
            throw new FormatException(source + ": no model.vocab");
        }
        String[] tokens = new String[size];
        vocab.fields().forEachRemaining(e -> {
            int id = e.getValue().asInt(-1);
            if (id < 0 || id >= size || tokens[id] != null) {
                throw new FormatException(source + ": vocabulary id " + e.getValue() + " of '" + e.getKey() + "' is out of range or repeated");
            }
            tokens[id] = e.getKey();
        });
        if (size != nVocab) {
            throw new FormatException(source + ": " + size + " tokens for an embedding matrix of " + nVocab + " rows");
        }
        Set<Integer> special = new HashSet<>();
        Map<String, Integer> byContent = new LinkedHashMap<>();
        for (JsonNode a : tok.path("added_tokens")) {
            int id = a.path("id").asInt();
            byContent.put(a.path("content").asText(), id);
            if (a.path("special").asBoolean(false)) {
                special.add(id);
            }
        }
        int[] types = new int[size];
        String[] phantom = new String[size];
        for (int i = 0; i < size; i++) {
            types[i] = special.contains(i) ? TOKEN_CONTROL : TOKEN_NORMAL;
            String t = tokens[i];
            phantom[i] = types[i] == TOKEN_CONTROL ? t : t.startsWith("##") ? t.substring(2) : "\u2581" + t;
        }
        w.putString("tokenizer.ggml.model", "bert");
        w.putString("tokenizer.ggml.pre", "bert-bge");
        w.putStringArray("tokenizer.ggml.tokens", phantom);
        w.putInt32Array("tokenizer.ggml.token_type", types);
        Map<String, String> ids = new LinkedHashMap<>();
        ids.put("tokenizer.ggml.unknown_token_id", model.path("unk_token").asText("[UNK]"));
        ids.put("tokenizer.ggml.seperator_token_id", "[SEP]");
        ids.put("tokenizer.ggml.padding_token_id", tok.path("padding").path("pad_token").asText("[PAD]"));
        ids.put("tokenizer.ggml.cls_token_id", "[CLS]");
        ids.put("tokenizer.ggml.mask_token_id", "[MASK]");
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, String> e : ids.entrySet()) {
            Integer id = byContent.get(e.getValue());
            if (id == null && vocab.has(e.getValue())) {
                id = vocab.get(e.getValue()).asInt();
            }
            if (id == null) {
                missing.add(e.getValue());
            } else {
                w.putUint32(e.getKey(), id);
            }
        }
        if (!missing.isEmpty()) {
            LOG.warn("{}: no token for {}; llama.cpp falls back to bert-base ids", source, missing);
        }
    }
}
