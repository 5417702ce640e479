package org.neuronscope.media;

import org.neuronscope.FormatException;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.HookPoint;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.DatasetException;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufValue;
import org.neuronscope.gguf.GgufValueType;
import org.neuronscope.gguf.GgufWriter;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelLoadException;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;
import org.neuronscope.testkit.SyntheticMedia;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * The fuzzer, run in a child JVM by {@code FuzzTest}: seeded mutants of the project's synthetic
 * GGUF model (byte flips, truncations, hostile metadata values), of images and WAV files (through
 * a real projector), of datasets, statistics directories and neuron sets. Before each input it
 * writes the input to {@code <work>/current.*} and its description to {@code <work>/current.txt},
 * so that if this JVM dies the parent knows which input killed it. Every input must end in a
 * result or in one of the library's exceptions; anything else is counted as unexpected and listed.
 *
 * <p>Arguments: seed, seconds, work directory. Prints {@code FUZZ <outcome>=<count> ...} at the end.
 */
public final class FuzzMain {
    private final Random rng;
    private final Path work;
    private final Map<String, Integer> outcomes = new TreeMap<>();
    private final List<String> unexpected = new ArrayList<>();
    private int tried;

    private FuzzMain(long seed, Path work) {
        this.rng = new Random(seed);
        this.work = work;
    }

    public static void main(String[] args) throws Exception {
        long seed = Long.parseLong(args[0]);
        double seconds = Double.parseDouble(args[1]);
        Path work = Files.createDirectories(Path.of(args[2]));
        FuzzMain f = new FuzzMain(seed, work);
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long ggufEnd = System.nanoTime() + (long) (seconds * 0.5e9);
        long mediaEnd = System.nanoTime() + (long) (seconds * 0.85e9);
        f.gguf(ggufEnd);
        f.media(mediaEnd);
        f.files(end);
        StringBuilder line = new StringBuilder("FUZZ tried=" + f.tried);
        f.outcomes.forEach((k, v) -> line.append(' ').append(k).append('=').append(v));
        line.append(" unexpected=").append(f.unexpected.size());
        System.out.println(line);
        f.unexpected.stream().limit(20).forEach(u -> System.out.println("UNEXPECTED " + u));
        Files.deleteIfExists(work.resolve("current.txt"));
    }

    private void record(String kind, String outcome) {
        outcomes.merge(kind + "." + outcome, 1, Integer::sum);
    }

