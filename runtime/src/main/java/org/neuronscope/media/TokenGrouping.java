package org.neuronscope.media;

import org.neuronscope.eval.Sample;

import java.util.List;

/**
 * A labelling policy: the token group of every entry of a prompt. Groups are integers with names;
 * modality (MINER), a sample label such as language or domain (LAPE, MMNeuron) or forget/retain
 * (MANU) are all policies.
 */
public interface TokenGrouping {
    /** The group names; group i is {@code groupNames().get(i)}. */
    List<String> groupNames();

    /** The group of each entry of {@code prompt} (prepared from {@code sample}); -1 leaves an entry out. */
    int[] groups(Sample sample, Prompt prompt);
}
