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
     * @param samplesPerDecode samples decoded together, one sequence each (the session needs as many
     *                         sequences); sums then differ from one-by-one decoding by float rounding
     *                         only, and a resumed run stays bit-identical to an uninterrupted one
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
        String runParams = "point=" + params.point().id() + " statistics=" + new java.util.TreeSet<>(params.statistics())
                + " samplesPerDecode=" + params.samplesPerDecode() + " groups=" + grouping.groupNames();
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
                c.statistics().metadata().put("dataset", datasetId(data));
                c.statistics().metadata().put(GROUPING, groupingId(grouping));
                c.statistics().metadata().putAll(fingerprint);
                c.statistics().setModelName(wb.model().path().getFileName().toString());
                Progress progress = new Progress("stats", data.size(), c.samplesDone(), listener);
                int step = params.samplesPerDecode();
                for (int i = (int) c.samplesDone(); i < data.size(); ) {
                    int end = Math.min(data.size(), i + step);
                    List<Prompt> prompts = new ArrayList<>();
                    List<int[]> groups = new ArrayList<>();
                    try {
                        for (Sample s : data.samples().subList(i, end)) {
                            Prompt p = SampleErrors.naming(s, data, () -> source.prepare(s));
                            prompts.add(p);
                            groups.add(grouping.groups(s, p));
                        }
                        if (step == 1) {
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
                    if (i % params.checkpointEvery() == 0 && i < data.size()) {
                        c.checkpoint(checkpoint);
                    }
                }
                NeuronStatistics result = grouping instanceof ModalityGrouping
                        ? c.statistics().withUnions(ModalityGrouping.DERIVED) : c.statistics().copy();
                result.metadata().put("samples_done", Integer.toString(data.size()));
                result.save(statisticsDir(out));
                c.checkpoint(checkpoint); // complete: a rerun resumes at the end and rewrites the same result
                return result;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("statistics under " + out + ": " + e.getMessage(), e);
        }
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