    /** Runs one input, classifying how it ended; the input is saved first (see the class comment). */
    private void attempt(String kind, String description, Runnable input) {
        tried++;
        try {
            Files.writeString(work.resolve("current.txt"), kind + " " + description + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            input.run();
            record(kind, "accepted");
        } catch (FormatException | ModelLoadException | DatasetException e) {
            record(kind, e.getClass().getSimpleName());
        } catch (NeuronScopeException | IllegalArgumentException | UncheckedIOException e) {
            record(kind, e.getClass().getSimpleName());
        } catch (Throwable t) {
            record(kind, "unexpected");
            unexpected.add(kind + " " + description + ": " + t);
        }
    }

    // ------------------------------------------------------------------ GGUF

    private void gguf(long until) throws IOException {
        Path base = SyntheticFixtures.tiny("llama");
        byte[] original = Files.readAllBytes(base);
        long dataStart;
        List<String> intKeys = new ArrayList<>();
        String[] tokens;
        try (GgufFile g = GgufFile.open(base)) {
            dataStart = g.dataStart();
            g.metadata().forEach((k, v) -> {
                if (!v.isArray() && v.type().isInteger()) {
                    intKeys.add(k);
                }
            });
            tokens = g.getStringArray("tokenizer.ggml.tokens");
        }
        long[] hostile = {0, 1, 2, -1, 3, 7, 63, 64, 255, 256, 511, 512, 513, 1023, 1024, 1025, 4096, 65535, 65536, Integer.MAX_VALUE,
                0xFFFFFFFFL, 1L << 32, Long.MAX_VALUE};
        Path file = work.resolve("current.gguf");
        while (System.nanoTime() < until) {
            int mode = rng.nextInt(4);
            String description;
            if (mode == 0) {
                byte[] b = original.clone();
                int flips = 1 + rng.nextInt(8);
                StringBuilder d = new StringBuilder("flips");
                for (int i = 0; i < flips; i++) {
                    int at = rng.nextInt((int) Math.min(b.length, dataStart + 64));
                    b[at] = (byte) rng.nextInt(256);
                    d.append(' ').append(at);
                }
                Files.write(file, b);
                description = d.toString();
            } else if (mode == 1) {
                int cut = rng.nextInt(original.length);
                Files.write(file, java.util.Arrays.copyOf(original, cut));
                description = "truncated at " + cut;
            } else if (mode == 2) {
                String key = intKeys.get(rng.nextInt(intKeys.size()));
                long v = hostile[rng.nextInt(hostile.length)];
                GgufValue value = v < 0 || v > 0xFFFFFFFFL ? GgufValue.of(GgufValueType.INT64, v) : GgufValue.ofUint32(v);
                rewrite(base, file, w -> w.put(key, value));
                description = key + " = " + v;
            } else {
                String[] t = tokens.clone();
                int i = rng.nextInt(t.length);
                int j = rng.nextInt(t.length);
                String what;
                switch (rng.nextInt(3)) {
                    case 0 -> {
                        t[i] = t[j];
                        what = "token " + i + " := token " + j;
                    }
                    case 1 -> {
                        t[i] = "";
                        what = "token " + i + " empty";
                    }
                    default -> {
                        t[i] = "[EMPTY_" + j + "]";
                        t[j] = "";
                        what = "token " + i + " := [EMPTY_" + j + "], token " + j + " empty";
                    }
                }
                rewrite(base, file, w -> w.putStringArray("tokenizer.ggml.tokens", t));
                description = what;
            }
            attempt("gguf", description, () -> {
                try (Model m = Model.load(file)) {
                    m.layerCount();
                }
            });
        }
    }

    private static void rewrite(Path base, Path out, java.util.function.Consumer<GgufWriter> edit) {
        try (GgufFile g = GgufFile.open(base)) {
            GgufWriter w = new GgufWriter().copyMetadata(g, k -> true);
            edit.accept(w);
            for (String t : g.tensors().keySet()) {
                w.copyTensor(g, t);
            }
            w.write(out);
        }
    }

    // ------------------------------------------------------------------ media

    private void media(long until) throws IOException {
        byte[] wav = Files.readAllBytes(SyntheticMedia.writeWav(work.resolve("base.wav"), SyntheticMedia.tone(440, 0.4, 16000, 1), 16000));
        byte[] png = Files.readAllBytes(SyntheticMedia.writePng(work.resolve("base.png"), 24, 24, 2));
        byte[] jpeg = Files.readAllBytes(MultimodalFixtures.testImage());
        try (Model vm = Model.load(MultimodalFixtures.visionModel());
             Projector vision = Projector.load(vm, MultimodalFixtures.visionProjector(), MultimodalFixtures.params());
             Model am = Model.load(MultimodalFixtures.audioModel());
             Projector audio = Projector.load(am, MultimodalFixtures.audioProjector(), MultimodalFixtures.params())) {
            MultimodalPrompts images = new MultimodalPrompts(vision, PromptFormat.chat());
            MultimodalPrompts sounds = new MultimodalPrompts(audio, PromptFormat.chat());
            while (System.nanoTime() < until) {
                int kind = rng.nextInt(3);
                byte[] b = (kind == 0 ? wav : kind == 1 ? png : jpeg).clone();
                String description;
                if (kind == 0 && rng.nextBoolean()) {
                    // a header field: sample rate, channels, byte rate, block align, bits, data size
                    int[] fields = {22, 24, 28, 32, 34, 40};
                    int at = fields[rng.nextInt(fields.length)];
                    int v = rng.nextBoolean() ? rng.nextInt(8) : rng.nextInt();
                    if (at == 22 || at == 32 || at == 34) {
                        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(at, (short) v);
                    } else {
                        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, v);
                    }
                    description = "wav field " + at + " = " + v;
                } else {
                    int flips = 1 + rng.nextInt(6);
                    StringBuilder d = new StringBuilder(kind == 0 ? "wav" : kind == 1 ? "png" : "jpeg").append(" flips");
                    for (int i = 0; i < flips; i++) {
                        int at = rng.nextInt(Math.min(b.length, 512));
                        b[at] = (byte) rng.nextInt(256);
                        d.append(' ').append(at);
                    }
                    if (rng.nextInt(8) == 0) {
                        b = java.util.Arrays.copyOf(b, rng.nextInt(b.length) + 1);
                        d.append(" truncated to ").append(b.length);
                    }
                    description = d.toString();
                }
                Path file = Files.write(work.resolve(kind == 0 ? "current.wav" : kind == 1 ? "current.png" : "current.jpg"), b);
                boolean isAudio = kind == 0;
                attempt(isAudio ? "audio" : "image", description, () -> {
                    MultimodalPrompts p = isAudio ? sounds : images;
                    Media m = isAudio ? Media.audio(file) : Media.image(file);
                    try (Prompt prompt = p.prepare(Projector.marker() + " what is this?", List.of(m), false)) {
                        prompt.length();
                    }
                });
            }
        }
    }

