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
     * @param modalities the modalities to measure, by group name (text, special, image, audio, video, or
     *                   the derived special_text = text ∪ special and prompt = every position, MINER's other
     *                   splits); other tokens are left out
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
        return collect(wb, datasets, modalities, attention, Miner.Attention.SPECIFICATION, listener);
    }

    /**
     * Stages 1–3 with the attention metrics of {@code protocol}: {@link Miner.Attention#REFERENCE} is
     * MINER's code's unmasked attention with the second softmax ({@link MinerCollector}); its session
     * needs 2 sequences and twice the longest sample's entries of context.
     */
    public static Miner.Aggregator collect(Workbench wb, List<Dataset> datasets, List<String> modalities, boolean attention,
                                           Miner.Attention protocol, Progress.Listener listener) {
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Dataset d : datasets) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("two datasets are named '" + d.name() + "'; MINER averages per dataset, so names must differ");
            }
        }
        int layers = wb.model().layerCount();
        int neurons = wb.hooks().width(org.neuronscope.HookPoint.FFN_ACT, 0);
        Miner.Aggregator agg = new Miner.Aggregator(layers, neurons, modalities);
        // a derived group (special_text, prompt) is measured as a union of base modalities, its attention
        // metrics over all its tokens; the base modalities it needs are collected too, and left out of the aggregate
        List<String> base = new java.util.ArrayList<>();
        java.util.Map<String, List<String>> unions = new java.util.LinkedHashMap<>();
        List<String> known = new java.util.ArrayList<>(new ModalityGrouping().groupNames());
        for (String m : modalities) {
            List<String> members = ModalityGrouping.DERIVED.get(m);
            if (members != null) {
                unions.put(m, members);
                members.stream().filter(x -> !base.contains(x)).forEach(base::add);
            } else if (known.contains(m)) {
                if (!base.contains(m)) {
                    base.add(m);
                }
            } else {
                throw new IllegalArgumentException("unknown modality '" + m + "': " + known + " or the derived " + ModalityGrouping.DERIVED.keySet());
            }
        }
        base.sort(java.util.Comparator.comparingInt(known::indexOf));
        MinerCollector collector = new MinerCollector(base, attention, unions, protocol);
        Progress progress = new Progress("miner", datasets.stream().mapToLong(Dataset::size).sum(), 0, listener);
        for (Dataset data : datasets) {
            collectInto(wb, data, base, collector, agg, progress);
        }
        return agg;
    }

    /**
     * What a MINER collection over {@code datasets} depends on, as content hashes (the datasets with
     * their media, the model files) and the collection's parameters: what a distributed run records
     * to refuse a resume over anything else. Keys: {@code dataset.i}, {@code fingerprint.dataset.i},
     * {@code fingerprint.model}, {@code fingerprint.params}, {@code model}.
     */
    public static java.util.Map<String, String> fingerprint(List<Dataset> datasets, Workbench.Setup setup, List<String> modalities,
                                                            boolean attention) {
        return fingerprint(datasets, setup, modalities, attention, Miner.Attention.SPECIFICATION);
    }

    /** {@link #fingerprint(List, Workbench.Setup, List, boolean)} for the attention of {@code protocol} (the specification's keeps the same keys and values). */
    public static java.util.Map<String, String> fingerprint(List<Dataset> datasets, Workbench.Setup setup, List<String> modalities,
                                                            boolean attention, Miner.Attention protocol) {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        String params = "miner modalities=" + modalities + " attention=" + attention
                + (attention && protocol == Miner.Attention.REFERENCE ? " protocol=reference" : "");
        for (int i = 0; i < datasets.size(); i++) {
            Dataset d = datasets.get(i);
            m.put("dataset." + i, d.name() + " " + StatsExperiment.datasetId(d));
            m.put(RunFingerprint.DATASET + "." + i, RunFingerprint.datasetHash(d));
        }
        java.util.Map<String, String> f = RunFingerprint.of(datasets.getFirst(), setup, params, null);
        m.put(RunFingerprint.MODEL, f.get(RunFingerprint.MODEL));
        m.put(RunFingerprint.PARAMS, f.get(RunFingerprint.PARAMS));
        m.put("model", setup.model().getFileName().toString());
        return m;
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
