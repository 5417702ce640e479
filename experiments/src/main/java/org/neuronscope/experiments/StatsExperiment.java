package org.neuronscope.experiments;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.HookPoint;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.Prompt;
import org.neuronscope.media.TokenGrouping;
import org.neuronscope.methods.Manu;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.collect.StatisticsCollector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code stats} experiment: per-group neuron statistics of a hook point over a dataset, saved as
 * a directory of {@code .npy} files with JSON metadata ({@code <out>/statistics}). A checkpoint is
 * written every few samples ({@code <out>/checkpoint}); a run that finds one resumes from it, and its
 * result is bit-identical to an uninterrupted run.
 */
public final class StatsExperiment {
    private static final Logger LOG = LoggerFactory.getLogger(StatsExperiment.class);

    /**
     * @param point           the hook point (ffn.act: MINER, LAPE, MANU)
     * @param statistics      what to collect (MAX and MIN use taps, the rest in-graph reductions)
     * @param checkpointEvery samples between checkpoints (a multiple of samplesPerDecode)
     * @param samplesPerDecode at most this many consecutive samples decoded together, one sequence each
     *                         (the session needs as many sequences), packed into full micro-batches; a
     *                         group also ends where the next sample would not fit the same batch
     *                         (the session's batch size) beside it, and never crosses a checkpoint. Sums then differ from one-by-one
     *                         decoding by float rounding only (flash attention's F16 accumulation most),
     *                         and a resumed run stays bit-identical to an uninterrupted one
     */
    public record Params(HookPoint point, Set<Statistic> statistics, int checkpointEvery, int samplesPerDecode) {
        public Params {
            if (checkpointEvery <= 0 || samplesPerDecode <= 0) {
                throw new IllegalArgumentException("checkpointEvery and samplesPerDecode must be positive, got " + checkpointEvery
                        + " and " + samplesPerDecode);
            }
            if (checkpointEvery % samplesPerDecode != 0) {
                throw new IllegalArgumentException("checkpointEvery (" + checkpointEvery + ") must be a multiple of samplesPerDecode ("
                        + samplesPerDecode + "), so that a resumed run groups samples as an uninterrupted one");
            }
            statistics = Set.copyOf(statistics);
        }

        public Params withCheckpointEvery(int n) {
            return new Params(point, statistics, n, samplesPerDecode);
        }

        public Params withSamplesPerDecode(int n) {
            return new Params(point, statistics, checkpointEvery, n);
        }

        /** ffn.act; count, count_abs (MANU's 0.1), sum, sum of squares, sum of |a|, max, min; checkpoint every 10 samples. */
        public static final Params DEFAULTS = new Params(HookPoint.FFN_ACT, EnumSet.of(Statistic.COUNT, Statistic.COUNT_ABS, Statistic.SUM,
                Statistic.SUM_SQ, Statistic.SUM_ABS, Statistic.MAX, Statistic.MIN), 10, 1);
    }

    private StatsExperiment() {
    }

    public static Path statisticsDir(Path out) {
        return out.resolve("statistics");
    }

    /** The statistics directory a {@code --stats} option names: a {@code stats} output directory's {@code statistics/}, or the directory itself. */
    public static Path statisticsDirOf(Path statsOption) {
        Path inner = statisticsDir(statsOption);
        return java.nio.file.Files.isDirectory(inner) ? inner : statsOption;
    }

    public static Path checkpointDir(Path out) {
        return out.resolve("checkpoint");
    }

    /**
     * Collects (or resumes collecting) statistics of {@code data} and saves them under {@code out}.
     * With {@link ModalityGrouping}, the derived groups special_text and prompt are added.
     */
    public static NeuronStatistics run(Workbench wb, Dataset data, TokenGrouping grouping, Params params, Path out,
                                       Progress.Listener listener) {
        return run(wb, wb.prompts(), data, grouping, params, out, listener);
    }

