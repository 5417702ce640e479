package org.neuronscope.benchmarks;

import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.Lens;
import org.neuronscope.hooks.LensSpec;
import org.neuronscope.model.Backends;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Cost of the logit lens on the Qwen2-0.5B-shaped synthetic F16 model (24 layers, vocabulary 151936),
 * one 512-token batch, 2 threads, in one process, configurations interleaved round by round:
 * <ul>
 *   <li>{@code plain}: llama.cpp's decode, logits for the last token;
 *   <li>{@code lens-last}: the same with the lens of the last token at every layer (top-10, entropy);
 *   <li>{@code plain-all}: llama.cpp's decode with logits for every token;
 *   <li>{@code lens-all}: the lens of every token at every layer (logits for the last token).
 * </ul>
 * Medians; lens-last is reported against plain, lens-all against plain-all.
 *
 * <p>Arguments: [rounds of plain/lens-last (default 5)] [rounds of plain-all/lens-all (default 2; 0 skips them)]. Run with
 * {@code mvn -B -q -DskipTests -Prun verify -pl benchmarks -am -Drun.main=org.neuronscope.benchmarks.LensOverheadBenchmark}.
 */
public final class LensOverheadBenchmark {
    private static final int TOKENS = 512;

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int allRounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        Path vocab = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
        Path dir = Files.createDirectories(Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "bench-models"));
        Path model = dir.resolve("qwen2-0.5b-shape-f16-tied-seed42.gguf");
        if (!Files.exists(model)) {
            System.out.println("writing " + model + " ...");
            SyntheticModels.write(ModelSpec.qwen2_0_5b(vocab), model);
        }
        System.out.println(Backends.systemInfo());
        SessionParams params = SessionParams.defaults().withContextSize(TOKENS).withBatchSize(TOKENS).withThreads(2);
        try (Model m = Model.load(model); Session session = m.newSession(params);
             Batch last = Batch.ofTokens(TOKENS); Batch all = Batch.ofTokens(TOKENS)) {
            SplittableRandom rng = new SplittableRandom(1);
            for (int i = 0; i < TOKENS; i++) {
                int t = 1000 + rng.nextInt(100_000);
                last.add(t, i, 0, i == TOKENS - 1);
                all.add(t, i, 0, true);
            }
            AtomicLong rows = new AtomicLong();
            HookScope[] scope = {session.hooks().openScope()};
            Runnable fresh = () -> {
                scope[0].close();
                scope[0] = session.hooks().openScope();
            };
            record Config(Runnable setup, Batch batch, int rounds) {
            }
            Map<String, Config> configs = new LinkedHashMap<>();
            configs.put("plain", new Config(fresh, last, rounds));
            configs.put("lens-last", new Config(() -> {
                fresh.run();
                Lens lens = scope[0].lens(LensSpec.DEFAULT);
                lens.onRows(r -> rows.incrementAndGet());
                lens.select(TOKENS - 1);
            }, last, rounds));
            if (allRounds > 0) {
                configs.put("plain-all", new Config(fresh, all, allRounds));
                configs.put("lens-all", new Config(() -> {
                    fresh.run();
                    scope[0].lens(LensSpec.DEFAULT).onRows(r -> rows.incrementAndGet());
                }, last, allRounds));
            }
            Map<String, double[]> seconds = new LinkedHashMap<>();
            configs.forEach((k, c) -> seconds.put(k, new double[c.rounds()]));
            int maxRounds = Math.max(rounds, allRounds);
            for (int r = 0; r < maxRounds; r++) {
                for (var e : configs.entrySet()) {
                    Config c = e.getValue();
                    if (r >= c.rounds()) {
                        continue;
                    }
                    c.setup().run();
                    session.clearMemory();
                    session.decode(c.batch()); // builds the graph: not timed
                    session.clearMemory();
                    long t0 = System.nanoTime();
                    session.decode(c.batch());
                    seconds.get(e.getKey())[r] = (System.nanoTime() - t0) / 1e9;
                }
            }
            scope[0].close();
            System.out.printf("%-10s %10s %10s %12s%n", "config", "median s", "tok/s", "ratio");
            for (var e : seconds.entrySet()) {
                double med = median(e.getValue());
                String ref = e.getKey().equals("lens-last") ? "plain" : e.getKey().equals("lens-all") ? "plain-all" : null;
                String ratio = ref == null ? "" : String.format("%.3f x %s (%+.1f%%)", med / median(seconds.get(ref)), ref,
                        (med / median(seconds.get(ref)) - 1) * 100);
                System.out.printf("%-10s %10.3f %10.1f   %s   %s%n", e.getKey(), med, TOKENS / med, ratio,
                        Arrays.toString(Arrays.stream(e.getValue()).map(x -> Math.round(x * 1000) / 1000.0).toArray()));
            }
            System.out.println("lens rows delivered: " + rows.get());
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
