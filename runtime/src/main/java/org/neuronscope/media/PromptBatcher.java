package org.neuronscope.media;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.model.Batch;
import org.neuronscope.model.Session;

import java.util.ArrayList;
import java.util.List;

/**
 * Decodes several prompts at once, each into its own sequence, for throughput: the pending text of
 * every prompt shares token batches (filled up to the session's batch size); media chunks, which
 * llama.cpp takes as separate embedding batches, are decoded one at a time in between. Within a
 * prompt the order of its entries is kept; across prompts any order is equivalent.
 */
public final class PromptBatcher {
    /** Told, right after the decode holding a prompt's last entry, where its logits are. */
    @FunctionalInterface
    public interface OutputListener {
        void onLastEntry(int promptIndex, int batchIndex);
    }

    private PromptBatcher() {
    }

    /** Where one prompt stands. */
    private static final class Cursor {
        final SegmentedPrompt prompt;
        final int seqId;
        final int[] groups;
        int segment;
        int inSegment;
        int entry;
        int position;

        Cursor(SegmentedPrompt prompt, int seqId, int[] groups, int start) {
            this.prompt = prompt;
            this.seqId = seqId;
            this.groups = groups;
            this.position = start;
        }

        boolean done() {
            return segment >= prompt.segments().size();
        }

        Segment current() {
            return prompt.segments().get(segment);
        }

        boolean lastEntry() {
            return entry == prompt.length() - 1;
        }

        void advance(int n) {
            inSegment += n;
            entry += n;
            if (inSegment == current().length()) {
                position += current().positionCount() - current().length(); // M-RoPE media use fewer positions
                segment++;
                inSegment = 0;
            }
            position += n;
        }
    }

    /**
     * Decodes {@code prompts} into sequences {@code seqIds} (each starting at position 0 of an empty
     * sequence) with the groups {@code groupsOfPrompt[i]} per entry.
     *
     * @return the next position of each sequence
     */
    public static int[] decode(Session session, List<? extends Prompt> prompts, int[] seqIds, List<int[]> groupsOfPrompt,
                               DecodeStep step, OutputListener outputs) {
        if (prompts.size() != seqIds.length || prompts.size() != groupsOfPrompt.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts, " + seqIds.length + " sequence ids and "
                    + groupsOfPrompt.size() + " group arrays: they must match");
        }
        List<Cursor> cursors = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            if (!(prompts.get(i) instanceof SegmentedPrompt sp)) {
                throw new IllegalArgumentException("PromptBatcher takes prompts made by TextPrompts or MultimodalPrompts");
            }
            if (groupsOfPrompt.get(i).length != sp.length()) {
                throw new IllegalArgumentException("prompt " + i + ": " + groupsOfPrompt.get(i).length + " group labels for " + sp.length() + " entries");
            }
            if (sp.positionCount() > session.contextSize()) {
                throw new IllegalArgumentException("prompt " + i + " needs " + sp.positionCount() + " positions; the context has " + session.contextSize());
            }
            for (int j = 0; j < i; j++) {
                if (seqIds[j] == seqIds[i]) {
                    throw new IllegalArgumentException("sequence id " + seqIds[i] + " is used by prompts " + j + " and " + i);
                }
            }
            cursors.add(new Cursor(sp, seqIds[i], groupsOfPrompt.get(i), 0));
        }
        int capacity = session.batchSize();
        try (Batch batch = Batch.ofTokens(capacity)) {
            int[] groups = new int[capacity];
            int[] promptOfEntry = new int[capacity];
            while (cursors.stream().anyMatch(c -> !c.done())) {
                batch.clear();
                for (int p = 0; p < cursors.size() && batch.size() < capacity; p++) {
                    Cursor c = cursors.get(p);
                    while (!c.done() && c.current() instanceof TokenSegment t && batch.size() < capacity) {
                        int n = Math.min(t.length() - c.inSegment, capacity - batch.size());
                        int[] tokens = t.tokens();
                        for (int k = 0; k < n; k++) {
                            boolean last = c.entry + k == c.prompt.length() - 1;
                            groups[batch.size()] = c.groups[c.entry + k];
                            promptOfEntry[batch.size()] = last ? p : -1;
                            batch.add(tokens[c.inSegment + k], c.position + k, c.seqId, last);
                        }
                        c.advance(n);
                    }
                }
                if (!batch.isEmpty()) {
                    step.decode(batch, java.util.Arrays.copyOf(groups, batch.size()));
                    for (int i = 0; i < batch.size(); i++) {
                        if (promptOfEntry[i] >= 0) {
                            outputs.onLastEntry(promptOfEntry[i], i);
                        }
                    }
                    continue;
                }
                // no text pending anywhere: every unfinished prompt is at a media chunk; decode one
                for (int p = 0; p < cursors.size(); p++) {
                    Cursor c = cursors.get(p);
                    if (!c.done()) {
                        Segment s = c.current();
                        int[] g = java.util.Arrays.copyOfRange(c.groups, c.entry, c.entry + s.length());
                        boolean last = c.entry + s.length() == c.prompt.length();
                        int index = s.decode(session, c.seqId, c.position, g, last, step);
                        c.advance(s.length());
                        if (last) {
                            outputs.onLastEntry(p, index);
                        }
                        break;
                    }
                }
            }
        }
        return cursors.stream().mapToInt(c -> c.position).toArray();
    }
}
