package org.neuronscope.gguf;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/** Copies of GGUF files with some weights changed; everything else is copied unchanged. */
public final class GgufEdits {
    private GgufEdits() {
    }

    /**
     * Writes a copy of {@code in} to {@code out} in which the given rows of the given tensors are zero.
     * A row is a ggml row: an index over all dimensions but the first, so for {@code ffn_gate} and
     * {@code ffn_up} ({n_embd, n_ff}) row {@code i} is FFN neuron {@code i}'s input weights.
     *
     * <p>Exact for F32, F16, BF16 and Q8_0: a row is a whole number of blocks, and its bytes are set to
     * zero, which in Q8_0 is d = 0 and every q = 0. (All-zero bytes also decode to 0 in the other
     * ggml block formats, whose scales are then 0.) Metadata, all other rows and all other tensors are
     * copied byte for byte; the data is streamed, so the copy needs no memory in proportion to the model.
     *
     * @throws IllegalArgumentException if a tensor is missing or a row is out of range (nothing is written)
     */
    public static void zeroRows(Path in, Path out, Map<String, int[]> rowsByTensor) {
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("zeroRows writes a copy: input and output are both " + in);
        }
        try (GgufFile src = GgufFile.open(in)) {
            Map<String, BitSet> zeroed = new HashMap<>();
            for (var e : rowsByTensor.entrySet()) {
                if (!src.containsTensor(e.getKey())) {
                    throw new IllegalArgumentException("no tensor '" + e.getKey() + "' in " + in);
                }
                TensorInfo t = src.tensor(e.getKey());
                BitSet rows = new BitSet();
                for (int r : e.getValue()) {
                    if (r < 0 || r >= t.rows()) {
                        throw new IllegalArgumentException("row " + r + " is out of range for tensor '" + t.name() + "' (" + t.rows() + " rows)");
                    }
                    rows.set(r);
                }
                zeroed.put(t.name(), rows);
            }
            GgufWriter w = new GgufWriter();
            src.metadata().forEach(w::put); // general.alignment included: same layout as the source
            for (TensorInfo t : src.tensors().values()) {
                BitSet rows = zeroed.get(t.name());
                if (rows == null || rows.isEmpty()) {
                    w.copyTensor(src, t.name());
                    continue;
                }
                MemorySegment data = src.tensorData(t.name());
                long rowBytes = t.rowBytes();
                w.addEncodedTensor(t.name(), t.type(), t.shape(), (r, dst) -> {
                    if (r < Integer.MAX_VALUE && rows.get((int) r)) {
                        dst.fill((byte) 0);
                    } else {
                        dst.copyFrom(data.asSlice(r * rowBytes, rowBytes));
                    }
                });
            }
            w.write(out);
        }
    }
}
