package org.neuronscope.cli;


import org.neuronscope.methods.Intervention;

import org.neuronscope.HookPoint;

import org.neuronscope.experiments.AblationExperiment;
import org.neuronscope.experiments.Charts;
import org.neuronscope.experiments.HtmlReport;
import org.neuronscope.experiments.LensExperiment;
import org.neuronscope.experiments.LensReport;
import org.neuronscope.collect.LensCollector;
import org.neuronscope.hooks.LensSpec;
import org.neuronscope.experiments.MinerExperiment;
import org.neuronscope.experiments.Progress;
import org.neuronscope.experiments.StatsExperiment;
import org.neuronscope.experiments.Workbench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.MetricTable;
import org.neuronscope.testkit.PlantedModels;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.testkit.SyntheticMedia;
import org.neuronscope.methods.EntropySelection;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.methods.RandomBaseline;
import org.neuronscope.model.SessionParams;
import org.neuronscope.probe.LayerProbe;
import org.neuronscope.stats.NeuronStatistics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo: a synthetic Qwen2-VL-style model with planted image-specific neurons, a small dataset of
 * generated images and text questions, then stats → select (entropy method, MINER without attention,
 * MINER with its defaults) → precision and recall against the planted neurons → ablation of the
 * selections against a matched random set → an HTML report with tables and charts. Runs in about a
 * minute on two cores, with no downloads (the tokenizer comes from llama.cpp's vocab file).
 */
public final class Demo {
    private static final Logger LOG = LoggerFactory.getLogger(Demo.class);

    /** What the demo found. */
    public record Result(Map<String, double[]> precisionRecall, Map<String, NeuronSet> selections, MetricTable ablation, Path report,
                         Duration elapsed, LayerProbe.Report probe) { // probe: null without llama.cpp's llama vocabulary
    }

    private Demo() {
    }

    /**
     * @param work        a directory for the model, dataset, statistics, neuron sets and report
     * @param qwen2Vocab  llama.cpp's models/ggml-vocab-qwen2.gguf
     * @param samples     image questions and as many text questions (e.g. 8)
     */
    public static Result run(Path work, Path qwen2Vocab, int samples, int threads, Progress.Listener listener) {
        return run(work, qwen2Vocab, samples, 0, threads, listener);
    }

    /**
     * The demo, with {@code audioSamples > 0} also with planted audio neurons (one projector with a
     * vision and an audio encoder) and that many audio questions (generated noise clips). MINER then
     * measures text, image and audio with a budget of 3 % (1 % per modality, the planted count); the
     * entropy method compares text, special and image only, since the tiny random audio encoder
     * gives audio tokens so alike that LAPE's 95th-percentile filter removes every neuron (see
     * PlantedRecoveryTest).
     */
    public static Result run(Path work, Path qwen2Vocab, int samples, int audioSamples, int threads, Progress.Listener listener) {
        long t0 = System.nanoTime();
        boolean audio = audioSamples > 0;
        try {
            Files.createDirectories(work);
            PlantedModels.Planted planted = PlantedModels.write(PlantedModels.Spec.demo(qwen2Vocab, audio), work.resolve("model"));
            Path datasetFile = writeDataset(work, samples, audioSamples);
            Dataset data = Dataset.load(datasetFile);
            NeuronSet truth = planted.truth(HookPoint.FFN_ACT);
            truth.save(work.resolve("planted.json"));
            Workbench.Setup setup = new Workbench.Setup(planted.model(), org.neuronscope.model.ModelParams.defaults(), planted.projector(),
                    SessionParams.defaults().withContextSize(audio ? 2048 : 1024).withBatchSize(256).withThreads(threads)
                            .withFlashAttention(SessionParams.FlashAttention.OFF),
                    ProjectorParams.defaults().withThreads(threads).withWarmup(false).withImageTokens(8, 16), PromptFormat.chat());
            Map<String, NeuronSet> selections = new LinkedHashMap<>();
            MetricTable ablation;
            LensExperiment.Result lens;
            int layers;
            try (Workbench wb = Workbench.open(setup)) {
                layers = wb.model().layerCount();
                try (NeuronStatistics stats = StatsExperiment.run(wb, data, new ModalityGrouping(), StatsExperiment.Params.DEFAULTS,
                        work.resolve("stats"), listener);
                     // text, special and image only: the dataset has no video, and audio is left out (see above)
                     NeuronStatistics base = stats.subset(List.of("text", "special", "image"))) {
                    selections.put("entropy (LAPE defaults)", EntropySelection.select(base, EntropySelection.Params.DEFAULTS));
                }
                // special included, as MINER's code splits a prompt; 1 % of each layer per modality
                List<String> modalities = audio ? List.of("text", "special", "image", "audio") : List.of("text", "special", "image");
                Miner.Params minerDefaults = Miner.Params.DEFAULTS.withRatio(0.01 * modalities.size());
                Miner.Aggregator plain = MinerExperiment.collect(wb, data, modalities, false, listener);
                selections.put("MINER mean+max", Miner.select(plain, HookPoint.FFN_ACT, minerDefaults.with(Miner.Weights.MEAN_MAX)));
                Miner.Aggregator full = MinerExperiment.collect(wb, data, modalities, true, listener);
                selections.put("MINER defaults", Miner.select(full, HookPoint.FFN_ACT, minerDefaults));
                for (var e : selections.entrySet()) {
                    e.getValue().save(work.resolve(fileName(e.getKey())));
                }
                NeuronSet miner = selections.get("MINER defaults");
                NeuronSet random = RandomBaseline.matching(miner, 42, true);
                random.save(work.resolve("random.json"));
                List<AblationExperiment.Condition> conditions = new ArrayList<>(List.of(
                        new AblationExperiment.Condition("MINER image set", miner, List.of("image"), Intervention.deactivate()),
                        new AblationExperiment.Condition("random (matched)", random, List.of("image"), Intervention.deactivate()),
                        new AblationExperiment.Condition("planted (truth)", truth, List.of("image"), Intervention.deactivate())));
                if (audio) {
                    conditions.add(new AblationExperiment.Condition("MINER audio set", miner, List.of("audio"), Intervention.deactivate()));
                    conditions.add(new AblationExperiment.Condition("random (audio)", random, List.of("audio"), Intervention.deactivate()));
                }
                ablation = AblationExperiment.run(wb, data, conditions, AblationExperiment.BY_MEDIA, 0, listener);
                // the logit lens of every entry at every layer, grouped by modality
                lens = LensExperiment.run(wb, data, new ModalityGrouping(),
                        new LensExperiment.Params(LensSpec.DEFAULT.withTopK(5), LensCollector.Positions.ALL, null, 10), work.resolve("lens"), listener);
            }
            Map<String, double[]> pr = new LinkedHashMap<>();
            for (var e : selections.entrySet()) {
                pr.put(audio ? e.getKey() + ", image" : e.getKey(), precisionRecall(e.getValue(), "image", truth));
                if (audio && e.getValue().hasGroup("audio")) {
                    pr.put(e.getKey() + ", audio", precisionRecall(e.getValue(), "audio", truth));
                }
            }
            // layer-wise probing on its own planted model (llama.cpp's llama vocabulary sits beside the qwen2 one)
            // (the probe's model needs llama.cpp's SentencePiece vocabulary: without the build's tree, the demo has no probe section)
            Path llamaVocab = qwen2Vocab.resolveSibling("ggml-vocab-llama-spm.gguf");
            DemoProbe.Result probe = java.nio.file.Files.isRegularFile(llamaVocab) ? DemoProbe.run(work, llamaVocab, 160, threads, listener) : null;
            Path report = report(work, pr, selections, truth, ablation, probe, lens, layers);
            Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
            LOG.info("demo finished in {} s; report {}", elapsed.toSeconds(), report);
            return new Result(pr, selections, ablation, report, elapsed, probe == null ? null : probe.last());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The file a selection is saved to, named after its method: "MINER mean+max" → miner-mean-max.json. */
    static String fileName(String method) {
        return method.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "") + ".json";
    }

    /** Precision and recall of a selection's group against the planted neurons of the same group (image or audio). */
    public static double[] precisionRecall(NeuronSet selected, String group, NeuronSet truth) {
        if (!selected.hasGroup(group)) {
            return new double[] {0, 0};
        }
        int hit = 0;
        for (NeuronSet.Neuron n : selected.neurons(group)) {
            if (truth.contains(group, n.layer(), n.neuron())) {
                hit++;
            }
        }
        int size = selected.size(group);
        return new double[] {size == 0 ? 0 : (double) hit / size, (double) hit / truth.size(group)};
    }

    /** Writes {@code work}/demo.jsonl: {@code samples} image questions (generated PNGs) and as many text questions. */
    public static Path writeDataset(Path work, int samples) throws IOException {
        return writeDataset(work, samples, 0);
    }

    /**
     * {@link #writeDataset(Path, int)} plus {@code audioSamples} audio questions on generated WAV
     * clips: noise under a slow envelope, 28 s long (the Whisper encoder pads to 30 s, so a short clip
     * would be mostly silence and give nearly identical audio tokens).
     */
    public static Path writeDataset(Path work, int samples, int audioSamples) throws IOException {
        String[] questions = {"What is in the picture?", "Describe the colours.", "Is it day or night?", "Count the objects.",
            "What is the weather like?", "Where was this taken?", "Which animal is shown?", "What time of year is it?"};
        String[] topics = {"the Roman empire", "photosynthesis", "the French revolution", "prime numbers", "volcanoes", "the printing press",
            "jazz music", "glaciers"};
        ObjectMapper json = new ObjectMapper();
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < samples; i++) {
            String image = "images/img-" + i + ".png";
            SyntheticMedia.writePng(work.resolve(image), 56 + 16 * (i % 5), 96 - 8 * (i % 4), 1000 + i);
            ObjectNode s = json.createObjectNode().put("id", "image-" + i).put("question", questions[i % questions.length]).put("image", image);
            lines.append(json.writeValueAsString(s)).append('\n');
            ObjectNode t = json.createObjectNode().put("id", "text-" + i).put("question", "Tell me one fact about " + topics[i % topics.length] + ".");
            lines.append(json.writeValueAsString(t)).append('\n');
        }
        for (int i = 0; i < audioSamples; i++) {
            String wav = "audio/noise-" + i + ".wav";
            float[] pcm = new float[16000 * 28];
            java.util.SplittableRandom r = new java.util.SplittableRandom(2000 + i);
            for (int k = 0; k < pcm.length; k++) {
                pcm[k] = (float) (0.3 * r.nextGaussian() * Math.sin(k / (300.0 + 100 * i)));
            }
            SyntheticMedia.writeWav(work.resolve(wav), pcm, 16000);
            ObjectNode a = json.createObjectNode().put("id", "audio-" + i).put("question", "What is heard in this recording?").put("audio", wav);
            lines.append(json.writeValueAsString(a)).append('\n');
        }
        Path file = work.resolve("demo.jsonl");
        Files.writeString(file, lines, StandardCharsets.UTF_8);
        return file;
    }

    private static Path report(Path work, Map<String, double[]> pr, Map<String, NeuronSet> selections, NeuronSet truth, MetricTable ablation,
                               DemoProbe.Result probe, LensExperiment.Result lens, int layers) {
        Path dir = work.resolve("report");
        HtmlReport html = new HtmlReport("NeuronScope demo: planted modality-specific neurons");
        html.paragraph("A synthetic Qwen2-VL-style model (5 layers x 500 FFN neurons) with " + truth.size("image")
                + " planted image-specific neurons (" + java.util.Arrays.toString(truth.perLayerCounts("image"))
                + " per layer)" + (truth.hasGroup("audio") ? " and " + truth.size("audio") + " planted audio-specific neurons" : "")
                + ", a dataset of generated images" + (truth.hasGroup("audio") ? ", audio clips" : "")
                + " and text questions. Statistics, selection and ablation as the CLI runs them.");
        StringBuilder t = new StringBuilder(String.format("%-34s %10s %10s %10s%n", "method", "selected", "precision", "recall"));
        for (var e : pr.entrySet()) {
            String method = e.getKey().endsWith(", audio") || e.getKey().endsWith(", image") ? e.getKey().substring(0, e.getKey().lastIndexOf(','))
                    : e.getKey();
            String group = e.getKey().endsWith(", audio") ? "audio" : "image";
            NeuronSet sel = selections.get(method);
            t.append(String.format("%-34s %10d %10.3f %10.3f%n", e.getKey(), sel.hasGroup(group) ? sel.size(group) : 0, e.getValue()[0], e.getValue()[1]));
        }
        html.heading("Recovery of the planted neurons").table(t.toString());
        int k = 0;
        for (var e : selections.entrySet()) {
            html.image(dir, Charts.neuronsPerLayer(e.getValue(), e.getKey() + ": neurons per layer", dir.resolve("layers-" + k++ + ".png")), e.getKey());
        }
        for (var e : selections.entrySet()) {
            html.link(dir, work.resolve(fileName(e.getKey())), fileName(e.getKey()) + ": the " + e.getKey() + " selection");
        }
        html.link(dir, work.resolve("planted.json"), "planted.json: the planted neurons");
        html.link(dir, work.resolve("random.json"), "random.json: the matched random set");
        html.link(dir, work.resolve("stats").resolve("statistics"), "stats/statistics: the per-modality statistics (.npy, meta.json)");
        html.heading("Ablation (deactivated, image group) vs no intervention").metricTable(ablation, 4);
        html.image(dir, Charts.ablationDeltas(ablation, "logit_change", "Mean |Δ logit| of the next token", dir.resolve("ablation-logits.png")),
                "Ablation effect per sample group: the selected set against a matched random set");
        html.image(dir, Charts.ablationDeltas(ablation, "top1_agreement", "Change of top-1 agreement with the unablated model",
                dir.resolve("ablation-top1.png")), "Top-1 agreement change");
        LensReport.addTo(html, dir, dir, lens, layers);
        if (probe != null) {
            DemoProbe.section(html, dir, probe);
        }
        return html.write(dir.resolve("index.html"));
    }
}
