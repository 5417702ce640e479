package org.neuronscope.media;

import org.neuronscope.FormatException;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.mtmd_helper_bitmap_wrapper;
import org.neuronscope.bindings.mtmd_input_part;
import org.neuronscope.bindings.mtmd_input_text;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.eval.Sample;
import org.neuronscope.model.Model;
import org.neuronscope.model.Tokenizer;
import org.neuronscope.internal.LlamaRuntime;

import java.io.UncheckedIOException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Prompts with media for a model and its {@link Projector}: the text (with one marker per media item)
 * and the media go through {@code mtmd_tokenize} into chunks; text chunks become token segments
 * (control tokens labelled special), media chunks become embedding segments labelled with the
 * modality of the media item they came from (an image, a video's frames, an audio clip). The
 * decoding itself is driven from Java, one chunk at a time, so every decode carries its labels.
 */
public final class MultimodalPrompts implements PromptSource {
    private static final String ID_PREFIX = "neuronscope-media-";
    private static final String[] FRAME_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif"};

    private final Model model;
    private final Projector projector;
    private final PromptFormat format;

    public MultimodalPrompts(Projector projector, PromptFormat format) {
        this.projector = projector;
        this.model = projector.model();
        this.format = format;
    }

    public Projector projector() {
        return projector;
    }

    /**
     * A sample's prompt: its images, audio and video files in that order (a video is a video file or a
     * directory of frame images, taken in name order).
     */
    @Override
    public Prompt prepare(Sample sample) {
        List<Media> media = new ArrayList<>();
        sample.images().forEach(p -> media.add(Media.image(p)));
        sample.audio().forEach(p -> media.add(Media.audio(p)));
        for (Path v : sample.video()) {
            media.add(Files.isDirectory(v) ? Media.videoFrames(framesIn(v)) : Media.video(v));
        }
        String text = format.format(model.tokenizer(), sample, Projector.marker());
        try {
            return prepare(text, media, format.addSpecial());
        } catch (NeuronScopeException | java.io.UncheckedIOException e) {
            // the sample's media cannot be read or decoded: a problem of the dataset, named by sample
            throw new org.neuronscope.eval.DatasetException(null, 0, List.of("sample " + sample.id() + ": " + e.getMessage()), e);
        }
    }

    private static List<Media> framesIn(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            List<Media> frames = files.filter(f -> {
                String n = f.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
                for (String e : FRAME_EXTENSIONS) {
                    if (n.endsWith(e)) {
                        return true;
                    }
                }
                return false;
            }).sorted().map(Media::image).toList();
            if (frames.isEmpty()) {
                throw new IllegalArgumentException("video frame directory " + dir + " holds no images");
            }
            return frames;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list video frames in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * A prompt from formatted text holding one {@link Projector#marker()} per media item, in order.
     *
     * @param addSpecial add the tokenizer's BOS/EOS as the model's metadata asks (false for chat-template output)
     */
    public Prompt prepare(String text, List<Media> media, boolean addSpecial) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        String marker = Projector.marker();
        String[] pieces = text.split(java.util.regex.Pattern.quote(marker), -1);
        if (pieces.length - 1 != media.size()) {
            throw new IllegalArgumentException("the prompt has " + (pieces.length - 1) + " media marker(s) " + marker + " but "
                    + media.size() + " media item(s) were given");
        }
        for (Media m : media) {
            projector.checkSupports(m);
        }
        // mtmd contexts are not thread-safe: tokenizing (which preprocesses the media) has the projector to itself
        return projector.exclusive("tokenize a prompt", ctx -> tokenize(ctx, pieces, media, addSpecial));
    }

    private Prompt tokenize(MemorySegment ctx, String[] pieces, List<Media> media, boolean addSpecial) {
        List<MemorySegment> bitmaps = new ArrayList<>();
        List<MemorySegment> videos = new ArrayList<>();
        Map<String, Modality> modalityOfId = new HashMap<>();
        MemorySegment chunks = MemorySegment.NULL;
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> parts = new ArrayList<>();
            for (int k = 0; k < pieces.length; k++) {
                if (!pieces[k].isEmpty()) {
                    byte[] utf8 = pieces[k].getBytes(StandardCharsets.UTF_8);
                    MemorySegment t = mtmd_input_text.allocate(arena);
                    mtmd_input_text.text(t, arena.allocateFrom(ValueLayout.JAVA_BYTE, utf8));
                    mtmd_input_text.text_len(t, utf8.length);
                    mtmd_input_text.add_special(t, false);
                    mtmd_input_text.parse_special(t, true);
                    parts.add(part(arena, t, MemorySegment.NULL));
                }
                if (k < media.size()) {
                    String id = ID_PREFIX + k;
                    modalityOfId.put(id, media.get(k).modality());
                    for (MemorySegment b : bitmapsOf(media.get(k), ctx, arena, videos)) {
                        bitmaps.add(b);
                        neuronscope_h.mtmd_bitmap_set_id(b, arena.allocateFrom(id));
                        parts.add(part(arena, MemorySegment.NULL, b));
                    }
                }
            }
            MemorySegment partArray = arena.allocate(ValueLayout.ADDRESS, parts.size());
            for (int i = 0; i < parts.size(); i++) {
                partArray.setAtIndex(ValueLayout.ADDRESS, i, parts.get(i));
            }
            chunks = neuronscope_h.mtmd_input_chunks_init();
            int rc = neuronscope_h.mtmd_tokenize_from_parts(ctx, chunks, partArray, parts.size(), addSpecial);
            if (rc != 0) {
                throw new NeuronScopeException("mtmd could not tokenize the prompt (" + rc + (rc == 2 ? ": media preprocessing failed" : "")
                        + "): " + LlamaRuntime.lastNativeError());
            }
            SegmentedPrompt prompt = segments(chunks, modalityOfId);
            chunks = MemorySegment.NULL; // the prompt owns them now
            return prompt;
        } finally {
            bitmaps.forEach(neuronscope_h::mtmd_bitmap_free);
            videos.forEach(neuronscope_h::mtmd_helper_video_free);
            if (!chunks.equals(MemorySegment.NULL)) {
                neuronscope_h.mtmd_input_chunks_free(chunks);
            }
        }
    }

    private static MemorySegment part(Arena arena, MemorySegment text, MemorySegment bitmap) {
        MemorySegment p = mtmd_input_part.allocate(arena);
        mtmd_input_part.text(p, text);
        mtmd_input_part.bitmap(p, bitmap);
        return p;
    }

    /** The mtmd bitmaps of one media item (several for video frames); the caller frees them. */
    private List<MemorySegment> bitmapsOf(Media media, MemorySegment ctx, Arena arena, List<MemorySegment> videos) {
        if (media instanceof Media.Pixels px) {
            MediaLimits.checkPixels(px.width(), px.height(), media.describe());
        } else if (media instanceof Media.Samples s) {
            MediaLimits.checkSamples(s.pcm().length, projector.audioSampleRate(), media.describe());
        }
        return switch (media) {
            case Media.Pixels px -> List.of(checked(neuronscope_h.mtmd_bitmap_init(px.width(), px.height(),
                    arena.allocateFrom(ValueLayout.JAVA_BYTE, px.rgb())), media));
            case Media.Samples s -> List.of(checked(neuronscope_h.mtmd_bitmap_init_from_audio(s.pcm().length,
                    arena.allocateFrom(ValueLayout.JAVA_FLOAT, s.pcm())), media));
            case Media.Encoded e -> List.of(decode(e.bytes(), media, ctx, arena, videos));
            case Media.File f -> List.of(decode(read(f), media, ctx, arena, videos));
            case Media.Frames fr -> {
                List<MemorySegment> frames = new ArrayList<>();
                try {
                    for (Media frame : fr.frames()) {
                        MemorySegment b = bitmapsOf(frame, ctx, arena, videos).getFirst();
                        frames.add(b);
                        neuronscope_h.mtmd_bitmap_set_mergeable(b, true);
                    }
                } catch (RuntimeException e) {
                    frames.forEach(neuronscope_h::mtmd_bitmap_free);
                    throw e;
                }
                yield frames;
            }
        };
    }

    private static byte[] read(Media.File f) {
        if (!Files.isRegularFile(f.path())) {
            throw new java.io.UncheckedIOException(f.modality().groupName() + " file not found: " + f.path(),
                    new java.nio.file.NoSuchFileException(f.path().toString()));
        }
        try {
            byte[] bytes = Files.readAllBytes(f.path());
            if (bytes.length == 0) {
                throw new org.neuronscope.FormatException(f.modality().groupName() + " file is empty: " + f.path());
            }
            return bytes;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + f.describe() + ": " + e.getMessage(), e);
        }
    }

    /** Decodes an encoded file with mtmd's helper (stb_image, miniaudio, ffmpeg for video) and checks its kind. */
    private MemorySegment decode(byte[] bytes, Media media, MemorySegment ctx, Arena arena, List<MemorySegment> videos) {
        MediaLimits.checkEncoded(bytes, media.describe()); // before the decoder believes the header
        MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
        MemorySegment opt = neuronscope_h.mtmd_helper_init_opt_default(arena);
        MemorySegment w = neuronscope_h.mtmd_helper_bitmap_init_from_buf(arena, ctx, buf, bytes.length, false, opt);
        MemorySegment bitmap = mtmd_helper_bitmap_wrapper.bitmap(w);
        MemorySegment video = mtmd_helper_bitmap_wrapper.video_ctx(w);
        if (!video.equals(MemorySegment.NULL)) {
            videos.add(video);
        }
        if (bitmap.equals(MemorySegment.NULL)) {
            String hint = media.modality() == Modality.VIDEO && !projector.supportsVideoFiles()
                    ? " (this build of mtmd cannot read video files; pass the frames as images)"
                    : media.modality() == Modality.VIDEO ? " (video files need ffmpeg and ffprobe on PATH)" : "";
            throw new FormatException("cannot decode " + media.describe() + hint + ": " + LlamaRuntime.lastNativeError());
        }
        boolean isAudio = neuronscope_h.mtmd_bitmap_is_audio(bitmap);
        if (isAudio && neuronscope_h.mtmd_bitmap_get_n_bytes(bitmap) < (long) MediaLimits.MIN_SAMPLES * Float.BYTES) {
            long samples = neuronscope_h.mtmd_bitmap_get_n_bytes(bitmap) / Float.BYTES;
            neuronscope_h.mtmd_bitmap_free(bitmap);
            throw new FormatException(media.describe() + " decodes to " + samples + " audio sample(s); at least " + MediaLimits.MIN_SAMPLES
                    + " are needed");
        }
        boolean isVideo = !video.equals(MemorySegment.NULL);
        Modality got = isAudio ? Modality.AUDIO : isVideo ? Modality.VIDEO : Modality.IMAGE;
        if (got != media.modality()) {
            neuronscope_h.mtmd_bitmap_free(bitmap);
            throw new FormatException(media.describe() + " holds " + got.groupName() + ", not " + media.modality().groupName());
        }
        return bitmap;
    }

    private static MemorySegment checked(MemorySegment bitmap, Media media) {
        if (bitmap.equals(MemorySegment.NULL)) {
            throw new NeuronScopeException("mtmd rejected " + media.describe() + ": " + LlamaRuntime.lastNativeError());
        }
        return bitmap;
    }

    /** One segment per chunk, media labelled by the item their bitmap came from. */
    private SegmentedPrompt segments(MemorySegment chunks, Map<String, Modality> modalityOfId) {
        Tokenizer tokenizer = model.tokenizer();
        List<Segment> segments = new ArrayList<>();
        long n = neuronscope_h.mtmd_input_chunks_size(chunks);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
            for (long i = 0; i < n; i++) {
                MemorySegment chunk = neuronscope_h.mtmd_input_chunks_get(chunks, i);
                int type = neuronscope_h.mtmd_input_chunk_get_type(chunk);
                if (type == neuronscope_h.MTMD_INPUT_CHUNK_TYPE_TEXT()) {
                    MemorySegment tokens = neuronscope_h.mtmd_input_chunk_get_tokens_text(chunk, count);
                    long nt = count.get(ValueLayout.JAVA_LONG, 0);
                    if (nt > 0) {
                        int[] t = tokens.reinterpret(nt * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
                        segments.add(new TokenSegment(t, tokenizer));
                    }
                } else {
                    MemorySegment idPtr = neuronscope_h.mtmd_input_chunk_get_id(chunk);
                    String id = idPtr.equals(MemorySegment.NULL) ? "" : idPtr.reinterpret(Long.MAX_VALUE).getString(0);
                    Modality m = modalityOfId.get(id);
                    if (m == null) {
                        // frames a video file expanded into (mtmd's helper names them after the file's hash)
                        m = type == neuronscope_h.MTMD_INPUT_CHUNK_TYPE_AUDIO() ? Modality.AUDIO : Modality.VIDEO;
                    }
                    segments.add(new MediaSegment(projector, chunk, m));
                }
            }
        }
        MemorySegment owned = chunks;
        return new SegmentedPrompt(segments, () -> neuronscope_h.mtmd_input_chunks_free(owned));
    }
}
