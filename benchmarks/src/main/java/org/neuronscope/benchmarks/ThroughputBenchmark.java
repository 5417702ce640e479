package org.neuronscope.benchmarks;

import org.neuronscope.cli.NeuronScopeCli;
import org.neuronscope.HookPoint;
import org.neuronscope.collect.StatisticsCollector;
import org.neuronscope.model.Backends;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.ModelSpec;
import org.neuronscope.testkit.SyntheticModels;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The pipeline a user runs against llama.cpp's own tools, on the same synthetic model, the same text
 * (the same tokens) and the same threads (issue 19). Every round runs each measurement once, in an
 * order rotated from round to round, so that machine noise hits them alike; the result is the median
 * of each measurement and the median of the paired (same-round) ratios.
 *
 * <p>Measurements: {@code llama-bench -p 512 -n 0} (prompt processing tokens/s, flash attention off
 * and on); {@code llama-imatrix} and (with {@code --perplexity}) {@code llama-perplexity} over the
 * text in 512-token chunks, whole processes; {@code neuronscope stats} (count, Σx, Σx² on ffn.act, 2
 * groups) as a whole process (JVM start and model load included) and in process (the same command
 * through {@link NeuronScopeCli#run}); the library's plain decode of one 512-token batch in process
 * (flash attention off and on), and the statistics run's decode of the same batch ({@code stats-decode}: the hooks' cost alone).
 * Opt-in ({@code --only}): {@code bench-tg} ({@code llama-bench -p 0 -n 64}, token generation) and {@code generate}
 * (the library's 64 one-token decodes, with and without the session's CPU thread pool).
 * tokens/s of a whole process = the tokens it processes / its wall time.
 *
 * <p>Arguments (all optional): {@code --tools DIR} (the directory holding llama-bench etc.; see
 * {@code benchmarks/scripts/build-tools.sh}), {@code --shape qwen2-0.5b|small} (small: 4 layers,
 * 512 wide, for quick checks), {@code --rounds N} (3), {@code --threads N} (2), {@code --samples N}
 * (8), {@code --tokens N} (512 per sample), {@code --work DIR} (benchmarks/target/throughput),
 * {@code --perplexity}, {@code --stats-args "--flash-attn off ..."} (appended to the stats command), {@code --only stats,imatrix,bench,plain,stats-process,stats-decode} (a subset).
 */
public final class ThroughputBenchmark {
    private static final int CHUNK = 512;

    private record Options(Path tools, String shape, int rounds, int threads, int samples, int tokens, Path work, boolean perplexity,
                           List<String> only, List<String> statsExtra) {
        boolean wants(String name) {
            return only.contains(name);
        }
    }

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        Files.createDirectories(o.work());
        System.out.println("load average at start: " + loadAverage());
        System.out.println(Backends.systemInfo());
        Path vocab = Path.of(System.getProperty("neuronscope.llama.src", "native/target/llama.cpp"), "models", "ggml-vocab-qwen2.gguf");
        ModelSpec spec = switch (o.shape()) {
            case "qwen2-0.5b" -> ModelSpec.qwen2_0_5b(vocab);
            case "small" -> ModelSpec.qwen2_0_5b(vocab).withLayers(4).withWidths(512, 2048, 8, 2);
            default -> throw new IllegalArgumentException("--shape must be qwen2-0.5b or small, not " + o.shape());
        };
        Path model = o.work().resolve("model-" + o.shape() + "-f16.gguf");
        if (!Files.exists(model)) {
            System.out.println("writing " + model + " ...");
            SyntheticModels.write(spec, model);
        }
        Path dataset = o.work().resolve("samples.jsonl");
        Path text = o.work().resolve("samples.txt");
        int libraryTokens;
        try (Model m = Model.load(model)) {
            libraryTokens = writeText(m, o.samples(), o.tokens(), dataset, text);
        }
        int toolTokens = o.samples() * CHUNK; // the tools take the text in --chunks 512-token chunks
        System.out.printf("model %s (%s), %d samples, %d tokens for the library, %d for the tools (%d chunks of %d), %d threads%n",
                model.getFileName(), o.shape(), o.samples(), libraryTokens, toolTokens, o.samples(), CHUNK, o.threads());

        Map<String, Measurement> runs = new LinkedHashMap<>();
        String t = Integer.toString(o.threads());
        if (o.wants("bench")) {
            runs.put("bench", () -> benchTokensPerSecond(o, model));
        }
        if (o.wants("imatrix")) {
            runs.put("imatrix", () -> toolsPerSecond(o, toolTokens, "llama-imatrix", "-m", model.toString(), "-f", text.toString(),
                    "-c", "512", "-b", "512", "-t", t, "--chunks", Integer.toString(o.samples()), "-o",
                    o.work().resolve("imatrix.gguf").toString()));
        }
        if (o.perplexity()) {
            runs.put("perplexity", () -> toolsPerSecond(o, toolTokens, "llama-perplexity", "-m", model.toString(), "-f", text.toString(),
                    "-c", "512", "-b", "512", "-t", t, "--chunks", Integer.toString(o.samples())));
        }
        List<String> statsArgs = new ArrayList<>(List.of("stats", "--model", model.toString(), "--dataset", dataset.toString(), "--threads", t,
                "--chat-template", "raw", "--group-by", "label:language", "--statistics", "count,sum,sum_sq", "--batch", "512"));
        statsArgs.addAll(o.statsExtra());
        System.out.println("stats: neuronscope " + String.join(" ", statsArgs));
        if (o.wants("stats-process")) {
            runs.put("stats-process", () -> statsProcess(o, libraryTokens, statsArgs));
        }
        if (o.wants("stats")) {
            runs.put("stats", () -> statsInProcess(o, libraryTokens, statsArgs));
        }
        if (o.wants("bench-tg")) {
            runs.put("bench-tg", () -> benchGeneration(o, model));
        }
        Model generateModel = o.wants("generate") ? Model.load(model) : null;
        if (generateModel != null) {
            runs.put("generate", () -> generation(generateModel, o.threads()));
        }
        Model plainModel = o.wants("plain") ? Model.load(model) : null;
        if (plainModel != null) {
            runs.put("plain", () -> plainDecode(plainModel, o.threads(), false));
        }
        Model decodeModel = o.wants("stats-decode") ? (plainModel != null ? plainModel : Model.load(model)) : null;
        if (decodeModel != null) {
            runs.put("stats-decode", () -> plainDecode(decodeModel, o.threads(), true));
        }
        try {
            Map<String, List<Map<String, Double>>> results = new LinkedHashMap<>();
            runs.keySet().forEach(k -> results.put(k, new ArrayList<>()));
            List<String> order = new ArrayList<>(runs.keySet());
            for (int r = 0; r < o.rounds(); r++) {
                String load = loadAverage();
                for (String name : order) {
                    Map<String, Double> v = runs.get(name).run();
                    results.get(name).add(v);
                    System.out.printf("round %d %-14s %s   (load %s)%n", r + 1, name, v, load);
                }
                order.add(order.removeFirst()); // rotate: each measurement takes each place in turn
            }
            report(results, o.rounds());
        } finally {
            if (plainModel != null) {
                plainModel.close();
            }
            if (decodeModel != null && decodeModel != plainModel) {
                decodeModel.close();
            }
            if (generateModel != null) {
                generateModel.close();
            }
        }
        System.out.println("load average at end: " + loadAverage());
    }

    @FunctionalInterface
    private interface Measurement {
        Map<String, Double> run() throws Exception;
    }

    private static void report(Map<String, List<Map<String, Double>>> results, int rounds) {
        System.out.println();
        System.out.println("medians over " + rounds + " rounds (tokens/s):");
        for (var e : results.entrySet()) {
            if (e.getValue().isEmpty()) {
                continue;
            }
            for (String key : e.getValue().getFirst().keySet()) {
                System.out.printf("  %-14s %-22s %10.1f%n", e.getKey(), key, median(e.getValue().stream().mapToDouble(m -> m.get(key)).toArray()));
            }
        }
        System.out.println("medians of paired ratios (same round):");
        ratio(results, "stats-process", "tok/s", "bench", "pp512 fa=off", "stats whole process / llama-bench pp (fa off)  target >= 0.95");
        ratio(results, "stats-process", "tok/s", "bench", "pp512 fa=on", "stats whole process / llama-bench pp (fa on)   target >= 0.95");
        ratio(results, "stats", "tok/s", "bench", "pp512 fa=off", "stats in process / llama-bench pp (fa off)");
        ratio(results, "stats", "tok/s", "bench", "pp512 fa=on", "stats in process / llama-bench pp (fa on)");
        ratio(results, "stats-process", "tok/s", "imatrix", "tok/s", "stats whole process / llama-imatrix            target >= 1.3");
        ratio(results, "stats", "tok/s", "imatrix", "tok/s", "stats in process / llama-imatrix");
        ratio(results, "stats-process", "tok/s", "perplexity", "tok/s", "stats whole process / llama-perplexity");
        ratio(results, "generate", "pool tok/s", "bench-tg", "tg64", "generation, thread pool / llama-bench tg");
        ratio(results, "generate", "no pool tok/s", "bench-tg", "tg64", "generation, no thread pool / llama-bench tg");
        ratio(results, "generate", "pool tok/s", "generate", "no pool tok/s", "generation, thread pool / no thread pool");
        ratio(results, "plain", "fa=off tok/s", "bench", "pp512 fa=off", "plain decode / llama-bench pp (fa off)          target >= 0.98");
        ratio(results, "plain", "fa=on tok/s", "bench", "pp512 fa=on", "plain decode / llama-bench pp (fa on)           target >= 0.98");
        ratio(results, "stats-decode", "fa=off tok/s", "plain", "fa=off tok/s", "statistics decode / plain decode (fa off)");
        ratio(results, "stats-decode", "fa=on tok/s", "plain", "fa=on tok/s", "statistics decode / plain decode (fa on)");
    }

    private static void ratio(Map<String, List<Map<String, Double>>> results, String a, String ka, String b, String kb, String label) {
        List<Map<String, Double>> ra = results.get(a);
        List<Map<String, Double>> rb = results.get(b);
        if (ra == null || rb == null || ra.isEmpty() || rb.isEmpty() || !ra.getFirst().containsKey(ka) || !rb.getFirst().containsKey(kb)) {
            return;
        }
        double[] q = new double[Math.min(ra.size(), rb.size())];
        for (int i = 0; i < q.length; i++) {
            q[i] = ra.get(i).get(ka) / rb.get(i).get(kb);
        }
        System.out.printf("  %-66s %6.3f  %s%n", label, median(q),
                Arrays.toString(Arrays.stream(q).map(x -> Math.round(x * 1000) / 1000.0).toArray()));
    }

    // ------------------------------------------------------------------ the measurements

    private static Map<String, Double> benchTokensPerSecond(Options o, Path model) throws IOException, InterruptedException {
        String json = exec(o, o.work().resolve("bench.log"), tool(o, "llama-bench"), "-m", model.toString(), "-p", "512", "-n", "0",
                "-t", Integer.toString(o.threads()), "-r", "2", "-fa", "off,on", "-o", "json").output();
        Map<String, Double> v = new LinkedHashMap<>();
        // one object per test: "flash_attn": false|true ... "avg_ts": 123.4
        Matcher m = Pattern.compile("\"flash_attn\":\\s*(true|false|\\d)[\\s\\S]*?\"avg_ts\":\\s*([0-9.eE+-]+)").matcher(json);
        while (m.find()) {
            boolean on = m.group(1).equals("true") || m.group(1).equals("1");
            v.put("pp512 fa=" + (on ? "on" : "off"), Double.parseDouble(m.group(2)));
        }
        if (v.size() != 2) {
            throw new IllegalStateException("llama-bench gave no pp512 results for fa 0 and 1: " + json);
        }
        return v;
    }

    /** llama-bench's token generation: 64 one-token steps after an empty prompt (its default flash attention: auto). */
    private static Map<String, Double> benchGeneration(Options o, Path model) throws IOException, InterruptedException {
        String json = exec(o, o.work().resolve("bench-tg.log"), tool(o, "llama-bench"), "-m", model.toString(), "-p", "0", "-n", "64",
                "-t", Integer.toString(o.threads()), "-r", "2", "-o", "json").output();
        Matcher m = Pattern.compile("\"avg_ts\":\\s*([0-9.eE+-]+)").matcher(json);
        if (!m.find()) {
            throw new IllegalStateException("llama-bench gave no tg64 result: " + json);
        }
        return Map.of("tg64", Double.parseDouble(m.group(1)));
    }

    /**
     * The library's generation: 64 one-token decodes after a one-token start, as llama-bench's tg64
     * (no sampling: the next token is fixed), with the session's CPU thread pool (the default) and
     * without one (ggml then starts its threads for every step's graph).
     */
    private static Map<String, Double> generation(Model m, int threads) {
        Map<String, Double> v = new LinkedHashMap<>();
        for (boolean pool : List.of(true, false)) {
            SessionParams p = SessionParams.defaults().withContextSize(CHUNK).withBatchSize(CHUNK).withThreads(threads).withCpuThreadPool(pool);
            try (Session s = m.newSession(p); Batch batch = Batch.ofTokens(1)) {
                double[] secs = new double[2];
                for (int r = -1; r < secs.length; r++) { // r = -1: warm-up, as llama-bench's
                    s.clearMemory();
                    long t0 = 0;
                    for (int i = 0; i <= 64; i++) {
                        if (i == 1) {
                            t0 = System.nanoTime(); // step 0 starts the sequence and builds the graph: 64 timed steps after it
                        }
                        batch.clear();
                        batch.add(1000 + i, i, 0, true);
                        s.decode(batch);
                    }
                    if (r >= 0) {
                        secs[r] = (System.nanoTime() - t0) / 1e9;
                    }
                }
                v.put((pool ? "pool" : "no pool") + " tok/s", 64 / Arrays.stream(secs).average().orElseThrow());
            }
        }
        return v;
    }

    private static Map<String, Double> toolsPerSecond(Options o, int tokens, String tool, String... args) throws IOException, InterruptedException {
        String[] cmd = Stream.concat(Stream.of(tool(o, tool).toString()), Arrays.stream(args)).toArray(String[]::new);
        Exec e = exec(o, o.work().resolve(tool + ".log"), Path.of(cmd[0]), Arrays.copyOfRange(cmd, 1, cmd.length));
        return Map.of("tok/s", tokens / e.seconds(), "wall s", e.seconds());
    }

    private static Map<String, Double> statsProcess(Options o, int tokens, List<String> statsArgs) throws IOException, InterruptedException {
        Path out = o.work().resolve("stats-process");
        deleteTree(out);
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream().filter(a -> !a.startsWith("-agentlib")
                && !a.startsWith("-XX:StartFlightRecording")).toList());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), NeuronScopeCli.class.getName()));
        cmd.addAll(statsArgs);
        cmd.addAll(List.of("--out", out.toString()));
        Exec e = exec(o, o.work().resolve("stats-process.log"), Path.of(cmd.getFirst()), cmd.subList(1, cmd.size()).toArray(String[]::new));
        return Map.of("tok/s", tokens / e.seconds(), "wall s", e.seconds());
    }

    private static Map<String, Double> statsInProcess(Options o, int tokens, List<String> statsArgs) throws IOException {
        Path out = o.work().resolve("stats-in-process");
        deleteTree(out);
        List<String> args = new ArrayList<>(statsArgs);
        args.addAll(List.of("--out", out.toString()));
        StringWriter sw = new StringWriter();
        long t0 = System.nanoTime();
        int rc = NeuronScopeCli.run(new PrintWriter(sw, true), new PrintWriter(sw, true), args.toArray(String[]::new));
        double s = (System.nanoTime() - t0) / 1e9;
        if (rc != 0) {
            throw new IllegalStateException("stats exited with " + rc + ": " + sw);
        }
        return Map.of("tok/s", tokens / s, "wall s", s);
    }

    /**
     * One 512-token batch (logits of the last token, as llama-bench's pp), decoded after a warm-up, flash attention off and on;
     * with {@code statistics} the decode is the statistics run's (count, Σx, Σx² of ffn.act for 2 groups), the batch and
     * session as the plain one's: the cost of the hooks alone, without start-up, tokenising or files.
     */
    private static Map<String, Double> plainDecode(Model m, int threads, boolean statistics) {
        Map<String, Double> v = new LinkedHashMap<>();
        for (SessionParams.FlashAttention fa : List.of(SessionParams.FlashAttention.OFF, SessionParams.FlashAttention.ON)) {
            SessionParams p = SessionParams.defaults().withContextSize(CHUNK).withBatchSize(CHUNK).withThreads(threads).withFlashAttention(fa);
            try (Session s = m.newSession(p); Batch batch = Batch.ofTokens(CHUNK)) {
                SplittableRandom rng = new SplittableRandom(1);
                for (int i = 0; i < CHUNK; i++) {
                    batch.add(1000 + rng.nextInt(100_000), i, 0, i == CHUNK - 1);
                }
                int[] groups = new int[CHUNK];
                for (int i = 0; i < CHUNK; i++) {
                    groups[i] = i % 2;
                }
                double[] secs = new double[2];
                if (statistics) {
                    try (StatisticsCollector c = StatisticsCollector.start(s, HookPoint.FFN_ACT, List.of("en", "fr"),
                            EnumSet.of(Statistic.COUNT, Statistic.SUM, Statistic.SUM_SQ), 0f, 0.1f)) {
                        c.add(batch, groups); // warm-up
                        for (int r = 0; r < secs.length; r++) {
                            long t0 = System.nanoTime();
                            c.add(batch, groups); // clears the memory first
                            secs[r] = (System.nanoTime() - t0) / 1e9;
                        }
                    }
                } else {
                    s.decode(batch); // warm-up, as llama-bench's
                    for (int r = 0; r < secs.length; r++) { // llama-bench -r 2: the mean of two
                        s.clearMemory();
                        long t0 = System.nanoTime();
                        s.decode(batch);
                        secs[r] = (System.nanoTime() - t0) / 1e9;
                    }
                }
                v.put("fa=" + (fa == SessionParams.FlashAttention.ON ? "on" : "off") + " tok/s", CHUNK / Arrays.stream(secs).average().orElseThrow());
            }
        }
        return v;
    }

    // ------------------------------------------------------------------ inputs

    /**
     * Writes {@code samples} samples of about {@code tokens} tokens each (random words; two languages
     * alternating as the label) as a JSONL dataset, and their text joined as one file for the tools,
     * long enough for {@code samples} chunks of 512 tokens. Returns the library's token count.
     */
    static int writeText(Model m, int samples, int tokens, Path dataset, Path text) throws IOException {
        String[] syllables = {"ka", "lo", "mi", "ren", "sta", "vu", "der", "quo", "pi", "zen", "the", "and", "ing", "tion", "ber", "la",
            "mon", "ti", "ques", "ar", "un", "sol", "ve", "cor"};
        SplittableRandom rng = new SplittableRandom(19);
        StringBuilder jsonl = new StringBuilder();
        StringBuilder all = new StringBuilder();
        int total = 0;
        for (int s = 0; s < samples; s++) {
            StringBuilder sample = new StringBuilder();
            int target = Math.max(tokens, CHUNK + 8); // every sample also fills one tool chunk
            while (m.tokenizer().tokenize(sample.toString(), false, false).length < target) {
                for (int w = 0; w < 20; w++) {
                    int n = 1 + rng.nextInt(3);
                    for (int k = 0; k < n; k++) {
                        sample.append(syllables[rng.nextInt(syllables.length)]);
                    }
                    sample.append(rng.nextInt(12) == 0 ? ". " : " ");
                }
            }
            // the library's sample: cut to `tokens` tokens
            int[] ids = m.tokenizer().tokenize(sample.toString(), false, false);
            String cut = m.tokenizer().detokenize(Arrays.copyOf(ids, Math.min(ids.length, tokens)), false, false).strip();
            total += m.tokenizer().tokenize(cut, false, false).length;
            jsonl.append("{\"id\": \"s").append(s).append("\", \"language\": \"").append(s % 2 == 0 ? "en" : "fr")
                    .append("\", \"prompt\": \"").append(cut).append("\"}\n");
            all.append(sample).append('\n');
        }
        Files.writeString(dataset, jsonl, StandardCharsets.UTF_8);
        Files.writeString(text, all, StandardCharsets.UTF_8);
        return total;
    }

    // ------------------------------------------------------------------ processes

    private record Exec(String output, double seconds) {
    }

    private static Path tool(Options o, String name) {
        if (o.tools() == null) {
            throw new IllegalArgumentException("--tools <directory with " + name + "> is required (benchmarks/scripts/build-tools.sh builds them)");
        }
        Path p = o.tools().resolve(name);
        if (!Files.isExecutable(p)) {
            throw new IllegalArgumentException(p + " is not an executable; build the tools with benchmarks/scripts/build-tools.sh");
        }
        return p;
    }

    private static Exec exec(Options o, Path log, Path program, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(program.toString());
        cmd.addAll(List.of(args));
        Path stdout = Files.createTempFile(o.work(), "out", ".txt");
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectOutput(stdout.toFile()).redirectError(log.toFile()).start();
            if (!p.waitFor(20, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException(cmd + " did not finish in 20 minutes");
            }
            double s = (System.nanoTime() - t0) / 1e9;
            String out = Files.readString(stdout);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " exited with " + p.exitValue() + "; stderr in " + log + "\n" + out);
            }
            return new Exec(out, s);
        } finally {
            Files.deleteIfExists(stdout);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Options parse(String[] args) {
        Path tools = null;
        String shape = "qwen2-0.5b";
        int rounds = 3;
        int threads = 2;
        int samples = 8;
        int tokens = 512;
        Path work = Path.of("target", "throughput");
        boolean perplexity = false;
        List<String> only = List.of("bench", "imatrix", "stats-process", "stats", "plain", "stats-decode");
        List<String> statsExtra = List.of();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--perplexity")) {
                perplexity = true;
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(a + " needs a value");
            }
            String v = args[++i];
            switch (a) {
                case "--tools" -> tools = Path.of(v);
                case "--shape" -> shape = v;
                case "--rounds" -> rounds = Integer.parseInt(v);
                case "--threads" -> threads = Integer.parseInt(v);
                case "--samples" -> samples = Integer.parseInt(v);
                case "--tokens" -> tokens = Integer.parseInt(v);
                case "--work" -> work = Path.of(v);
                case "--only" -> only = List.of(v.split(","));
                case "--stats-args" -> statsExtra = List.of(v.trim().split("\\s+"));
                default -> throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        return new Options(tools, shape, rounds, threads, samples, tokens, work, perplexity, only, statsExtra);
    }
}
