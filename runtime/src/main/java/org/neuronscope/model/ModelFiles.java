package org.neuronscope.model;

import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufFormatException;
import org.neuronscope.gguf.GgufValue;
import org.neuronscope.gguf.GgufValueType;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The checks a model file passes before llama.cpp sees it: the GGUF structure ({@link GgufFile}),
 * then every value that llama.cpp's model and vocabulary loading meets with an assertion instead of
 * an error (an assertion aborts the process: no Java exception is possible afterwards). Each check
 * is listed, with the llama.cpp source it stands in front of, in docs/RELIABILITY.md.
 */
final class ModelFiles {
    /** LLAMA_MAX_LAYERS (llama-hparams.h). */
    static final int MAX_LAYERS = 512;
    /** LLAMA_MAX_EXPERTS (llama-hparams.h). */
    static final int MAX_EXPERTS = 1024;
    /** LLAMA_ROPE_SCALING_TYPES (llama-model.cpp): any other name is UNSPECIFIED, which is asserted against. */
    static final Set<String> ROPE_SCALING_TYPES = Set.of("none", "linear", "yarn", "longrope");
    /** LLAMA_TOKEN_TYPE_BYTE (llama.h). */
    private static final long TOKEN_TYPE_BYTE = 6;

    private ModelFiles() {
    }

    /** Throws {@link GgufFormatException} naming the first problem of a bad file. */
    static void validate(Path path) {
        validate(path, false);
    }

    /**
     * Throws {@link GgufFormatException} naming the first problem of a bad file.
     *
     * @param vocabOnly the load stops after the vocabulary (llama.cpp reads no hyperparameters then)
     */
    static void validate(Path path, boolean vocabOnly) {
        try (GgufFile gguf = GgufFile.open(path)) {
            checkForLlamaCpp(gguf, vocabOnly);
        }
    }

    /** The checks in front of llama.cpp's assertions (docs/RELIABILITY.md has the table). */
    static void checkForLlamaCpp(GgufFile gguf, boolean vocabOnly) {
        String file = gguf.path().getFileName().toString();
        checkVocabulary(gguf, file);
        Optional<GgufValue> archValue = gguf.value("general.architecture");
        if (vocabOnly || archValue.isEmpty() || archValue.get().type() != GgufValueType.STRING) {
            return; // llama.cpp reports a missing or mistyped architecture itself
        }
        String arch = archValue.get().asString();
        if (arch.equals("clip")) {
            return; // llama.cpp loads no hyperparameters for CLIP files
        }
        String pre = arch + ".";
        Optional<Long> blocks = integer(gguf, pre + "block_count");
        // llama-model.cpp: GGML_ASSERT(hparams.n_layer_all > 0 && hparams.n_layer_all <= LLAMA_MAX_LAYERS)
        if (blocks.isPresent() && (blocks.get() <= 0 || blocks.get() > MAX_LAYERS)) {
            throw bad(file, pre + "block_count = " + blocks.get() + ": llama.cpp supports 1 to " + MAX_LAYERS + " layers");
        }
        long nLayer = blocks.orElse(0L);
        // GGML_ASSERT(hparams.n_layer_nextn <= hparams.n_layer_all)
        Optional<Long> nextn = integer(gguf, pre + "nextn_predict_layers");
        if (blocks.isPresent() && nextn.isPresent() && Long.compareUnsigned(nextn.get(), nLayer) > 0) {
            throw bad(file, pre + "nextn_predict_layers = " + Long.toUnsignedString(nextn.get()) + " exceeds " + pre + "block_count = " + nLayer);
        }
        checkExperts(gguf, file, pre);
        // GGML_ASSERT(hparams.rope_scaling_type_train != LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED)
        Optional<GgufValue> scaling = gguf.value(pre + "rope.scaling.type");
        if (scaling.isPresent() && scaling.get().type() == GgufValueType.STRING && !ROPE_SCALING_TYPES.contains(scaling.get().asString())) {
            throw bad(file, pre + "rope.scaling.type = '" + scaling.get().asString() + "' is none of " + ROPE_SCALING_TYPES.stream().sorted().toList());
        }
    }