    // ------------------------------------------------------------------ datasets, statistics, neuron sets

    private void files(long until) throws IOException {
        String dataset = "{\"id\": \"a\", \"prompt\": \"hello\", \"language\": \"en\"}\n{\"id\": \"b\", \"prompt\": \"world\", \"images\": [\"x.png\"]}\n";
        Path stats = work.resolve("stats");
        try (NeuronStatistics s = new NeuronStatistics(HookPoint.FFN_ACT, 2, 4, List.of("en", "fr"), EnumSet.of(Statistic.SUM, Statistic.MAX), 0f, 0f)) {
            s.save(stats);
        }
        byte[] meta = Files.readAllBytes(stats.resolve("meta.json"));
        byte[] sum = Files.readAllBytes(stats.resolve("sum.npy"));
        Path setFile = work.resolve("base-set.json");
        new NeuronSet("lape", HookPoint.FFN_ACT, 2, 128, Map.of()).add("en", 0, 5, 0.5).save(setFile);
        byte[] set = Files.readAllBytes(setFile);
        String[] tokens = {"0", "-1", "5.7", "128.5", "\"zero\"", "null", "[]", "{}", "1e308", "NaN", "99999999999", "\"\"", "true"};
        while (System.nanoTime() < until) {
            int kind = rng.nextInt(3);
            byte[] base = kind == 0 ? dataset.getBytes(StandardCharsets.UTF_8) : kind == 1 ? meta : set;
            byte[] b = mutateJson(base, tokens);
            String description = kind + " " + new String(b, StandardCharsets.UTF_8).replace('\n', ' ');
            if (kind == 0) {
                Path f = Files.write(work.resolve("current.jsonl"), b);
                attempt("dataset", description, () -> Dataset.load(f));
            } else if (kind == 1) {
                Path dir = work.resolve("current-stats");
                Files.createDirectories(dir);
                Files.write(dir.resolve("meta.json"), b);
                byte[] npy = sum.clone();
                if (rng.nextBoolean()) {
                    int at = 10 + rng.nextInt(npy.length - 10);
                    npy[at] = (byte) rng.nextInt(256);
                }
                Files.write(dir.resolve("sum.npy"), npy);
                Files.copy(stats.resolve("max.npy"), dir.resolve("max.npy"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.copy(stats.resolve("tokens.npy"), dir.resolve("tokens.npy"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                attempt("statistics", description, () -> {
                    try (NeuronStatistics s = NeuronStatistics.read(dir)) {
                        s.layers();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } else {
                Path f = Files.write(work.resolve("current-set.json"), b);
                attempt("neuron_set", description, () -> {
                    try {
                        NeuronSet.load(f);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
        }
    }

    /** Replaces one JSON scalar (a number, string or literal) with a hostile one, or flips a byte. */
    private byte[] mutateJson(byte[] base, String[] tokens) {
        String s = new String(base, StandardCharsets.UTF_8);
        if (rng.nextInt(4) == 0) {
            byte[] b = base.clone();
            b[rng.nextInt(b.length)] = (byte) rng.nextInt(256);
            return b;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("-?\\d+(\\.\\d+)?|\"[^\"]*\"").matcher(s);
        List<int[]> spans = new ArrayList<>();
        while (m.find()) {
            spans.add(new int[] {m.start(), m.end()});
        }
        int[] span = spans.get(rng.nextInt(spans.size()));
        return (s.substring(0, span[0]) + tokens[rng.nextInt(tokens.length)] + s.substring(span[1])).getBytes(StandardCharsets.UTF_8);
    }
}
