package org.neuronscope.benchmarks;

import org.neuronscope.internal.NativeHandle;

import org.neuronscope.bindings.mtmd_helper_bitmap_wrapper;
import org.neuronscope.bindings.mtmd_input_text;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.gguf.GgmlType;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.testkit.SyntheticProjectors;
import org.neuronscope.HookPoint;
import org.neuronscope.media.DecodeStep;
import org.neuronscope.media.Media;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.MultimodalPrompts;
import org.neuronscope.media.Projector;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.Statistic;
import org.neuronscope.collect.StatisticsCollector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cost of driving multimodal prompts from Java: one prompt with two images (test-1.jpeg at up to
 * 256 tokens each) on a mid-sized synthetic Qwen2-VL pair (text model 8 × 512, F16; vision encoder
 * 4 × 256), decoded (a) by mtmd's own helper {@code mtmd_helper_eval_chunks}, (b) by
 * {@link Prompt#decode} chunk by chunk with the modality labels, (c) as (b) while collecting
 * per-modality statistics (count, sum on ffn.act). Each run includes encoding the images. Rounds
 * interleave the configurations; medians are printed.
 *
 * <p>Arguments: [rounds (default 5)]. Run with {@code mvn -B -q -DskipTests -Prun verify -pl benchmarks -am
 * -Drun.main=org.neuronscope.benchmarks.MultimodalBenchmark}.
 */
public final class MultimodalBenchmark {
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Path src = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"));
        Path dir = Files.createDirectories(Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "bench-models"));
        Path modelFile = dir.resolve("qwen2vl-8x512-f16-media.gguf");
        Path projFile = dir.resolve("mmproj-qwen2vl-4x256-for-512.gguf");
        if (!Files.exists(modelFile)) {
            SyntheticModels.write(ModelSpec.builder("qwen2vl", src.resolve("models/ggml-vocab-qwen2.gguf")).layers(8).embedding(512)
                    .feedForward(1536).heads(8).kvHeads(2).contextLength(4096).weightType(GgmlType.F16).build(), modelFile);
        }
        if (!Files.exists(projFile)) {
            SyntheticProjectors.write(new SyntheticProjectors.Spec("qwen2vl_merger", 256, 4, 4, 1024, 512, 14, 0, 1, 1f, null, null), projFile);
        }
        Path image = src.resolve("tools/mtmd/test-1.jpeg");
        System.out.println(org.neuronscope.model.Backends.systemInfo());
        ProjectorParams pp = ProjectorParams.defaults().withThreads(2).withWarmup(false).withImageTokens(8, 256);
        SessionParams sp = SessionParams.defaults().withContextSize(2048).withBatchSize(512).withThreads(2);
        String text = "<|im_start|>user\n" + Projector.marker() + Projector.marker() + "Describe both.<|im_end|>\n<|im_start|>assistant\n";
        try (Model model = Model.load(modelFile); Projector projector = Projector.load(model, projFile, pp);
             Session session = model.newSession(sp);
             Prompt prompt = new MultimodalPrompts(projector, PromptFormat.chat()).prepare(text, List.of(Media.image(image), Media.image(image)), false);
             Arena arena = Arena.ofConfined()) {
            System.out.println("prompt: " + prompt.length() + " entries, " + Arrays.stream(prompt.modalities()).filter(m -> m.isMedia()).count() + " image");
            MemorySegment chunks = mtmdChunks(projector, text, image, arena);
            int[] groups = new ModalityGrouping().groups(null, prompt);
            MemorySegment newPast = arena.allocate(ValueLayout.JAVA_INT);
            Map<String, Runnable> runs = new LinkedHashMap<>();
            runs.put("mtmd helper", () -> {
                session.clearMemory();
                int rc = neuronscope_h.mtmd_helper_eval_chunks(NativeHandle.of(projector).get(), NativeHandle.of(session).get(), chunks, 0, 0,
                        session.batchSize(), true, newPast);
                if (rc != 0) {
                    throw new IllegalStateException("mtmd_helper_eval_chunks: " + rc);
                }
            });
            runs.put("Prompt.decode", () -> {
                session.clearMemory();
                prompt.decode(session, 0, 0, groups, DecodeStep.plain(session));
            });
            runs.put("+ statistics", () -> {
                try (StatisticsCollector c = StatisticsCollector.start(session, HookPoint.FFN_ACT, new ModalityGrouping().groupNames(),
                        EnumSet.of(Statistic.COUNT, Statistic.SUM), 0f, 0f)) {
                    c.add(prompt, groups);
                }
            });
            Map<String, double[]> seconds = new LinkedHashMap<>();
            runs.keySet().forEach(k -> seconds.put(k, new double[rounds]));
            runs.values().forEach(Runnable::run); // warm-up
            for (int r = 0; r < rounds; r++) {
                for (var e : runs.entrySet()) {
                    long t0 = System.nanoTime();
                    e.getValue().run();
                    seconds.get(e.getKey())[r] = (System.nanoTime() - t0) / 1e9;
                }
            }
            double base = median(seconds.get("mtmd helper"));
            System.out.printf("%-14s %9s %9s%n", "config", "median s", "vs mtmd");
            for (var e : seconds.entrySet()) {
                double med = median(e.getValue());
                System.out.printf("%-14s %9.3f %+8.2f%%   %s%n", e.getKey(), med, (med / base - 1) * 100,
                        Arrays.toString(Arrays.stream(e.getValue()).map(x -> Math.round(x * 1000) / 1000.0).toArray()));
            }
            neuronscope_h.mtmd_input_chunks_free(chunks);
        }
    }

    /** The same prompt tokenized by mtmd's marker API, for its helper. */
    private static MemorySegment mtmdChunks(Projector projector, String text, Path image, Arena arena) {
        MemorySegment ctx = NativeHandle.of(projector).get(); // the reference: mtmd called directly
        MemorySegment bitmaps = arena.allocate(ValueLayout.ADDRESS, 2);
        MemorySegment w = neuronscope_h.mtmd_helper_bitmap_init_from_file(arena, ctx, arena.allocateFrom(image.toString()), false,
                neuronscope_h.mtmd_helper_init_opt_default(arena));
        MemorySegment b = mtmd_helper_bitmap_wrapper.bitmap(w);
        bitmaps.setAtIndex(ValueLayout.ADDRESS, 0, b);
        bitmaps.setAtIndex(ValueLayout.ADDRESS, 1, b);
        MemorySegment in = mtmd_input_text.allocate(arena);
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        mtmd_input_text.text(in, arena.allocateFrom(ValueLayout.JAVA_BYTE, utf8));
        mtmd_input_text.text_len(in, utf8.length);
        mtmd_input_text.add_special(in, false);
        mtmd_input_text.parse_special(in, true);
        MemorySegment chunks = neuronscope_h.mtmd_input_chunks_init();
        if (neuronscope_h.mtmd_tokenize(ctx, chunks, in, bitmaps, 2) != 0) {
            throw new IllegalStateException("mtmd_tokenize failed");
        }
        neuronscope_h.mtmd_bitmap_free(b);
        return chunks;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
