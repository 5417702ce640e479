package org.neuronscope.media;


import org.neuronscope.UnsupportedArchitectureException;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.mtmd_context_params;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.internal.NativeHandle;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelLoadException;
import org.neuronscope.internal.LlamaRuntime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A multimodal projector (an mmproj GGUF: vision and/or audio encoder plus the projection into the
 * language model's embedding space) opened for one {@link Model}: mtmd's context. It preprocesses
 * media, tokenizes prompts into text and media chunks ({@link MultimodalPrompts}) and encodes media
 * chunks into embeddings that the language model decodes like tokens.
 *
 * <p>Owns the mtmd context and is owned by its model: closing the model closes it first. Encoding is
 * serialised (mtmd's context is not thread-safe for encoding).
 */
public final class Projector implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Projector.class);

    private final Model model;
    private final Path path;
    private final boolean vision;
    private final boolean audio;
    private final boolean mrope;
    private final int audioSampleRate;
    private final boolean videoFiles;
    private final int embeddingSize;
    private final NativeHandle handle;
    private volatile EncoderHooks hooks; // the open encoder hooks, or null

    private Projector(Model model, Path path, MemorySegment ctx) {
        this.model = model;
        this.path = path;
        this.handle = NativeHandle.create(this, "projector", ctx, neuronscope_h::mtmd_free).named("the projector " + path.getFileName());
        this.vision = neuronscope_h.mtmd_support_vision(ctx);
        this.audio = neuronscope_h.mtmd_support_audio(ctx);
        this.mrope = neuronscope_h.mtmd_decode_use_mrope(ctx);
        this.audioSampleRate = audio ? neuronscope_h.mtmd_get_audio_sample_rate(ctx) : -1;
        this.videoFiles = neuronscope_h.mtmd_helper_support_video(ctx);
        this.embeddingSize = NativeHandle.of(model).shared(neuronscope_h::llama_model_n_embd_inp);
    }

    /**
     * Opens {@code mmproj} for {@code model}. The file must exist, be valid GGUF (Java validator) and be
     * a projector ({@code clip.*} metadata) whose output width is the model's embedding width.
     */
    public static Projector load(Model model, Path mmproj, ProjectorParams params) {
        if (model == null || mmproj == null || params == null) {
            throw new IllegalArgumentException("model, mmproj and params must not be null");
        }
        if (!model.isOpen()) {
            throw new IllegalStateException("the model is closed");
        }
        if (!Files.isRegularFile(mmproj)) {
            throw new ModelLoadException("projector (mmproj) file not found: " + mmproj);
        }
        if (params.validate()) {
            GgufFile.validate(mmproj);
        }
        checkMatches(model, mmproj);
        LlamaRuntime.init();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = neuronscope_h.mtmd_context_params_default(arena);
            mtmd_context_params.use_gpu(p, params.useGpu());
            mtmd_context_params.n_threads(p, params.threads());
            mtmd_context_params.print_timings(p, false);
            mtmd_context_params.warmup(p, params.warmup());
            mtmd_context_params.image_min_tokens(p, params.imageMinTokens());
            mtmd_context_params.image_max_tokens(p, params.imageMaxTokens());
            MemorySegment file = arena.allocateFrom(mmproj.toAbsolutePath().toString());
            MemorySegment ctx = NativeHandle.of(model).shared(m -> neuronscope_h.mtmd_init_from_file(file, m, p));
            if (ctx.equals(MemorySegment.NULL)) {
                throw new ModelLoadException("mtmd could not open the projector " + mmproj + " for the model "
                        + model.path().getFileName() + ": " + LlamaRuntime.lastNativeError());
            }
            Projector projector = new Projector(model, mmproj, ctx);
            model.addDependent(projector);
            LOG.debug("opened projector {} (vision {}, audio {}, M-RoPE {})", mmproj, projector.vision, projector.audio, projector.mrope);
            return projector;
        }
    }

    /** Refuses, before mtmd reads it, a file that is not a projector or whose width is not the model's. */
    private static void checkMatches(Model model, Path mmproj) {
        try (GgufFile f = GgufFile.open(mmproj)) {
            String arch = f.containsKey("general.architecture") ? f.getString("general.architecture") : "unknown";
            boolean hasVision = f.containsKey("clip.has_vision_encoder") && f.getBoolean("clip.has_vision_encoder");
            boolean hasAudio = f.containsKey("clip.has_audio_encoder") && f.getBoolean("clip.has_audio_encoder");
            if (!hasVision && !hasAudio) {
                throw new ModelLoadException(mmproj + " is not a multimodal projector (architecture " + arch
                        + ", no clip.has_vision_encoder / clip.has_audio_encoder); pass the mmproj file that belongs to "
                        + model.path().getFileName());
            }
            int width = model.embeddingSize();
            for (String modality : new String[] {"vision", "audio"}) {
                String key = "clip." + modality + ".projection_dim";
                boolean present = modality.equals("vision") ? hasVision : hasAudio;
                if (present && f.containsKey(key) && f.getLong(key) != width) {
                    throw new ModelLoadException("the projector " + mmproj.getFileName() + " projects " + modality + " into "
                            + f.getLong(key) + " dimensions but the model " + model.path().getFileName() + " has width " + width
                            + "; it belongs to another model");
                }
            }
        }
    }

    public Model model() {
        return model;
    }

    public Path path() {
        return path;
    }

    public boolean supportsVision() {
        return vision;
    }

    public boolean supportsAudio() {
        return audio;
    }

    /** True for models whose media positions are multi-dimensional (M-RoPE: Qwen2-VL, Qwen2.5-Omni). */
    public boolean usesMrope() {
        return mrope;
    }

    /** Sample rate that {@link Media#audioSamples} must use; -1 without an audio encoder. */
    public int audioSampleRate() {
        return audioSampleRate;
    }

    /** Whether video files can be decoded (this build's mtmd has video support and ffmpeg is found at use). */
    public boolean supportsVideoFiles() {
        return videoFiles;
    }

    /** The marker that stands for one media item in prompt text. */
    public static String marker() {
        LlamaRuntime.init();
        return neuronscope_h.mtmd_default_marker().reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** Width of the embeddings the projector produces (the model's input width). */
    public int embeddingSize() {
        return embeddingSize;
    }

    /** Refuses a medium the projector has no encoder for. */
    void checkSupports(Media media) {
        boolean ok = switch (media.modality()) {
            case IMAGE, VIDEO -> vision;
            case AUDIO -> audio;
            default -> false;
        };
        if (!ok) {
            throw new UnsupportedArchitectureException("the projector " + path.getFileName() + " has no "
                    + (media.modality() == Modality.AUDIO ? "audio" : "vision") + " encoder; cannot take " + media.describe());
        }
    }

    /** The raw mtmd context, unprotected from a concurrent close: for tests that compare with mtmd directly. */
    MemorySegment handle() {
        return handle.get();
    }

    /**
     * Runs {@code action} on the mtmd context with the projector to itself: a second thread is
     * refused (mtmd contexts are not thread-safe), a close waits for it.
     */
    <T> T exclusive(String doing, java.util.function.Function<MemorySegment, T> action) {
        return handle.exclusive(doing, action);
    }

    /** Runs a read of the mtmd context (metadata of a chunk); a close waits for it. */
    <T> T shared(java.util.function.Function<MemorySegment, T> action) {
        return handle.shared(action);
    }

    /**
     * Encodes a media chunk and copies its {@code nTokens} embeddings into {@code out} (allocated by
     * the caller: nTokens × embeddingSize floats). Refused while another thread uses the projector.
     */
    void encode(MemorySegment chunk, int nTokens, MemorySegment out) {
        exclusive("encode a media chunk", c -> {
            int rc = neuronscope_h.mtmd_encode_chunk(c, chunk);
            if (rc != 0) {
                EncoderHooks h = hooks;
                Throwable tap = h == null ? null : h.takeTapFailure();
                String hookError = h == null ? "" : h.lastError();
                throw new NeuronScopeException("mtmd failed to encode a media chunk (" + rc + "): "
                        + (hookError.isEmpty() ? LlamaRuntime.lastNativeError() : "encoder hooks: " + hookError), tap);
            }
            long bytes = (long) nTokens * embeddingSize * Float.BYTES;
            MemorySegment embd = neuronscope_h.mtmd_get_output_embd(c);
            if (embd.equals(MemorySegment.NULL)) {
                throw new NeuronScopeException("mtmd produced no embeddings for a media chunk");
            }
            MemorySegment.copy(embd.reinterpret(bytes), 0, out, 0, bytes);
            return null;
        });
    }

    /** Encodes a media chunk into a new float array (nTokens × embeddingSize, row-major). */
    float[] encodeToArray(MemorySegment chunk, int nTokens) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, (long) nTokens * embeddingSize);
            encode(chunk, nTokens, out);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    public boolean isOpen() {
        return handle.isOpen();
    }

    /**
     * Opens hooks in this projector's encoder graphs with {@code columns} weight columns (groups)
     * for their reductions: see {@link EncoderHooks}. One at a time: close the last one first.
     */
    public synchronized EncoderHooks openHooks(int columns) {
        if (!isOpen()) {
            throw new IllegalStateException("the projector " + path.getFileName() + " is closed");
        }
        if (columns <= 0 || columns > 4096) {
            throw new IllegalArgumentException("columns must be in [1, 4096], got " + columns);
        }
        if (hooks != null) {
            throw new IllegalStateException("the projector " + path.getFileName() + " has open encoder hooks; close them first");
        }
        EncoderHooks h = new EncoderHooks(this, columns);
        hooks = h;
        return h;
    }

    synchronized void hooksClosed(EncoderHooks h) {
        if (hooks == h) {
            hooks = null;
        }
    }

    /**
     * The embeddings the language model receives for one media item: every media chunk of it encoded
     * in order, concatenated (tokens × {@link #embeddingSize()} floats, row-major). Runs the encoder
     * hooks, if any are open.
     */
    public float[] encode(Media media) {
        if (media == null) {
            throw new IllegalArgumentException("media must not be null");
        }
        checkSupports(media);
        try (Prompt p = new MultimodalPrompts(this, PromptFormat.raw()).prepare(marker(), java.util.List.of(media), false)) {
            java.util.List<float[]> parts = new java.util.ArrayList<>();
            int total = 0;
            for (Segment s : ((SegmentedPrompt) p).segments()) {
                if (s instanceof MediaSegment m) {
                    float[] e = m.encode();
                    parts.add(e);
                    total += e.length;
                }
            }
            float[] out = new float[total];
            int at = 0;
            for (float[] e : parts) {
                System.arraycopy(e, 0, out, at, e.length);
                at += e.length;
            }
            return out;
        }
    }

    /** Frees the mtmd context (after an encode in flight); also done by the model's close. Idempotent. */
    @Override
    public void close() {
        if (handle.isOpen()) {
            handle.close(); // waits for an encode in flight
            EncoderHooks h = hooks;
            if (h != null) {
                h.release(); // after the context that read its memory is gone
                hooks = null;
            }
            model.removeDependent(this);
        }
    }

    @Override
    public String toString() {
        return "Projector[" + path.getFileName() + (vision ? ", vision" : "") + (audio ? ", audio" : "") + (mrope ? ", M-RoPE" : "") + "]";
    }
}
