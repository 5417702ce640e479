package org.neuronscope.model;


import org.neuronscope.internal.NativeHandle;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_model_params;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.internal.LlamaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF model loaded by llama.cpp. Owns the native model and everything opened on it — every
 * {@link Session} and every projector ({@code Projector.load}): closing the model closes them first.
 * A model may serve several sessions, each used from one thread; metadata and the tokenizer may be
 * used from any thread.
 */
public final class Model implements AutoCloseable {
    private final Path path;
    private final NativeHandle handle;
    /** Sessions and projectors opened on this model, closed before it. */
    private final List<AutoCloseable> dependents = new ArrayList<>();
    private final Tokenizer tokenizer;
    private final int nLayer;
    private final int nEmbd;
    private final int nVocab;
    private final int nHead;
    private final int nHeadKv;
    private final int nCtxTrain;
    private final int ropeType;
    private final String architecture;
    private final boolean encoder;
    private final int poolingType;
    private final boolean hasLogits;

    private Model(Path path, MemorySegment pointer) {
        this.path = path;
        this.handle = NativeHandle.create(this, "model", pointer, neuronscope_h::llama_model_free);
        this.nLayer = neuronscope_h.llama_model_n_layer(pointer);
        this.nEmbd = neuronscope_h.llama_model_n_embd(pointer);
        // per-layer hyperparameters abort in llama.cpp on a model without layers (vocab only)
        this.nHead = nLayer > 0 ? neuronscope_h.llama_model_n_head(pointer) : 0;
        this.nHeadKv = nLayer > 0 ? neuronscope_h.llama_model_n_head_kv(pointer) : 0;
        this.nCtxTrain = neuronscope_h.llama_model_n_ctx_train(pointer);
        this.ropeType = neuronscope_h.llama_model_rope_type(pointer);
        this.tokenizer = new Tokenizer(this, neuronscope_h.llama_model_get_vocab(pointer));
        this.nVocab = tokenizer.vocabularySize();
        this.architecture = metadata("general.architecture").orElse("unknown");
        // llama.cpp runs a model whose attention is not causal as an encoder: one decode at a time,
        // without KV cache; its embedding architectures (bert and kin) have no language-model head
        this.encoder = metadata(architecture + ".attention.causal").map("false"::equals).orElse(false);
        this.poolingType = metadata(architecture + ".pooling_type").map(Integer::parseInt).orElse(0);
        this.hasLogits = !encoder || hasOutputTensor(path);
    }

    private static boolean hasOutputTensor(Path path) {
        try (org.neuronscope.gguf.GgufFile f = org.neuronscope.gguf.GgufFile.open(path)) {
            return f.tensors().containsKey("output.weight");
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Loads a model with {@link ModelParams#defaults()}. */
    public static Model load(Path path) {
        return load(path, ModelParams.defaults());
    }

    /**
     * Loads a model. The file is checked first: it must exist and (unless disabled in the params)
     * pass the Java GGUF validator, so that a truncated or corrupt file is an exception naming the
     * problem and never reaches llama.cpp.
     */
    public static Model load(Path path, ModelParams params) {
        if (path == null || params == null) {
            throw new IllegalArgumentException("path and params must not be null");
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelLoadException("model file not found: " + path);
        }
        if (params.validate()) {
            ModelFiles.validate(path, params.vocabOnly());
        }
        LlamaRuntime.init();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = neuronscope_h.llama_model_default_params(arena);
            llama_model_params.n_gpu_layers(p, params.gpuLayers());
            llama_model_params.load_mode(p, params.useMmap()
                    ? (params.useMlock() ? neuronscope_h.LLAMA_LOAD_MODE_MMAP_MLOCK() : neuronscope_h.LLAMA_LOAD_MODE_MMAP())
                    : (params.useMlock() ? neuronscope_h.LLAMA_LOAD_MODE_MLOCK() : neuronscope_h.LLAMA_LOAD_MODE_NONE()));
            llama_model_params.vocab_only(p, params.vocabOnly());
            MemorySegment file = arena.allocateFrom(path.toAbsolutePath().toString());
            LlamaRuntime.Logged<MemorySegment> loaded = LlamaRuntime.logged(() -> neuronscope_h.llama_model_load_from_file(file, p));
            MemorySegment model = loaded.result();
            if (model.equals(MemorySegment.NULL)) {
                // llama.cpp explains a failed load only in its log: quote it
                String why = loaded.errors().isEmpty() ? LlamaRuntime.lastNativeError() : loaded.errors();
                throw new ModelLoadException("llama.cpp could not load " + path + ": " + (why.isEmpty() ? "no reason logged" : why));
            }
            return new Model(path, model);
        }
    }

    /** Opens a session (a llama.cpp context) with its own KV cache. */
    public Session newSession(SessionParams params) {
        handle.get();
        if (nLayer == 0) {
            throw new IllegalStateException("the model " + path.getFileName() + " has no layers (loaded vocabulary only)");
        }
        Session s = new Session(this, params);
        addDependent(s);
        return s;
    }

    /**
     * Registers an object that uses this model's native model (a session, a projector): it is closed
     * before the model is freed. For the library's own types.
     */
    public synchronized void addDependent(AutoCloseable dependent) {
        handle.get();
        dependents.add(dependent);
    }

    /** The converse of {@link #addDependent}, when a dependent closes on its own. */
    public synchronized void removeDependent(AutoCloseable dependent) {
        dependents.remove(dependent);
    }

    void sessionClosed(Session s) {
        removeDependent(s);
    }

    public Path path() {
        return path;
    }

    public Tokenizer tokenizer() {
        handle.get();
        return tokenizer;
    }

    public int layerCount() {
        return nLayer;
    }

    public int embeddingSize() {
        return nEmbd;
    }

    public int vocabularySize() {
        return nVocab;
    }

    public int headCount() {
        return nHead;
    }

    public int kvHeadCount() {
        return nHeadKv;
    }

    public int trainingContextSize() {
        return nCtxTrain;
    }

    /** The GGUF architecture name, e.g. {@code llama}, {@code qwen2}, {@code qwen2vl}. */
    public String architecture() {
        return architecture;
    }

    /**
     * Whether llama.cpp runs this model as an encoder (attention not causal, e.g. {@code bert}): every
     * decode is a whole input on its own (no KV cache; a sequence starts at position 0 and fits one
     * micro-batch), and the outputs are embeddings.
     */
    public boolean isEncoder() {
        return encoder;
    }

    /**
     * The pooling the model asks for ({@code <arch>.pooling_type}, llama.cpp's
     * {@code llama_pooling_type}): 0 none, 1 mean, 2 CLS, 3 last, 4 rank.
     */
    public int poolingType() {
        return poolingType;
    }

    /**
     * Whether decoding gives logits over the vocabulary. An encoder without a head (a sentence
     * embedding model) gives only embeddings: {@link Session#logits} and everything that scores
     * tokens refuse it.
     */
    public boolean hasLogits() {
        return hasLogits;
    }

    /** Positions per embedding a batch of embeddings carries: 4 for M-RoPE models (Qwen2-VL), else 1. */
    public int positionsPerEmbedding() {
        return ropeType == neuronscope_h.LLAMA_ROPE_TYPE_MROPE() || ropeType == neuronscope_h.LLAMA_ROPE_TYPE_IMROPE() ? 4 : 1;
    }

    public String description() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            handle.shared(m -> neuronscope_h.llama_model_desc(m, buf, buf.byteSize()));
            return buf.getString(0);
        }
    }

