package org.neuronscope.experiments;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.Prompt;
import org.neuronscope.methods.Miner;
import org.neuronscope.collect.MinerCollector;

import java.util.List;

/**
 * MINER's stages 1–3 over a dataset (docs/METHODS.md §2): every sample's tokens separated by modality, its
 * per-sample importance (prob, mean, max and, with attention, attn_k and attn_q) computed from the
 * hooks, and aggregated per dataset. Stage 4 is {@link Miner#select}.
 */
public final class MinerExperiment {
    private MinerExperiment() {
    }

    /**
     * @param modalities the modalities to measure, by group name (text, special, image, audio, video);
     *                   other tokens are left out
     * @param attention  compute attn_k/attn_q (needs flash attention off in the session)
     */
    public static Miner.Aggregator collect(Workbench wb, Dataset data, List<String> modalities, boolean attention, Progress.Listener listener) {
        return collect(wb, List.of(data), modalities, attention, listener);
    }

    /**
     * Stages 1–3 over several datasets (e.g. one per benchmark): each dataset's per-sample scores are
     * averaged over its samples, then summed over the datasets and divided, per modality, by the
     * number of datasets in which it occurs. Datasets are told apart by {@link Dataset#name()}.
     */
    public static Miner.Aggregator collect(Workbench wb, List<Dataset> datasets, List<String> modalities, boolean attention,
                                           Progress.Listener listener) {
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Dataset d : datasets) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("two datasets are named '" + d.name() + "'; MINER averages per dataset, so names must differ");
            }
        }
        int layers = wb.model().layerCount();
        int neurons = wb.hooks().width(org.neuronscope.HookPoint.FFN_ACT, 0);
        Miner.Aggregator agg = new Miner.Aggregator(layers, neurons, modalities);
        MinerCollector collector = new MinerCollector(modalities, attention);
        Progress progress = new Progress("miner", datasets.stream().mapToLong(Dataset::size).sum(), 0, listener);
        for (Dataset data : datasets) {
            collectInto(wb, data, modalities, collector, agg, progress);
        }
        return agg;
    }

    private static void collectInto(Workbench wb, Dataset data, List<String> modalities, MinerCollector collector, Miner.Aggregator agg,
                                    Progress progress) {
        ModalityGrouping grouping = new ModalityGrouping();
        for (Sample s : data) {
            try (Prompt p = SampleErrors.naming(s, data, () -> wb.prompts().prepare(s))) {
                int[] base = grouping.groups(s, p);
                int[] mine = new int[base.length];
                for (int i = 0; i < base.length; i++) {
                    mine[i] = modalities.indexOf(grouping.groupNames().get(base[i]));
                }
                Miner.SampleStatistics stats = collector.collect(wb.session(), p, mine);
                try {
                    agg.add(data.name(), stats);
                } finally {
                    stats.activations().close();
                    if (stats.attnK() != null) {
                        stats.attnK().close();
                        stats.attnQ().close();
                    }
                }
            }
            progress.step();
        }
    }
}
