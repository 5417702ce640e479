package org.neuronscope.media;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.model.Session;

import java.util.Arrays;
import java.util.List;

/** A prompt made of segments decoded in order; closes the native resources it was given. */
final class SegmentedPrompt implements Prompt {
    private final List<Segment> segments;
    private final AutoCloseable owned;
    private final int length;
    private final int positions;
    private int lastBatchIndex = -1;
    private boolean open = true;
    /** The thread decoding the prompt now: a close from inside that decode (a tap listener) would free its chunks. */
    private Thread decoding;

    SegmentedPrompt(List<Segment> segments, AutoCloseable owned) {
        if (segments.isEmpty()) {
            throw new IllegalArgumentException("a prompt needs at least one token or media item");
        }
        this.segments = List.copyOf(segments);
        this.owned = owned;
        this.length = this.segments.stream().mapToInt(Segment::length).sum();
        this.positions = this.segments.stream().mapToInt(Segment::positionCount).sum();
    }

    List<Segment> segments() {
        return segments;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int positionCount() {
        return positions;
    }

    @Override
    public Modality modality(int entry) {
        if (entry < 0 || entry >= length) {
            throw new IndexOutOfBoundsException("entry " + entry + " of a prompt of " + length);
        }
        for (Segment s : segments) {
            if (entry < s.length()) {
                return s.modality(entry);
            }
            entry -= s.length();
        }
        throw new AssertionError();
    }

    @Override
    public synchronized int decode(Session session, int seqId, int startPosition, int[] groupOfEntry, DecodeStep step) {
        ensureOpen();
        if (decoding != null) {
            throw new IllegalStateException("the prompt is being decoded already (by this thread, from a tap listener?)");
        }
        decoding = Thread.currentThread();
        try {
            return decodeSegments(session, seqId, startPosition, groupOfEntry, step);
        } finally {
            decoding = null;
        }
    }

    private int decodeSegments(Session session, int seqId, int startPosition, int[] groupOfEntry, DecodeStep step) {
        if (groupOfEntry.length != length) {
            throw new IllegalArgumentException(groupOfEntry.length + " group labels for a prompt of " + length + " entries");
        }
        if (startPosition < 0) {
            throw new IllegalArgumentException("start position must not be negative, got " + startPosition);
        }
        if (startPosition + positions > session.contextSize()) {
            throw new IllegalArgumentException("a prompt of " + positions + " positions from position " + startPosition
                    + " does not fit the session's context of " + session.contextSize());
        }
        int entry = 0;
        int position = startPosition;
        for (int k = 0; k < segments.size(); k++) {
            Segment s = segments.get(k);
            int[] groups = Arrays.copyOfRange(groupOfEntry, entry, entry + s.length());
            lastBatchIndex = s.decode(session, seqId, position, groups, k == segments.size() - 1, step);
            entry += s.length();
            position += s.positionCount();
        }
        return position;
    }

    @Override
    public int lastBatchIndex() {
        if (lastBatchIndex < 0) {
            throw new IllegalStateException("the prompt has not been decoded yet");
        }
        return lastBatchIndex;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("the prompt is closed");
        }
    }

    /** Frees the prompt's native chunks; waits for a decode of it on another thread, refused inside one. Idempotent. */
    @Override
    public synchronized void close() {
        if (decoding != null) {
            throw new IllegalStateException("cannot close the prompt while it is being decoded (from a tap listener?)");
        }
        if (open) {
            open = false;
            if (owned != null) {
                try {
                    owned.close();
                } catch (Exception e) {
                    throw new NeuronScopeException("closing the prompt's native chunks failed", e);
                }
            }
        }
    }
}
