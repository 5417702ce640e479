package org.neuronscope.gguf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;

/** Copies of GGUF files with some weights changed; every other byte of data is copied unchanged. */
public final class GgufEdits {
    private GgufEdits() {
    }

    /**
     * Writes a copy of {@code in} to {@code out} in which the given rows (ggml rows: index over all
     * dimensions but the first) of the given tensors are zero. Exact for every tensor type: a row is a
     * whole number of quantisation blocks, and all-zero bytes decode to zero in every ggml format
     * used for weights (F32, F16, BF16, Q8_0, Q4_0, K-quants: scale 0).
     */
    public static void zeroRows(Path in, Path out, Map<String, int[]> rowsByTensor) {
        try (GgufFile src = GgufFile.open(in); Arena arena = Arena.ofConfined()) {
            for (var e : rowsByTensor.entrySet()) {
                TensorInfo t = src.tensor(e.getKey());
                for (int r : e.getValue()) {
                    if (r < 0 || r >= t.rows()) {
                        throw new IllegalArgumentException("row " + r + " is out of range for tensor '" + t.name() + "' (" + t.rows() + " rows)");
                    }
                }
            }
            GgufWriter w = new GgufWriter();
            if (src.containsKey("general.alignment")) {
                w.put("general.alignment", src.metadata().get("general.alignment"));
            }
            w.copyMetadata(src, "");
            for (TensorInfo t : src.tensors().values()) {
                MemorySegment data = src.tensorData(t.name());
                int[] rows = rowsByTensor.get(t.name());
                if (rows != null && rows.length > 0) {
                    MemorySegment copy = arena.allocate(data.byteSize(), 64);
                    copy.copyFrom(data);
                    for (int r : rows) {
                        copy.asSlice(r * t.rowBytes(), t.rowBytes()).fill((byte) 0);
                    }
                    data = copy;
                }
                w.addRawTensor(t.name(), t.type(), t.shape(), data);
            }
            w.write(out);
        }
    }
}
