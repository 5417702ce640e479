package org.neuronscope.testkit;

import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufValue;
import org.neuronscope.gguf.GgufWriter;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Tokenizers for synthetic models that need no llama.cpp tree: a vocab-only GGUF shipped inside this
 * jar, {@value #QWEN2_SMALL_RESOURCE}, holding Qwen2's byte-level BPE tokenizer cut to its first
 * {@value #QWEN2_SMALL_REGULAR} tokens (the 256 byte tokens and the first 3840 merges) and its three
 * control tokens ({@code <|endoftext|>}, {@code <|im_start|>}, {@code <|im_end|>}, ids 4096–4098), with
 * Qwen2's pre-tokenizer and chat template. A BPE tokenizer with only its first merges is still a
 * tokenizer of the same kind: it stops merging earlier, so text takes more tokens, and every regular
 * token keeps its id. It was produced from llama.cpp's {@code models/ggml-vocab-qwen2.gguf} by
 * {@link #trimBpe} (the test {@code BundledVocabularyTest} checks that it still is); Qwen2's tokenizer
 * is published under the Apache License 2.0, llama.cpp under the MIT licence.
 */
public final class Vocabularies {
    /** The resource, next to this class. */
    public static final String QWEN2_SMALL_RESOURCE = "qwen2-4096.gguf";
    /** Regular tokens of the bundled Qwen2 tokenizer (byte tokens and merges). */
    public static final int QWEN2_SMALL_REGULAR = 4096;

    private static final int BYTE_TOKENS = 256;
    private static final int TOKEN_TYPE_CONTROL = 3;
    private static final Object LOCK = new Object();
    private static Path extracted;

    private Vocabularies() {
    }

    /**
     * The bundled Qwen2 tokenizer as a file (extracted once per JVM into a temporary directory that is
     * removed at exit): pass it as a {@link ModelSpec}'s vocabulary.
     */
    public static Path qwen2Small() {
        synchronized (LOCK) {
            if (extracted == null || !Files.isRegularFile(extracted)) {
                try {
                    Path dir = Files.createTempDirectory("neuronscope-vocab");
                    Path f = copyQwen2Small(dir.resolve(QWEN2_SMALL_RESOURCE));
                    f.toFile().deleteOnExit();
                    dir.toFile().deleteOnExit();
                    extracted = f;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot extract the bundled tokenizer: " + e.getMessage(), e);
                }
            }
            return extracted;
        }
    }

    /** Writes the bundled Qwen2 tokenizer to {@code out} (replacing it) and returns {@code out}. */
    public static Path copyQwen2Small(Path out) throws IOException {
        try (InputStream in = Vocabularies.class.getResourceAsStream(QWEN2_SMALL_RESOURCE)) {
            if (in == null) {
                throw new IOException("resource " + QWEN2_SMALL_RESOURCE + " is missing from " + Vocabularies.class.getModule());
            }
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
        }
        return out;
    }

    /**
     * A byte-level BPE vocabulary (tokenizer model {@code gpt2}, token {@code 256 + i} being the result of
     * merge {@code i}, as Qwen2's) cut to its first {@code regular} tokens and the merges that make
     * them, followed by its control tokens (renumbered; the bos, eos, padding ids follow them). Unused
     * tokens are dropped; every other key is copied.
     *
     * @throws IllegalArgumentException if the vocabulary is not laid out that way
     */
    public static void trimBpe(Path full, int regular, String name, Path out) {
        try (GgufFile f = GgufFile.open(full)) {
            if (!"gpt2".equals(f.getString("tokenizer.ggml.model"))) {
                throw new IllegalArgumentException(full + " is not a byte-level BPE vocabulary (tokenizer.ggml.model "
                        + f.getString("tokenizer.ggml.model") + ")");
            }
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            long[] types = f.getLongArray("tokenizer.ggml.token_type");
            String[] merges = f.getStringArray("tokenizer.ggml.merges");
            if (regular <= BYTE_TOKENS || regular - BYTE_TOKENS > merges.length) {
                throw new IllegalArgumentException("regular must be in (256, " + (BYTE_TOKENS + merges.length) + "], got " + regular);
            }
            Map<String, Integer> ids = new HashMap<>();
            for (int i = 0; i < tokens.length; i++) {
                ids.putIfAbsent(tokens[i], i);
            }
            for (int i = 0; i < regular - BYTE_TOKENS; i++) {
                String[] ab = merges[i].split(" ", 2);
                Integer made = ids.get(ab[0] + ab[1]);
                Integer a = ids.get(ab[0]);
                Integer b = ids.get(ab[1]);
                if (made == null || made != BYTE_TOKENS + i || a == null || a >= made || b == null || b >= made) {
                    throw new IllegalArgumentException("merge " + i + " '" + merges[i] + "' of " + full + " does not make token " + (BYTE_TOKENS + i)
                            + " from earlier tokens");
                }
            }
            List<String> keptTokens = new ArrayList<>(Arrays.asList(tokens).subList(0, regular));
            List<Integer> keptTypes = new ArrayList<>();
            for (int i = 0; i < regular; i++) {
                keptTypes.add((int) types[i]);
            }
            Map<Long, Integer> renumbered = new HashMap<>();
            for (int i = regular; i < tokens.length; i++) {
                if (types[i] == TOKEN_TYPE_CONTROL) {
                    renumbered.put((long) i, keptTokens.size());
                    keptTokens.add(tokens[i]);
                    keptTypes.add(TOKEN_TYPE_CONTROL);
                }
            }
            GgufWriter w = new GgufWriter();
            for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
                String k = e.getKey();
                switch (k) {
                    case "tokenizer.ggml.tokens" -> w.putStringArray(k, keptTokens.toArray(String[]::new));
                    case "tokenizer.ggml.token_type" -> w.putInt32Array(k, keptTypes.stream().mapToInt(Integer::intValue).toArray());
                    case "tokenizer.ggml.merges" -> w.putStringArray(k, Arrays.copyOf(merges, regular - BYTE_TOKENS));
                    case "general.name" -> w.putString(k, name);
                    case "tokenizer.ggml.scores" -> throw new IllegalArgumentException(full + " has scores: not a byte-level BPE vocabulary");
                    default -> {
                        if (k.startsWith("tokenizer.ggml.") && k.endsWith("_token_id")) {
                            Integer id = renumbered.get(f.getLong(k));
                            if (id == null) {
                                throw new IllegalArgumentException(k + " = " + f.getLong(k) + " is not a control token of " + full);
                            }
                            w.putUint32(k, id);
                        } else {
                            w.put(k, e.getValue());
                        }
                    }
                }
            }
            w.write(out);
        }
    }
}