    /** {@link #run(Workbench, Dataset, TokenGrouping, Params, Path, Progress.Listener)} with prompts from {@code prompts}. */
    public static NeuronStatistics run(Workbench wb, org.neuronscope.media.PromptSource source, Dataset data, TokenGrouping grouping,
                                       Params params, Path out, Progress.Listener listener) {
        Path checkpoint = checkpointDir(out);
        // what the statistics depend on besides dataset and model (checkpointEvery does not change them)
        String runParams = runParams(grouping, params);
        try {
            StatisticsCollector c;
            Map<String, String> fingerprint = null;
            if (NeuronStatistics.isSavedIn(checkpoint)) {
                c = StatisticsCollector.resume(wb.session(), checkpoint);
                if (!c.statistics().groups().equals(grouping.groupNames())) {
                    c.close();
                    throw new IllegalArgumentException(checkpoint + " holds groups " + c.statistics().groups() + ", this run groups by "
                            + grouping.groupNames() + "; remove the checkpoint or use another output directory");
                }
                if (!c.statistics().statistics().equals(params.statistics()) || c.statistics().hookPoint() != params.point()) {
                    String had = c.statistics().hookPoint() + " " + c.statistics().statistics();
                    c.close();
                    throw new IllegalArgumentException(checkpoint + " collects " + had + ", this run asks for " + params.point().id() + " "
                            + params.statistics() + "; remove the checkpoint or use another output directory");
                }
                String recorded = c.statistics().metadata().get(GROUPING);
                if (recorded != null && !recorded.equals(groupingId(grouping))) {
                    c.close();
                    throw new IllegalArgumentException(checkpoint + " groups tokens by " + recorded + ", this run by " + groupingId(grouping)
                            + "; remove the checkpoint or use another output directory");
                }
                fingerprint = RunFingerprint.of(data, wb.setup(), runParams, c.statistics().metadata());
                try {
                    RunFingerprint.check(c.statistics().metadata(), fingerprint, data, wb.setup(), runParams, checkpoint);
                } catch (IllegalArgumentException e) {
                    c.close();
                    throw e;
                }
                String dataset = c.statistics().metadata().get("dataset");
                if (dataset != null && !dataset.equals(datasetId(data))) {
                    c.close();
                    throw new IllegalArgumentException(checkpoint + " was collected on dataset " + dataset + ", not " + datasetId(data));
                }
                LOG.info("resuming {} after {} of {} samples", checkpoint, c.samplesDone(), data.size());
            } else {
                c = StatisticsCollector.start(wb.session(), params.point(), grouping.groupNames(), params.statistics(), 0f, Manu.FREQ_THRESHOLD);
            }
            if (fingerprint == null) {
                fingerprint = RunFingerprint.of(data, wb.setup(), runParams, null);
            }
            try (c) {
                c.statistics().metadata().putAll(metadata(data, grouping, fingerprint, wb.model().path()));
                Progress progress = new Progress("stats", data.size(), c.samplesDone(), listener);
                for (int i = (int) c.samplesDone(); i < data.size(); ) {
                    int end = nextCheckpoint(i, params, data.size());
                    addSamples(c, source, data, i, end, params.samplesPerDecode(), groupCapacity(wb), grouping, progress);
                    i = end;
                    if (i % params.checkpointEvery() == 0 && i < data.size()) {
                        c.checkpoint(checkpoint);
                    }
                }
                NeuronStatistics result = result(c.statistics(), grouping, data.size());
                result.save(statisticsDir(out));
                c.checkpoint(checkpoint); // complete: a rerun resumes at the end and rewrites the same result
                return result;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("statistics under " + out + ": " + e.getMessage(), e);
        }
    }

    /** Where the checkpoint range holding sample {@code i} ends: decode groups never cross it. */
    private static int nextCheckpoint(int i, Params params, int size) {
        return (int) Math.min(size, ((long) i / params.checkpointEvery() + 1) * params.checkpointEvery());
    }

    /**
     * The positions a group of samples decoded together may hold: one batch. Packing pays where it
     * fills micro-batches that short samples would leave part-empty; a group larger than a batch
     * gains nothing more and makes attention look over more cells (the sequences share one KV cache).
     */
    private static int groupCapacity(Workbench wb) {
        return Math.min(wb.session().contextSize(), wb.session().batchSize());
    }

    /**
     * Decodes samples {@code from..to-1} of {@code data} into the collector in groups: up to {@code step}
     * consecutive samples whose positions fit {@code capacity} together, packed into full micro-batches,
     * one sequence each; one by one when a group holds one sample.
     */
    private static void addSamples(StatisticsCollector c, org.neuronscope.media.PromptSource source, Dataset data, int from, int to,
                                   int step, int capacity, TokenGrouping grouping, Progress progress) {
        Prompt pending = null; // prepared, but it did not fit beside the previous group
        try {
            for (int i = from; i < to; ) {
                int limit = Math.min(to, i + step);
                List<Prompt> prompts = new ArrayList<>();
                List<int[]> groups = new ArrayList<>();
                int end = i;
                try {
                    int positions = 0;
                    while (end < limit) {
                        Sample s = data.samples().get(end);
                        Prompt p = pending != null ? pending : SampleErrors.naming(s, data, () -> source.prepare(s));
                        pending = null;
                        if (!prompts.isEmpty() && positions + p.positionCount() > capacity) {
                            pending = p;
                            break;
                        }
                        prompts.add(p);
                        groups.add(grouping.groups(s, p));
                        positions += p.positionCount();
                        end++;
                    }
                    if (prompts.size() == 1) {
                        Sample s = data.samples().get(i);
                        SampleErrors.naming(s, data, () -> {
                            c.add(prompts.getFirst(), groups.getFirst());
                            return null;
                        });
                    } else {
                        c.addAll(prompts, groups);
                    }
                } finally {
                    prompts.forEach(Prompt::close);
                }
                for (int j = i; j < end; j++) {
                    progress.step();
                }
                i = end;
            }
        } finally {
            if (pending != null) {
                pending.close();
            }
        }
    }

    /**
     * The raw totals of one slice of a dataset, for jobs that split a dataset over processes or
     * machines (the Spark module): the same decoding as {@link #run}, in the same order and decode
     * groups (checkpoint ranges counted from the slice's start), without checkpoint, derived groups or metadata.
     * Slices' totals merged in dataset order ({@link NeuronStatistics#merge}) and passed to
     * {@link #result} give what {@link #run} saves, up to the association of the float64 sums (and
     * exactly, for one slice). The caller owns (closes) the statistics returned.
     */
    public static NeuronStatistics collect(Workbench wb, Dataset slice, TokenGrouping grouping, Params params, Progress.Listener listener) {
        try (StatisticsCollector c = StatisticsCollector.start(wb.session(), params.point(), grouping.groupNames(), params.statistics(), 0f,
                Manu.FREQ_THRESHOLD)) {
            Progress progress = new Progress("stats", slice.size(), 0, listener);
            for (int i = 0; i < slice.size(); ) {
                int end = nextCheckpoint(i, params, slice.size());
                addSamples(c, wb.prompts(), slice, i, end, params.samplesPerDecode(), groupCapacity(wb), grouping, progress);
                i = end;
            }
            return c.statistics().copy();
        }
    }

    /**
     * The metadata {@link #run} records before its first sample, in its order: dataset, grouping,
     * the run's fingerprint (dataset, model and parameter hashes) and the model's file name.
     */
    public static Map<String, String> metadata(Dataset data, Workbench.Setup setup, TokenGrouping grouping, Params params) {
        return metadata(data, grouping, RunFingerprint.of(data, setup, runParams(grouping, params), null), setup.model());
    }

    private static Map<String, String> metadata(Dataset data, TokenGrouping grouping, Map<String, String> fingerprint, Path model) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("dataset", datasetId(data));
        m.put(GROUPING, groupingId(grouping));
        m.putAll(fingerprint);
        m.put(NeuronStatistics.MODEL, model.getFileName().toString());
        return m;
    }