    public long sizeBytes() {
        return handle.shared(neuronscope_h::llama_model_size);
    }

    public long parameterCount() {
        return handle.shared(neuronscope_h::llama_model_n_params);
    }

    /** The chat template stored in the model, if any. */
    public Optional<String> chatTemplate() {
        return handle.shared(m -> {
            MemorySegment t = neuronscope_h.llama_model_chat_template(m, MemorySegment.NULL);
            return t.equals(MemorySegment.NULL) ? Optional.<String>empty() : Optional.of(t.reinterpret(Long.MAX_VALUE).getString(0));
        });
    }

    /** One metadata value as a string (llama.cpp's rendering), if the key exists. */
    public Optional<String> metadata(String key) {
        return handle.shared(m -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment k = arena.allocateFrom(key);
                int n = neuronscope_h.llama_model_meta_val_str(m, k, MemorySegment.NULL, 0);
                if (n < 0) {
                    return Optional.<String>empty();
                }
                MemorySegment buf = arena.allocate(n + 1L);
                neuronscope_h.llama_model_meta_val_str(m, k, buf, n + 1L);
                return Optional.of(buf.getString(0));
            }
        });
    }

    /** All metadata (arrays are summarised by llama.cpp). */
    public Map<String, String> metadata() {
        return handle.shared(m -> {
            Map<String, String> all = new LinkedHashMap<>();
            int count = neuronscope_h.llama_model_meta_count(m);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(4096);
                for (int i = 0; i < count; i++) {
                    neuronscope_h.llama_model_meta_key_by_index(m, i, buf, buf.byteSize());
                    String key = buf.getString(0);
                    neuronscope_h.llama_model_meta_val_str_by_index(m, i, buf, buf.byteSize());
                    all.put(key, buf.getString(0));
                }
            }
            return all;
        });
    }

    public boolean isOpen() {
        return handle.isOpen();
    }

    /**
     * Closes every session and projector of this model (newest first), then frees the model, also when
     * closing one of them fails: the first failure is thrown afterwards, later ones added to it as
     * suppressed. Waits for decodes in flight on other threads. Idempotent.
     */
    @Override
    public void close() {
        RuntimeException failure = null;
        try {
            List<AutoCloseable> open;
            synchronized (this) {
                open = List.copyOf(dependents).reversed();
            }
            for (AutoCloseable d : open) {
                try {
                    d.close();
                } catch (Exception e) {
                    RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException("closing " + d + " failed", e);
                    if (failure == null) {
                        failure = r;
                    } else {
                        failure.addSuppressed(r);
                    }
                }
            }
        } finally {
            synchronized (this) {
                dependents.clear();
            }
            handle.close();
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "Model[" + architecture + ", " + nLayer + " layers, " + path.getFileName() + "]";
    }
}
