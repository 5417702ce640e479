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
import java.util.ArrayList;
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
    @Option(names = "--model", description = "GGUF model to copy (for sets of the language model)")
    Path model;
    @Option(names = "--mmproj", description = "projector (mmproj) GGUF to copy (for sets of the vision or audio encoder or the "
            + "projector's MLP: fc1 rows and their biases zeroed or scaled, a file mtmd loads unchanged)")
    Path mmproj;
    @Option(names = "--set", required = true, description = "neuron set JSON (from 'neuronscope select'); repeat it for sets of "
            + "several modules (one set per module and hook point), all written into the one copy they edit")
    List<Path> sets;
    @Option(names = "--mmproj-out", description = "the projector's copy when the sets edit both files (--out is then the model's)")
    Path mmprojOut;
    @Option(names = "--groups", split = ",", description = "groups of the set to write (default: all)")
    List<String> groups;
    @Option(names = "--mode", defaultValue = "deactivate",
            description = "deactivate, scale:<s>, or complementary[:deactivate|:scale:<s>]; set:<c> for ffn.up/ffn.down sets of a model "
                    + "with biases there (elsewhere set to a value ≠ 0 has no exact weight edit, and minimum and minimum:call have none anywhere: refused) "
                    + "(default: ${DEFAULT-VALUE})")
    Intervention mode;
    @Option(names = "--out", required = true, description = "the GGUF to write: the copy of --model, or of --mmproj when every set "
            + "is an encoder's (not the source itself)")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (mode.needsMinima() || mode.usesCallMinimum()) {
            throw new IllegalArgumentException("--mode " + mode + " sets neurons to the smallest observed activation: no weight edit equals "
                    + "that for every input, so it cannot be exported (deactivate or scale can)");
        }
        List<NeuronSet> loaded = new ArrayList<>();
        for (Path p : sets) {
            loaded.add(NeuronSet.load(p));
        }
        List<Integer> language = new ArrayList<>();
        List<Integer> encoder = new ArrayList<>();
        java.util.Set<String> points = new java.util.HashSet<>();
        for (int i = 0; i < loaded.size(); i++) {
            NeuronSet s = loaded.get(i);
            check(sets.get(i), s);
            if (!points.add(s.qualifiedPoint())) {
                throw new IllegalArgumentException("two sets are at " + s.qualifiedPoint() + ": one set per module and hook point (merge them)");
            }
            (s.module().isEncoder() ? encoder : language).add(i);
        }
        if (!language.isEmpty() && model == null) {
            throw new IllegalArgumentException(sets.get(language.getFirst()) + " holds language-model neurons: give the model to copy (--model)");
        }
        if (!encoder.isEmpty() && mmproj == null) {
            throw new IllegalArgumentException(sets.get(encoder.getFirst()) + " holds " + loaded.get(encoder.getFirst()).qualifiedPoint()
                    + " neurons, an encoder's: give the projector to copy (--mmproj)");
        }
        if (!language.isEmpty() && !encoder.isEmpty() && mmprojOut == null) {
            throw new IllegalArgumentException("the sets edit both the model and the projector: --out is the model's copy, give the "
                    + "projector's with --mmproj-out");
        }
        if (mmprojOut != null && (language.isEmpty() || encoder.isEmpty())) {
            throw new IllegalArgumentException("--mmproj-out names the projector's copy when the sets edit both files; these edit only the "
                    + (encoder.isEmpty() ? "model" : "projector") + " (write it with --out)");
        }
        Path modelOut = language.isEmpty() ? null : out;
        Path projectorOut = encoder.isEmpty() ? null : language.isEmpty() ? out : mmprojOut;
        for (Path p : java.util.stream.Stream.of(modelOut, projectorOut).filter(java.util.Objects::nonNull).toList()) {
            checkOut(p);
        }
        if (modelOut != null && modelOut.toAbsolutePath().normalize().equals(projectorOut == null ? null : projectorOut.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("--out and --mmproj-out are the same file " + out);
        }
        List<InterventionMask> masks = new ArrayList<>();
        for (int i = 0; i < loaded.size(); i++) {
            masks.add(mask(sets.get(i), loaded.get(i)));
        }
        var o = spec.commandLine().getOut();
        if (modelOut != null) {
            write(model, modelOut, language, loaded, masks, o);
        }
        if (projectorOut != null) {
            write(mmproj, projectorOut, encoder, loaded, masks, o);
        }
        return 0;
    }

    /** The sets {@code which} written one after the other into a copy of {@code source} at {@code target}. */
    private void write(Path source, Path target, List<Integer> which, List<NeuronSet> loaded, List<InterventionMask> masks,
                       java.io.PrintWriter o) throws java.io.IOException {
        Path from = source;
        List<Path> temporary = new ArrayList<>();
        try {
            for (int k = 0; k < which.size(); k++) {
                int i = which.get(k);
                NeuronSet s = loaded.get(i);
                // every set but the last goes to a temporary copy the next one reads
                Path to = k == which.size() - 1 ? target
                        : Files.createTempFile(target.toAbsolutePath().getParent(), ".neuronscope-export-", ".gguf");
                if (to != target) {
                    temporary.add(to);
                }
                List<String> g = groups == null ? s.groupNames() : groups;
                Map<String, String> provenance = new LinkedHashMap<>();
                // one set: the keys as before; several: each under its module and hook point
                String key = which.size() == 1 ? "" : s.qualifiedPoint() + ".";
                provenance.put(key + "set", sets.get(i).getFileName().toString());
                provenance.put(key + "method", s.method());
                provenance.put(key + "hook_point", s.hookPoint().id());
                if (s.module().isEncoder()) {
                    provenance.put(key + "module", s.module().id());
                }
                provenance.put(key + "groups", String.join(",", g));
                provenance.put(key + "mode", mode.toString());
                AblationExport.Summary summary = s.module().isEncoder()
                        ? AblationExport.write(from, s.module(), masks.get(i), to, provenance)
                        : AblationExport.write(from, s.hookPoint(), masks.get(i), to, provenance);
                o.println((k == which.size() - 1 ? "wrote " + target : "edited") + ": " + mode + " of " + summary.neurons() + " "
                        + s.qualifiedPoint() + " neurons (groups " + g + " of " + sets.get(i).getFileName() + "), per layer "
                        + Arrays.toString(summary.neuronsPerLayer()) + "; tensors rewritten: " + summary.editedTensors().size());
                from = to;
            }
            o.println(target.getFileName() + ": all other tensors copied byte for byte from " + source.getFileName());
        } finally {
            for (Path t : temporary) {
                Files.deleteIfExists(t);
            }
        }
    }

    /** The set selects FFN neurons that a weight edit can change in the requested mode. */
    private void check(Path file, NeuronSet s) {
        // deactivating neuron i is one weight edit wherever it was selected in the FFN; scaling is defined at ffn.act / ffn.post,
        // and at ffn.up / ffn.down (rows of the projection and their biases; set:c there too, through the bias)
        boolean ffn = s.hookPoint() == HookPoint.FFN_PRE || s.hookPoint().acceptsInterventions();
        if (!ffn || (s.hookPoint() == HookPoint.FFN_PRE && !(mode instanceof Intervention.Deactivate
                || mode instanceof Intervention.Complementary c && c.others() instanceof Intervention.Deactivate))) {
            throw new IllegalArgumentException(file + " selects neurons at " + s.qualifiedPoint() + ": export writes "
                    + (ffn ? "only deactivation for ffn.pre sets" : "FFN neurons (ffn.pre, ffn.act, ffn.post) and projection outputs "
                    + "(ffn.up, ffn.down), not " + s.hookPoint()));
        }
    }

    private InterventionMask mask(Path file, NeuronSet s) {
        List<String> g = groups == null ? s.groupNames() : groups;
        for (String name : g) {
            if (!s.hasGroup(name)) {
                throw new IllegalArgumentException("--groups: " + file + " has no group '" + name + "' (it has " + s.groupNames() + ")");
            }
        }
        InterventionMask mask = InterventionMask.of(s, g, mode);
        if (mask.changed() == 0) {
            throw new IllegalArgumentException("--mode " + mode + " with groups " + g + " changes no neuron of " + file + ": nothing to export"
                    + (mode instanceof Intervention.Scale ? " (give the factor: scale:<s>)" : ""));
        }
        return mask;
    }

    private static void checkOut(Path target) {
        if (Files.isDirectory(target)) {
            throw new IllegalArgumentException(target + " is a directory; give the path of the GGUF file to write");
        }
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new IllegalArgumentException(target + ": directory " + parent + " does not exist");
        }
    }
}
