package org.neuronscope.benchmarks;

import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.Workbench;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.SessionParams;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Peak resident memory of {@code ablate} and of MINER's collection against the number of samples
 * (issue 19): each (workload, sample count) runs in a fresh JVM, which prints its peak RSS
 * ({@code VmHWM}) at the end. The model is tiny (3 layers, 64 wide) but has the Qwen2 vocabulary
 * (151,936 logits, ~600 KB a sample), so whatever is kept per sample shows: in the peak RSS, and
 * more sharply in the peak live heap (the largest heap occupancy right after a collection, with
 * the same 2 GiB limit for every count). {@code -Dmemory.workloads=ablate} runs one workload.
 *
 * <p>Arguments: [sample counts, comma-separated (default 100,500,2000)]. Run with
 * {@code mvn -B -q -DskipTests -Prun verify -pl benchmarks -am -Drun.main=org.neuronscope.benchmarks.MemoryBenchmark}.
 */
public final class MemoryBenchmark {
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("child")) {
            child(args[1], Integer.parseInt(args[2]), Path.of(args[3]));
            return;
        }
        String[] counts = (args.length > 0 ? args[0] : "100,500,2000").split(",");
        Path vocab = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
        Path dir = Files.createDirectories(Path.of("target", "memory-benchmark")).toAbsolutePath();
        Path model = dir.resolve("tiny-qwen2.gguf");
        if (!Files.exists(model)) {
            SyntheticModels.write(ModelSpec.tiny("qwen2", vocab), model);
        }
        System.out.println("load average at start: " + Files.readString(Path.of("/proc/loadavg")).trim());
        System.out.printf("%-8s %8s %14s %20s %10s%n", "workload", "samples", "peak RSS MiB", "peak live heap MiB", "seconds");
        List<String> workloads = System.getProperty("memory.workloads") != null ? List.of(System.getProperty("memory.workloads").split(","))
                : List.of("ablate", "miner");
        for (String workload : workloads) {
            for (String c : counts) {
                List<String> cmd = new ArrayList<>();
                cmd.add(ProcessHandle.current().info().command().orElse("java"));
                cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream().filter(a -> !a.startsWith("-Xmx")).toList());
                cmd.add("-Xmx2g"); // the same heap limit for every count: what is kept shows in the live heap
                cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), MemoryBenchmark.class.getName(), "child", workload, c.trim(),
                        model.toString()));
                long t0 = System.nanoTime();
                Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
                String out = new String(p.getInputStream().readAllBytes()).trim();
                if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
                    throw new IllegalStateException(workload + " with " + c + " samples failed: " + out);
                }
                String[] peak = out.lines().filter(l -> l.startsWith("peak-kib ")).findFirst()
                        .orElseThrow(() -> new IllegalStateException("no peak figures in " + out)).split(" ");
                System.out.printf("%-8s %8s %14.1f %20.1f %10.1f%n", workload, c.trim(), Long.parseLong(peak[1]) / 1024.0,
                        Long.parseLong(peak[2]) / 1024.0, (System.nanoTime() - t0) / 1e9);
            }
        }
        System.out.println("load average at end: " + Files.readString(Path.of("/proc/loadavg")).trim());
    }

    /** The largest heap occupancy right after a collection seen so far: what the program keeps alive. */
    private static final java.util.concurrent.atomic.AtomicLong PEAK_LIVE = new java.util.concurrent.atomic.AtomicLong();

    private static void watchCollections() {
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((javax.management.NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
                if (notification.getType().equals(com.sun.management.GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                    var info = com.sun.management.GarbageCollectionNotificationInfo.from((javax.management.openmbean.CompositeData) notification.getUserData());
                    long used = info.getGcInfo().getMemoryUsageAfterGc().values().stream().mapToLong(java.lang.management.MemoryUsage::getUsed).sum();
                    PEAK_LIVE.accumulateAndGet(used, Math::max);
                }
            }, null, null);
        }
    }

    private static void child(String workload, int n, Path model) throws Exception {
        watchCollections();
        SplittableRandom rng = new SplittableRandom(7);
        String[] words = {"alpha", "beta", "gamma", "delta", "river", "stone", "light", "north", "small", "green"};
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            for (int w = 0; w < 6; w++) {
                b.append(words[rng.nextInt(words.length)]).append(' ');
            }
            samples.add(Sample.text("s" + i, b.toString().strip(), List.of()));
        }
        Dataset data = Dataset.of("memory-" + n, samples);
        Workbench.Setup setup = new Workbench.Setup(model, ModelParams.defaults(), null,
                SessionParams.defaults().withContextSize(256).withBatchSize(256).withThreads(1), ProjectorParams.defaults(), PromptFormat.raw());
        try (Workbench wb = Workbench.open(setup)) {
            switch (workload) {
                case "ablate" -> {
                    int layers = wb.model().layerCount();
                    int width = wb.hooks().width(HookPoint.FFN_ACT, 0);
                    NeuronSet set = new NeuronSet("memory", HookPoint.FFN_ACT, layers, width, Map.of());
                    for (int l = 0; l < layers; l++) {
                        set.add("text", l, l, 1.0);
                    }
                    AblationExperiment.run(wb, data, List.of(new AblationExperiment.Condition("set", set, List.of(), Intervention.deactivate())),
                            s -> "text", 0, Progress.Listener.NONE);
                }
                case "miner" -> MinerExperiment.collect(wb, data, List.of("text"), false, Progress.Listener.NONE);
                default -> throw new IllegalArgumentException("workload ablate or miner, not " + workload);
            }
        }
        String status = Files.readString(Path.of("/proc/self/status"));
        String hwm = status.lines().filter(l -> l.startsWith("VmHWM:")).findFirst().orElseThrow().replaceAll("[^0-9]", "");
        System.out.println("peak-kib " + hwm + " " + PEAK_LIVE.get() / 1024);
    }
}
