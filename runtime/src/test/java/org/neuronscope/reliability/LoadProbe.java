package org.neuronscope.reliability;

import org.neuronscope.model.Model;
import org.neuronscope.model.ModelParams;

import java.nio.file.Path;

/**
 * Child-JVM main: loads a model file and prints {@code LOADED} or {@code REFUSED <exception>}.
 * Arguments: the file, then {@code checked} (the Java checks first) or {@code raw} (straight to llama.cpp).
 * A file llama.cpp aborts on ends this JVM with SIGABRT instead of printing anything.
 */
public final class LoadProbe {
    private LoadProbe() {
    }

    public static void main(String[] args) {
        boolean checked = args[1].equals("checked");
        try (Model m = Model.load(Path.of(args[0]), ModelParams.defaults().withValidation(checked))) {
            System.out.println("LOADED " + m.layerCount() + " layers");
        } catch (RuntimeException e) {
            System.out.println("REFUSED " + e.getClass().getName() + ": " + e.getMessage());
        }
    }
}
