package org.neuronscope.media;

import org.neuronscope.model.Session;

/**
 * A run of consecutive prompt entries that enter the model the same way: vocabulary tokens, or the
 * embeddings of one media chunk. {@link SegmentedPrompt} decodes segments in order.
 */
interface Segment {
    int length();

    int positionCount();

    Modality modality(int entryInSegment);

    /**
     * Decodes the segment into {@code seqId} from {@code startPosition}; {@code groups} holds the
     * group of each of its entries; the final entry is an output if {@code lastIsOutput}.
     *
     * @return index, within the last batch decoded, of the segment's final entry
     */
    int decode(Session session, int seqId, int startPosition, int[] groups, boolean lastIsOutput, DecodeStep step);
}
