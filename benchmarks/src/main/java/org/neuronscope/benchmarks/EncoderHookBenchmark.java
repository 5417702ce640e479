package org.neuronscope.benchmarks;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.bindings.mtmd_helper_bitmap_wrapper;
import org.neuronscope.bindings.mtmd_input_text;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.gguf.GgmlType;
import org.neuronscope.internal.NativeHandle;
import org.neuronscope.media.EncoderHooks;
import org.neuronscope.media.EncoderMask;
import org.neuronscope.media.Projector;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.model.Model;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.SyntheticProjectors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The encoder hooks' cost: one image (test-1.jpeg, up to 256 output tokens = 1024 patches) encoded
 * by a synthetic Qwen2-VL vision projector (8 blocks × 256 wide, FFN 1024, F16) with (a) no hooks
 * (mtmd's own graph), (b) statistics on every encoder layer and the projector MLP (count(>0), Σx,
 * Σx² at ffn.act, 2 groups), (c) a mask deactivating 2 % of every layer's ffn.act neurons. The image
 * is preprocessed once; each timed run is mtmd_encode_chunk alone. Configurations interleave round
 * by round; medians are printed.
 *
 * <p>Arguments: [rounds (default 7)]. Run with {@code mvn -B -q -DskipTests -Prun verify -pl benchmarks -am
 * -Drun.main=org.neuronscope.benchmarks.EncoderHookBenchmark}.
 */
public final class EncoderHookBenchmark {
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        Path src = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"));
        Path dir = Files.createDirectories(Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "bench-models"));
        Path modelFile = dir.resolve("qwen2vl-2x512-f16-enc.gguf");
        Path projFile = dir.resolve("mmproj-qwen2vl-8x256-for-512.gguf");
        if (!Files.exists(modelFile)) {
            SyntheticModels.write(ModelSpec.builder("qwen2vl", src.resolve("models/ggml-vocab-qwen2.gguf")).layers(2).embedding(512)
                    .feedForward(1536).heads(8).kvHeads(2).contextLength(4096).weightType(GgmlType.F16).build(), modelFile);
        }
        if (!Files.exists(projFile)) {
            SyntheticProjectors.write(new SyntheticProjectors.Spec("qwen2vl_merger", 256, 8, 4, 1024, 512, 14, 0, 1, 1f, null, null), projFile);
        }
        Path image = src.resolve("tools/mtmd/test-1.jpeg");
        System.out.println(org.neuronscope.model.Backends.systemInfo());
        ProjectorParams pp = ProjectorParams.defaults().withThreads(2).withWarmup(false).withImageTokens(8, 256);
        try (Model model = Model.load(modelFile); Projector projector = Projector.load(model, projFile, pp); Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = NativeHandle.of(projector).get();
            MemorySegment chunk = imageChunk(ctx, image, arena);
            System.out.println("image: " + neuronscope_h.mtmd_input_chunk_get_n_tokens(chunk) + " output tokens");
            Runnable encode = () -> {
                if (neuronscope_h.mtmd_encode_chunk(ctx, chunk) != 0) {
                    throw new IllegalStateException("mtmd_encode_chunk failed");
                }
            };
            Map<String, Consumer<EncoderHooks>> configs = new LinkedHashMap<>();
            configs.put("plain", null);
            configs.put("stats", hooks -> {
                hooks.group(0);
                for (Module m : new Module[] {Module.VISION, Module.PROJECTOR}) {
                    for (Statistic s : new Statistic[] {Statistic.COUNT, Statistic.SUM, Statistic.SUM_SQ}) {
                        hooks.reduce(m, HookPoint.FFN_ACT, s, 0f);
                    }
                }
            });
            configs.put("mask 2%", hooks -> {
                for (int l = 0; l < hooks.layers(Module.VISION); l++) {
                    EncoderMask mask = hooks.mask(Module.VISION, HookPoint.FFN_ACT, l);
                    for (int n = 0; n < mask.width(); n += 50) {
                        mask.deactivate(n);
                    }
                }
            });
            encode.run(); // warm-up: allocates mtmd's compute buffers
            Map<String, double[]> seconds = new LinkedHashMap<>();
            configs.keySet().forEach(k -> seconds.put(k, new double[rounds]));
            for (int r = 0; r < rounds; r++) {
                for (var e : configs.entrySet()) {
                    EncoderHooks hooks = e.getValue() == null ? null : projector.openHooks(2);
                    try {
                        if (hooks != null) {
                            e.getValue().accept(hooks);
                            encode.run(); // the first encode with new hooks re-reserves the compute buffers
                        }
                        long t0 = System.nanoTime();
                        encode.run();
                        encode.run();
                        seconds.get(e.getKey())[r] = (System.nanoTime() - t0) / 2e9;
                    } finally {
                        if (hooks != null) {
                            hooks.close();
                        }
                    }
                }
            }
            double base = median(seconds.get("plain"));
            System.out.printf("%-10s %10s %9s   per round%n", "config", "median s", "vs plain");
            for (var e : seconds.entrySet()) {
                double med = median(e.getValue());
                System.out.printf("%-10s %10.4f %+8.1f%%   %s%n", e.getKey(), med, 100 * (med / base - 1), Arrays.toString(round(e.getValue())));
            }
            neuronscope_h.mtmd_input_chunks_free(chunksOwner);
        }
    }

    private static MemorySegment chunksOwner;

    /** The image chunk of test-1.jpeg, preprocessed once (mtmd_tokenize with only the marker). */
    private static MemorySegment imageChunk(MemorySegment ctx, Path image, Arena arena) {
        MemorySegment bitmaps = arena.allocate(ValueLayout.ADDRESS, 1);
        MemorySegment w = neuronscope_h.mtmd_helper_bitmap_init_from_file(arena, ctx, arena.allocateFrom(image.toString()), false,
                neuronscope_h.mtmd_helper_init_opt_default(arena));
        MemorySegment b = mtmd_helper_bitmap_wrapper.bitmap(w);
        bitmaps.setAtIndex(ValueLayout.ADDRESS, 0, b);
        MemorySegment in = mtmd_input_text.allocate(arena);
        byte[] utf8 = Projector.marker().getBytes(StandardCharsets.UTF_8);
        mtmd_input_text.text(in, arena.allocateFrom(ValueLayout.JAVA_BYTE, utf8));
        mtmd_input_text.text_len(in, utf8.length);
        mtmd_input_text.add_special(in, false);
        mtmd_input_text.parse_special(in, true);
        MemorySegment chunks = neuronscope_h.mtmd_input_chunks_init();
        if (neuronscope_h.mtmd_tokenize(ctx, chunks, in, bitmaps, 1) != 0) {
            throw new IllegalStateException("mtmd_tokenize failed");
        }
        neuronscope_h.mtmd_bitmap_free(b);
        chunksOwner = chunks;
        for (long i = 0; i < neuronscope_h.mtmd_input_chunks_size(chunks); i++) {
            MemorySegment c = neuronscope_h.mtmd_input_chunks_get(chunks, i);
            if (neuronscope_h.mtmd_input_chunk_get_type(c) == neuronscope_h.MTMD_INPUT_CHUNK_TYPE_IMAGE()) {
                return c;
            }
        }
        throw new IllegalStateException("no image chunk");
    }

    private static double[] round(double[] v) {
        return Arrays.stream(v).map(x -> Math.round(x * 10000) / 10000.0).toArray();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