    /**
     * What {@link #run} saves from the totals of all {@code samples} samples: a copy, with the derived
     * groups of a {@link ModalityGrouping} added, and {@code samples_done}.
     */
    public static NeuronStatistics result(NeuronStatistics totals, TokenGrouping grouping, int samples) {
        NeuronStatistics result = grouping instanceof ModalityGrouping ? totals.withUnions(ModalityGrouping.DERIVED) : totals.copy();
        result.metadata().put("samples_done", Integer.toString(samples));
        return result;
    }

    /** What the statistics depend on besides dataset and model (checkpointEvery does not change them). */
    private static String runParams(TokenGrouping grouping, Params params) {
        return "point=" + params.point().id() + " statistics=" + new java.util.TreeSet<>(params.statistics())
                + " samplesPerDecode=" + params.samplesPerDecode() + " groups=" + grouping.groupNames();
    }

    /** The metadata key of how tokens were grouped ({@code modality}, {@code label:language text}, ...). */
    public static final String GROUPING = "grouping";

    /** How a grouping groups tokens, for metadata: {@code modality}, {@code label:<name> text|all}, or the class name. */
    static String groupingId(TokenGrouping g) {
        return g instanceof ModalityGrouping ? "modality" : g instanceof org.neuronscope.media.LabelGrouping ? g.toString() : g.getClass().getName();
    }

    /** What identifies a dataset in metadata: its file (or name) and size. */
    static String datasetId(Dataset data) {
        return (data.path() != null ? data.path().toAbsolutePath().normalize().toString() : data.name()) + " (" + data.size() + " samples)";
    }
}
