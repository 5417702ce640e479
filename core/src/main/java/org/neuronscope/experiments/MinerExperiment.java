package org.neuronscope.experiments;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;
import org.neuronscope.media.ModalityGrouping;
import org.neuronscope.media.Prompt;
import org.neuronscope.methods.Miner;
import org.neuronscope.methods.MinerCollector;

import java.util.List;

/**
 * MINER's stages 1–3 over a dataset (METHODS.md §2): every sample's tokens separated by modality, its
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
        ModalityGrouping grouping = new ModalityGrouping();
        int layers = wb.model().layerCount();
        int neurons = wb.hooks().width(org.neuronscope.hooks.HookPoint.FFN_ACT, 0);
        Miner.Aggregator agg = new Miner.Aggregator(layers, neurons, modalities);
        MinerCollector collector = new MinerCollector(wb.hooks(), modalities, attention);
        Progress progress = new Progress("miner", data.size(), 0, listener);
        for (Sample s : data) {
            try (Prompt p = wb.prompts().prepare(s)) {
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
        return agg;
    }
}
