package org.neuronscope.benchmarks;

import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.LayerMask;
import org.neuronscope.stats.Statistic;

import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;
import org.neuronscope.HookPoint;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.model.Backends;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * End-to-end cost of the hooks on the Qwen2-0.5B-shaped synthetic F16 model: the same 512-token
 * batch decoded (2 threads) plain, with in-graph statistics on ffn.act for all layers and 4 groups
 * (count, sum, sum of squares), and with a deactivation mask (2 % of neurons of every layer).
 * Configurations are interleaved round by round so that machine noise hits them alike; the median
 * per configuration and the ratios to plain are printed.
 *
 * <p>Arguments: [rounds (default 5)] [outputs: last|all (default last)]; {@code -Dhooks.configs=count-only,mask}
 * runs only those besides plain. With {@code all}, every configuration computes every token in every
 * layer and the head, so the ratio shows what the hooks' operations cost, without the last layer that
 * statistics must compute for all tokens (llama.cpp computes only the outputs' rows there). Run with
 * {@code mvn -B -q -DskipTests -Prun verify -pl benchmarks -am -Drun.main=org.neuronscope.benchmarks.HookOverheadBenchmark}.
 */
public final class HookOverheadBenchmark {
    private static final int TOKENS = 512;
    private static final int GROUPS = 4;

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        boolean allOutputs = args.length > 1 && args[1].equals("all");
        Path vocab = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
        Path dir = Files.createDirectories(Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "bench-models"));
        Path model = dir.resolve("qwen2-0.5b-shape-f16-seed42.gguf");
        if (!Files.exists(model)) {
            System.out.println("writing " + model + " ...");
            SyntheticModels.write(ModelSpec.qwen2_0_5b(vocab), model);
        }
        System.out.println(Backends.systemInfo());
        SessionParams params = SessionParams.defaults().withContextSize(TOKENS).withBatchSize(TOKENS).withThreads(2);
        try (Model m = Model.load(model); Session session = m.newSession(params); Batch batch = Batch.ofTokens(TOKENS)) {
            SplittableRandom rng = new SplittableRandom(1);
            int[] group = new int[TOKENS];
            for (int i = 0; i < TOKENS; i++) {
                batch.add(1000 + rng.nextInt(100_000), i, 0, allOutputs || i == TOKENS - 1);
                group[i] = i * GROUPS / TOKENS;
            }
            // each configuration in a fresh scope; closing the previous one takes its hooks away
            HookScope[] scope = {session.hooks().openScope()};
            Runnable fresh = () -> {
                scope[0].close();
                scope[0] = session.hooks().openScope();
            };
            Map<String, Runnable> setups = new LinkedHashMap<>();
            setups.put("plain", fresh);
            setups.put("stats", () -> {
                fresh.run();
                HookScope hooks = scope[0];
                hooks.tokenWeights(GROUPS).setGroups(group);
                hooks.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);
                hooks.reduce(HookPoint.FFN_ACT, Statistic.SUM, 0f);
                hooks.reduce(HookPoint.FFN_ACT, Statistic.SUM_SQ, 0f);
            });
            setups.put("count-only", () -> {
                fresh.run();
                HookScope hooks = scope[0];
                hooks.tokenWeights(GROUPS).setGroups(group);
                hooks.reduce(HookPoint.FFN_ACT, Statistic.COUNT, 0f);
            });
            setups.put("mask", () -> {
                fresh.run();
                HookScope hooks = scope[0];
                SplittableRandom r = new SplittableRandom(2);
                for (int l = 0; l < m.layerCount(); l++) {
                    LayerMask iv = hooks.mask(HookPoint.FFN_ACT, l);
                    for (int k = 0; k < iv.width() / 50; k++) {
                        iv.deactivate(r.nextInt(iv.width()));
                    }
                }
            });
            String only = System.getProperty("hooks.configs");
            if (only != null) { // e.g. -Dhooks.configs=plain,count-only (plain is always kept: the ratios need it)
                List<String> keep = List.of(("plain," + only).split(","));
                if (!setups.keySet().containsAll(keep)) {
                    throw new IllegalArgumentException("-Dhooks.configs: choose among " + setups.keySet() + ", not " + only);
                }
                setups.keySet().retainAll(keep);
            }
            Map<String, double[]> seconds = new LinkedHashMap<>();
            setups.keySet().forEach(k -> seconds.put(k, new double[rounds]));
            for (String name : setups.keySet()) { // warm-up: builds each graph once
                setups.get(name).run();
                session.clearMemory();
                session.decode(batch);
            }
            for (int r = 0; r < rounds; r++) {
                for (var e : setups.entrySet()) {
                    e.getValue().run();
                    session.clearMemory();
                    session.decode(batch); // first decode of a configuration builds its graph: not timed
                    session.clearMemory();
                    long t0 = System.nanoTime();
                    session.decode(batch);
                    seconds.get(e.getKey())[r] = (System.nanoTime() - t0) / 1e9;
                }
            }
            double plain = median(seconds.get("plain"));
            // "paired": the median over rounds of (config / plain of the same round), which machine noise
            // that drifts between rounds moves less than the ratio of the two medians
            System.out.printf("%-11s %10s %10s %9s %9s%n", "config", "median s", "tok/s", "vs plain", "paired");
            double[] p = seconds.get("plain");
            for (var e : seconds.entrySet()) {
                double med = median(e.getValue());
                double[] v = e.getValue();
                double paired = median(java.util.stream.IntStream.range(0, rounds).mapToDouble(r -> v[r] / p[r]).toArray());
                System.out.printf("%-11s %10.3f %10.1f %+8.2f%% %+8.2f%%   %s%n", e.getKey(), med, TOKENS / med, (med / plain - 1) * 100,
                        (paired - 1) * 100, Arrays.toString(Arrays.stream(v).map(x -> Math.round(x * 1000) / 1000.0).toArray()));
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
