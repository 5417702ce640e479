package org.neuronscope.cli;

import org.neuronscope.HookPoint;
import org.neuronscope.methods.AblationExport;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code neuronscope export}: a neuron set's ablation written into the weights, as a GGUF any llama.cpp program loads. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a copy of a GGUF model with a neuron set deactivated or scaled in its weights (no hooks needed to run it).")
final class ExportCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Option(names = "--model", required = true, description = "GGUF model to copy")
    Path model;
    @Option(names = "--set", required = true, description = "neuron set JSON (from 'neuronscope select')")
    Path set;
    @Option(names = "--groups", split = ",", description = "groups of the set to write (default: all)")
    List<String> groups;
    @Option(names = "--mode", defaultValue = "deactivate",
            description = "deactivate, scale:<s>, or complementary[:deactivate|:scale:<s>]; set:<c> for ffn.up/ffn.down sets of a model "
                    + "with biases there (elsewhere set to a value ≠ 0 has no exact weight edit, and minimum has none anywhere: refused) "
                    + "(default: ${DEFAULT-VALUE})")
    Intervention mode;
    @Option(names = "--out", required = true, description = "the GGUF to write (not the model itself)")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a directory; give the path of the GGUF file to write");
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new IllegalArgumentException("--out " + out + ": directory " + parent + " does not exist");
        }
        if (mode.needsMinima()) {
            throw new IllegalArgumentException("--mode " + mode + " sets neurons to the smallest observed activation: no weight edit equals "
                    + "that for every input, so it cannot be exported (deactivate or scale can)");
        }
        NeuronSet s = NeuronSet.load(set);
        // deactivating neuron i is one weight edit wherever it was selected in the FFN; scaling is defined at ffn.act / ffn.post,
        // and at ffn.up / ffn.down (rows of the projection and their biases; set:c there too, through the bias)
        boolean ffn = s.hookPoint() == HookPoint.FFN_PRE || s.hookPoint().acceptsInterventions();
        if (!ffn || (s.hookPoint() == HookPoint.FFN_PRE && !(mode instanceof Intervention.Deactivate
                || mode instanceof Intervention.Complementary c && c.others() instanceof Intervention.Deactivate))) {
            throw new IllegalArgumentException(set + " selects neurons at " + s.hookPoint() + ": export writes "
                    + (ffn ? "only deactivation for ffn.pre sets" : "FFN neurons (ffn.pre, ffn.act, ffn.post) and projection outputs "
                    + "(ffn.up, ffn.down), not " + s.hookPoint()));
        }
        List<String> g = groups == null ? s.groupNames() : groups;
        for (String name : g) {
            if (!s.hasGroup(name)) {
                throw new IllegalArgumentException("--groups: " + set + " has no group '" + name + "' (it has " + s.groupNames() + ")");
            }
        }
        InterventionMask mask = InterventionMask.of(s, g, mode);
        if (mask.changed() == 0) {
            throw new IllegalArgumentException("--mode " + mode + " with groups " + g + " changes no neuron: nothing to export"
                    + (mode instanceof Intervention.Scale ? " (give the factor: scale:<s>)" : ""));
        }
        Map<String, String> provenance = new LinkedHashMap<>();
        provenance.put("set", set.getFileName().toString());
        provenance.put("method", s.method());
        provenance.put("hook_point", s.hookPoint().id());
        provenance.put("groups", String.join(",", g));
        provenance.put("mode", mode.toString());
        AblationExport.Summary summary = AblationExport.write(model, s.hookPoint(), mask, out, provenance);
        var o = spec.commandLine().getOut();
        o.println("wrote " + out + ": " + mode + " of " + summary.neurons() + " neurons (groups " + g + " of " + set.getFileName()
                + "), per layer " + Arrays.toString(summary.neuronsPerLayer()));
        o.println("tensors rewritten: " + summary.editedTensors().size() + "; all others copied byte for byte");
        return 0;
    }
}
