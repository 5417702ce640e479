package org.neuronscope.methods;

import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.UnsupportedArchitectureException;
import org.neuronscope.gguf.GgufFile;
import org.neuronscope.gguf.GgufWriter;
import org.neuronscope.gguf.Quantization;
import org.neuronscope.gguf.TensorInfo;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes an intervention into a model's weights: a copy of a GGUF that any llama.cpp program loads,
 * and that computes what the in-graph intervention computes (docs/METHODS.md §6, "export").
 *
 * <p>Neuron {@code i} of layer {@code l} with {@code a ← s·a}:
 * <ul>
 *   <li>gated FFN ({@code act(gate·x) ⊙ up·x}): row {@code i} of {@code ffn_up} (and its bias) times
 *       {@code s}; for {@code s = 0} row {@code i} of {@code ffn_gate} (and its bias) is zeroed too;</li>
 *   <li>non-gated FFN ({@code act(up·x)}): {@code s = 0} zeroes row {@code i} of {@code ffn_up} and its
 *       bias (act(0) = 0 for GELU, SiLU and ReLU); any other {@code s} scales column {@code i} of
 *       {@code ffn_down}, since act(s·z) ≠ s·act(z).</li>
 * </ul>
 * Zeroed rows are exact in every tensor type (all-zero bytes decode to 0 in every ggml format). A scaled
 * row is decoded, multiplied and encoded again, which F32, F16, BF16 and Q8_0 allow (Q8_0 re-quantises
 * the row: its scales change, so values round again); other types are refused before anything is
 * written. A shift ({@code set:c} with c ≠ 0, MINER's minimum) has no weight edit that equals it for
 * every input (a = c makes the neuron's output c·up·x or c, neither of which is in the weights' form),
 * and is refused with that reason.
 *
 * <p>Masks selected at ffn.up or ffn.down ({@link #write(Path, HookPoint, InterventionMask, Path, Map)})
 * act on a projection's output instead: unit i is row i of {@code ffn_up} or {@code ffn_down}, and
 * {@code x ← s·x + c} is that row times s and its bias element {@code s·b + c}, exactly, gated or not.
 * A constant (c ≠ 0) needs the bias tensor; a model without one is refused. MINER's "minimum" (the
 * current tensor's minimum at every call) depends on the input and is refused at every point.
 */
public final class AblationExport {
    /** Metadata keys the export adds, so that a written model says what was done to it. */
    public static final String METADATA_PREFIX = "neuronscope.export.";

    /** What an export changed: neurons per layer, and the tensors that were rewritten. */
    public record Summary(int[] neuronsPerLayer, List<String> editedTensors) {
        public Summary {
            neuronsPerLayer = neuronsPerLayer.clone();
            editedTensors = List.copyOf(editedTensors);
        }

        @Override
        public int[] neuronsPerLayer() {
            return neuronsPerLayer.clone();
        }

        /** Neurons changed, over all layers. */
        public int neurons() {
            return Arrays.stream(neuronsPerLayer).sum();
        }
    }

    private AblationExport() {
    }

    /**
     * Writes {@code mask} into a copy of {@code model} at {@code out}.
     *
     * @param provenance written as {@code neuronscope.export.<key>} string metadata (set file, groups, mode)
     * @throws IllegalArgumentException           if the mask has a shift, or does not fit the model's layers and FFN width,
     *                                            or a scaled tensor's type cannot be re-encoded (nothing is written)
     * @throws UnsupportedArchitectureException    if a layer has no separate {@code ffn_up} (mixture of experts, fused gate+up)
     */
    public static Summary write(Path model, InterventionMask mask, Path out, Map<String, String> provenance) {
        return write(model, Module.LANGUAGE, mask, out, provenance);
    }

    /**
     * Writes {@code mask} over the neurons of one {@code module} into a copy of a model or of a
     * multimodal projector (mmproj) that mtmd loads unchanged: LANGUAGE as {@link #write(Path,
     * InterventionMask, Path, Map)}; VISION and AUDIO edit the encoder's blocks ({@code v.blk.L.ffn_up},
     * {@code a.blk.L.ffn_up}, non-gated or gated alike, with their biases); PROJECTOR edits the
     * projector's MLP ({@code mm.0}, then {@code mm.2}: Qwen2-VL's merger), one layer. MANU's encoder
     * pruning is a deactivation: rows of fc1 zeroed together with their biases.
     */
    public static Summary write(Path model, Module module, InterventionMask mask, Path out, Map<String, String> provenance) {
        return write(model, module, HookPoint.FFN_ACT, mask, out, provenance);
    }

    /**
     * Writes {@code mask}, selected at {@code point} of the language model, into a copy of {@code model}.
     * ffn.pre, ffn.act and ffn.post mask FFN neurons ({@link #write(Path, InterventionMask, Path, Map)}).
     * ffn.up and ffn.down mask the projections' outputs: unit i is row i of {@code blk.L.ffn_up}
     * ({@code n_ff} rows) or of {@code blk.L.ffn_down} ({@code n_embd} rows, an output dimension), and
     * {@code x ← s·x} is that row and bias element i times s — exactly the projection's output scaled,
     * which is what the in-graph mask at that point computes, gated or not.
     */
    public static Summary write(Path model, HookPoint point, InterventionMask mask, Path out, Map<String, String> provenance) {
        return write(model, Module.LANGUAGE, point, mask, out, provenance);
    }

    private static Summary write(Path model, Module module, HookPoint point, InterventionMask mask, Path out, Map<String, String> provenance) {
        boolean projection = point == HookPoint.FFN_UP || point == HookPoint.FFN_DOWN;
        if (!projection && point != HookPoint.FFN_PRE && point != HookPoint.FFN_ACT && point != HookPoint.FFN_POST) {
            throw new IllegalArgumentException("export writes masks at ffn.pre, ffn.act, ffn.post, ffn.up and ffn.down, not at " + point);
        }
        if (projection && module != Module.LANGUAGE) {
            throw new IllegalArgumentException(point + " masks are of the language model; the " + module.id() + " encoder has no " + point);
        }
        if (mask.usesCallMinimum()) {
            throw new IllegalArgumentException("the mask sets neurons to the minimum of each call's activation tensor (minimum:call), a value "
                    + "that depends on the input: no weight edit equals that, so it cannot be exported (deactivate or scale can)");
        }
        if (model.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("the export writes a copy: model and output are both " + model);
        }
        try (GgufFile src = GgufFile.open(model)) {
            String arch = src.architecture();
            int layers = layerCount(src, arch, module);
            if (mask.layers() != layers) {
                throw new IllegalArgumentException("the neuron set has " + mask.layers() + " layers, " + model.getFileName() + " has " + layers);
            }
            Map<String, float[]> rowFactors = new LinkedHashMap<>(); // tensor -> factor per row
            Map<String, float[]> columnFactors = new LinkedHashMap<>(); // tensor -> factor per element of every row
            Map<String, float[]> biasAddends = new LinkedHashMap<>(); // bias tensor -> added after its factor (ffn.up/ffn.down shifts)
            int[] perLayer = new int[layers];
            float[][] scales = mask.scale();
            float[][] shifts = mask.shift();
            for (int l = 0; l < layers; l++) {
                float[] scale = scales[l];
                float[] shift = shifts[l];
                boolean touched = false;
                for (int n = 0; n < scale.length; n++) {
                    if (shift[n] != 0f && projection) {
                        perLayer[l]++; // x ← s·x + c: the row times s, the bias s·b + c
                        touched = true;
                        continue;
                    }
                    if (shift[n] != 0f) {
                        throw new IllegalArgumentException("neuron " + n + " of layer " + l + " is set to a value (a = " + shift[n]
                                + "): no weight edit equals that for every input; export can write deactivate, scale and complementary "
                                + "with either (set:0 is deactivate)");
                    }
                    if (scale[n] != 1f) {
                        perLayer[l]++;
                        touched = true;
                    }
                }
                if (touched && projection) {
                    planProjection(src, arch, l, point, scale, shift, rowFactors, columnFactors, biasAddends);
                } else if (touched) {
                    planLayer(src, arch, l, blockPrefix(module, l), scale, rowFactors, columnFactors);
                }
            }
            checkEncodable(src, rowFactors, true);
            checkEncodable(src, columnFactors, false);

            GgufWriter w = new GgufWriter();
            src.metadata().forEach(w::put);
            provenance.forEach((k, v) -> w.putString(METADATA_PREFIX + k, v));
            List<String> edited = new ArrayList<>();
            for (TensorInfo t : src.tensors().values()) {
                float[] rows = rowFactors.get(t.name());
                float[] columns = columnFactors.get(t.name());
                float[] addends = biasAddends.get(t.name());
                if (rows == null && columns == null) {
                    w.copyTensor(src, t.name());
                    continue;
                }
                edited.add(t.name());
                MemorySegment data = src.tensorData(t.name());
                long rowBytes = t.rowBytes();
                float[] values = new float[(int) t.rowLength()];
                w.addEncodedTensor(t.name(), t.type(), t.shape(), (r, dst) -> {
                    MemorySegment in = data.asSlice(r * rowBytes, rowBytes);
                    float f = rows == null ? 1f : rows[(int) r];
                    if (f == 0f) {
                        dst.fill((byte) 0);
                    } else if (f == 1f && columns == null) {
                        dst.copyFrom(in);
                    } else {
                        Quantization.decodeRow(t.type(), in, values);
                        for (int i = 0; i < values.length; i++) {
                            values[i] *= f * (columns == null ? 1f : columns[i]);
                        }
                        if (addends != null) {
                            for (int i = 0; i < values.length; i++) {
                                values[i] += addends[i];
                            }
                        }
                        Quantization.encodeRow(t.type(), values, dst);
                    }
                });
            }
            w.write(out);
            return new Summary(perLayer, edited);
        }
    }

    /** Layers of a module: the model's blocks, an encoder's blocks, or the projector's one MLP. */
    private static int layerCount(GgufFile src, String arch, Module module) {
        return switch (module) {
            case LANGUAGE -> src.getInt(arch + ".block_count");
            case VISION, AUDIO -> {
                String key = "clip." + module.id() + ".block_count";
                if (!src.containsKey(key)) {
                    throw new UnsupportedArchitectureException("cannot export into the " + module.id() + " encoder: " + src.path().getFileName()
                            + " has no " + key + " (not a projector with a " + module.id() + " encoder)");
                }
                yield src.getInt(key);
            }
            case PROJECTOR -> {
                if (!src.containsTensor("mm.0.weight") || !src.containsTensor("mm.2.weight")) {
                    throw new UnsupportedArchitectureException("cannot export into the projector of " + src.path().getFileName()
                            + ": export edits a projector MLP of mm.0 and mm.2 (Qwen2-VL's merger); this one has none");
                }
                yield 1;
            }
        };
    }

    /** The tensors of a layer's FFN are {@code <prefix>up.weight} and so on ("ffn_" for blocks; "mm." for the projector, resolved in planLayer). */
    private static String blockPrefix(Module module, int l) {
        return switch (module) {
            case LANGUAGE -> "blk." + l + ".";
            case VISION -> "v.blk." + l + ".";
            case AUDIO -> "a.blk." + l + ".";
            case PROJECTOR -> "mm.";
        };
    }

    /** Decides, for one layer, which rows and columns of which tensors change by what factor. */
    private static void planLayer(GgufFile src, String arch, int l, String blk, float[] scale,
                                  Map<String, float[]> rowFactors, Map<String, float[]> columnFactors) {
        boolean mlp = blk.equals("mm.");
        String up = mlp ? "mm.0.weight" : blk + "ffn_up.weight";
        String gate = mlp ? null : blk + "ffn_gate.weight"; // the projector MLPs export edits are not gated
        if (!src.containsTensor(up)) {
            String why = src.containsTensor(blk + "ffn_up_exps.weight") ? "a mixture-of-experts FFN (ffn_up_exps)" : "no tensor " + up;
            throw new UnsupportedArchitectureException("cannot export into layer " + l + " of this " + arch + " model: it has " + why
                    + "; export edits dense FFNs with separate ffn_up (and ffn_gate) tensors");
        }
        int n = scale.length;
        long upRows = src.tensor(up).rows();
        boolean gated = gate != null && src.containsTensor(gate);
        if (upRows != n || (gated && src.tensor(gate).rows() != n)) {
            String fused = !gated && upRows == 2L * n ? " (a fused gate+up tensor: not supported)" : "";
            throw new IllegalArgumentException("the neuron set has " + n + " neurons per layer, but " + up + " has " + upRows + " rows" + fused);
        }
        if (gated) {
            float[] upF = ones(n);
            float[] gateF = ones(n);
            boolean zeroes = false;
            for (int i = 0; i < n; i++) {
                upF[i] = scale[i];
                gateF[i] = scale[i] == 0f ? 0f : 1f;
                zeroes |= scale[i] == 0f;
            }
            rowFactors.put(up, upF);
            putBias(src, up.replace(".weight", ".bias"), upF, n, columnFactors);
            if (zeroes) { // only a deactivation touches the gate: a scaled neuron keeps it, and the summary names what changed
                rowFactors.put(gate, gateF);
                putBias(src, gate.replace(".weight", ".bias"), gateF, n, columnFactors);
            }
        } else {
            float[] upF = ones(n);
            float[] downF = ones(n);
            boolean scalesDown = false;
            for (int i = 0; i < n; i++) {
                if (scale[i] == 0f) {
                    upF[i] = 0f;
                } else if (scale[i] != 1f) {
                    downF[i] = scale[i];
                    scalesDown = true;
                }
            }
            rowFactors.put(up, upF);
            putBias(src, up.replace(".weight", ".bias"), upF, n, columnFactors);
            if (scalesDown) {
                String down = mlp ? "mm.2.weight" : blk + "ffn_down.weight";
                if (!src.containsTensor(down) || src.tensor(down).rowLength() != n) {
                    throw new UnsupportedArchitectureException("cannot scale layer " + l + "'s neurons of this " + arch
                            + " model: no ffn_down of row length " + n);
                }
                columnFactors.put(down, downF);
            }
        }
    }

    /** ffn.up / ffn.down: unit i is row i of the projection and element i of its bias, each times its factor. */
    private static void planProjection(GgufFile src, String arch, int l, HookPoint point, float[] scale, float[] shift,
                                       Map<String, float[]> rowFactors, Map<String, float[]> columnFactors,
                                       Map<String, float[]> biasAddends) {
        String name = "blk." + l + "." + (point == HookPoint.FFN_UP ? "ffn_up" : "ffn_down") + ".weight";
        if (!src.containsTensor(name)) {
            String why = src.containsTensor(name.replace(".weight", "_exps.weight")) ? "a mixture-of-experts FFN" : "no tensor " + name;
            throw new UnsupportedArchitectureException("cannot export " + point + " units into layer " + l + " of this " + arch + " model: it has "
                    + why + "; export edits dense FFNs");
        }
        int n = scale.length;
        long rows = src.tensor(name).rows();
        if (rows != n) {
            String fused = point == HookPoint.FFN_UP && rows == 2L * n ? " (a fused gate+up tensor: not supported)" : "";
            throw new IllegalArgumentException("the neuron set has " + n + " " + point + " units per layer, but " + name + " has " + rows
                    + " rows" + fused);
        }
        rowFactors.put(name, scale.clone());
        String bias = name.replace(".weight", ".bias");
        putBias(src, bias, scale.clone(), n, columnFactors);
        boolean shifted = false;
        for (float c : shift) {
            shifted |= c != 0f;
        }
        if (shifted) {
            // x ← s·x + c is the row times s and the bias s·b + c; without a bias tensor the constant has nowhere to go
            if (!src.containsTensor(bias)) {
                throw new IllegalArgumentException("layer " + l + "'s " + point + " units are set to a value: that is the row times s and "
                        + "its bias s·b + c, but this " + arch + " model has no " + bias + " (export adds no tensors); deactivate and scale "
                        + "can be written");
            }
            if (!(Quantization.canDecode(src.tensor(bias).type()) && Quantization.canEncode(src.tensor(bias).type()))) {
                throw new IllegalArgumentException(bias + " is " + src.tensor(bias).type() + ": a shifted bias must be re-encoded");
            }
            biasAddends.put(bias, shift.clone());
        }
    }

    private static void putBias(GgufFile src, String name, float[] factors, int n, Map<String, float[]> columnFactors) {
        if (src.containsTensor(name)) {
            if (src.tensor(name).elements() != n) {
                throw new IllegalArgumentException(name + " has " + src.tensor(name).elements() + " elements, expected " + n);
            }
            columnFactors.put(name, factors); // a bias is one row: its columns are the neurons
        }
    }

    private static void checkEncodable(GgufFile src, Map<String, float[]> factors, boolean byRow) {
        for (var e : factors.entrySet()) {
            TensorInfo t = src.tensor(e.getKey());
            boolean rewritten = false;
            for (float f : e.getValue()) {
                // a row only zeroed or copied never needs decoding; a scaled one, or any column edit, does
                rewritten |= !byRow || (f != 0f && f != 1f);
            }
            if (rewritten && !(Quantization.canDecode(t.type()) && Quantization.canEncode(t.type()))) {
                throw new IllegalArgumentException("scaling " + t.name() + " (" + t.type() + ") means re-encoding its rows, which is done for "
                        + "F32, F16, BF16 and Q8_0 only; deactivate (zeroed rows) works for every type");
            }
            if (t.rowLength() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(t.name() + " has rows too long to edit");
            }
        }
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        Arrays.fill(a, 1f);
        return a;
    }
}