    /** The expert hyperparameters, asserted in llama-model.cpp's load_hparams. */
    private static void checkExperts(GgufFile gguf, String file, String pre) {
        long experts = integer(gguf, pre + "expert_count").orElse(0L);
        long used = maxOfScalarOrArray(gguf, pre + "expert_used_count");
        long groups = integer(gguf, pre + "expert_group_count").orElse(0L);
        long groupUsed = integer(gguf, pre + "expert_group_used_count").orElse(0L);
        String counts = " (" + pre + "expert_count = " + experts + ", expert_used_count = " + used + ", expert_group_count = " + groups
                + ", expert_group_used_count = " + groupUsed + ")";
        if (experts < 0 || experts > MAX_EXPERTS) {
            throw bad(file, pre + "expert_count = " + experts + ": llama.cpp supports at most " + MAX_EXPERTS + " experts");
        }
        if (used < 0 || used > experts) {
            throw bad(file, "more experts used per token than there are" + counts);
        }
        if (experts > 0) {
            if (used == 0) {
                throw bad(file, "a mixture of experts that uses no expert per token" + counts);
            }
            if (groups < 0 || groups >= experts) {
                throw bad(file, "expert groups must be fewer than experts" + counts);
            }
            if (groups > 1 && (experts % groups != 0 || groupUsed <= 0 || groupUsed >= groups)) {
                throw bad(file, "experts must split evenly into groups, and 0 < groups used < groups" + counts);
            }
        } else if (used != 0 || groups != 0) {
            throw bad(file, "expert settings without experts" + counts);
        }
    }

    /**
     * The vocabulary, loaded even for vocabulary-only loads (llama-vocab.cpp): token texts must be
     * distinct after llama.cpp renames an empty one to "[EMPTY_i]"
     * ({@code GGML_ASSERT(id_to_token.size() == token_to_id.size())}), a WordPiece vocabulary may hold
     * no byte token (token_to_byte aborts for it when the piece cache is built).
     */
    private static void checkVocabulary(GgufFile gguf, String file) {
        Optional<GgufValue> tokens = gguf.value("tokenizer.ggml.tokens");
        if (tokens.isEmpty() || !tokens.get().isArray() || tokens.get().elementType() != GgufValueType.STRING) {
            return; // llama.cpp throws "cannot find tokenizer vocab" / "invalid gguf type" itself
        }
        String[] texts = tokens.get().asStringArray();
        Map<String, Integer> first = new HashMap<>(texts.length * 2);
        for (int i = 0; i < texts.length; i++) {
            String word = texts[i].isEmpty() ? "[EMPTY_" + i + "]" : texts[i];
            Integer before = first.putIfAbsent(word, i);
            if (before != null) {
                throw bad(file, "tokens " + before + " and " + i + " of tokenizer.ggml.tokens are both '" + printable(word)
                        + "': llama.cpp needs every token text to be distinct" + (texts[i].isEmpty() ? " (an empty token is read as '" + word + "')" : ""));
            }
        }
        Optional<GgufValue> model = gguf.value("tokenizer.ggml.model");
        Optional<GgufValue> types = gguf.value("tokenizer.ggml.token_type");
        if (model.isPresent() && model.get().type() == GgufValueType.STRING && model.get().asString().equals("bert")
                && types.isPresent() && types.get().isArray() && types.get().elementType() == GgufValueType.INT32) {
            long[] t = types.get().asLongArray();
            for (int i = 0; i < Math.min(t.length, texts.length); i++) {
                if (t[i] == TOKEN_TYPE_BYTE) {
                    throw bad(file, "token " + i + " of a WordPiece (bert) vocabulary has the byte type " + TOKEN_TYPE_BYTE
                            + ", which llama.cpp cannot render");
                }
            }
        }
    }

    private static Optional<Long> integer(GgufFile gguf, String key) {
        return gguf.value(key).filter(v -> !v.isArray() && v.type().isInteger()).map(ModelFiles::asLong);
    }

    /** A per-layer count given as one integer or an array of them: the largest (0 if absent). */
    private static long maxOfScalarOrArray(GgufFile gguf, String key) {
        Optional<GgufValue> v = gguf.value(key);
        if (v.isEmpty()) {
            return 0;
        }
        if (v.get().isArray()) {
            if (!v.get().elementType().isInteger()) {
                return 0;
            }
            long max = 0;
            for (long x : v.get().asLongArray()) {
                max = Math.max(max, v.get().elementType() == GgufValueType.UINT64 && x < 0 ? Long.MAX_VALUE : x);
            }
            return max;
        }
        return v.get().type().isInteger() ? asLong(v.get()) : 0;
    }

    /** An integer value; a UINT64 above Long.MAX_VALUE reads as Long.MAX_VALUE (too large for anything here). */
    private static long asLong(GgufValue v) {
        return v.type() == GgufValueType.UINT64 && ((Long) v.value()) < 0 ? Long.MAX_VALUE : v.asLong();
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(40).forEach(c -> {
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return s.codePointCount(0, s.length()) > 40 ? b + "…" : b.toString();
    }

    private static GgufFormatException bad(String file, String message) {
        return new GgufFormatException(file + ": " + message + " (llama.cpp would abort the process on this file)");
    }
}
