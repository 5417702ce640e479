package org.neuronscope.methods;

import java.util.Arrays;
import java.util.Locale;

/**
 * What an intervention does to the neurons it is applied to (docs/METHODS.md §6): the one vocabulary of
 * the library, the experiments and the command line. {@link InterventionMask#of} turns it, a neuron
 * set and the set's chosen groups into per-layer masks {@code a ← scale·a + shift}.
 *
 * <p>The text form (files, {@code --mode}): {@code deactivate}, {@code set:<c>}, {@code scale:<s>},
 * {@code minimum} (the per-layer minima are supplied from statistics), {@code minimum:call} (the
 * minimum of each call's activation tensor, as MINER's code), {@code complementary} (every neuron but
 * the set's deactivated), {@code complementary:minimum} and {@code complementary:minimum:call}.
 */
public sealed interface Intervention extends java.io.Serializable {
    /** a = 0. */
    record Deactivate() implements Intervention {
        @Override
        public String toString() {
            return "deactivate";
        }
    }

    /** a = c. */
    record SetTo(float value) implements Intervention {
        public SetTo {
            requireFinite(value, "set");
        }

        @Override
        public String toString() {
            return "set:" + value;
        }
    }

    /** a = s·a (amplify or damp). */
    record Scale(float factor) implements Intervention {
        public Scale {
            requireFinite(factor, "scale");
        }

        @Override
        public String toString() {
            return "scale:" + factor;
        }
    }

    /**
     * MINER's "set to the minimum": a neuron of layer l is set to {@code layerMinima[l]}, the smallest
     * value the activation of layer l took on a dataset ({@link InterventionMask#layerMinima}). Parsed
     * from text without the minima ({@link #needsMinima()}): supply them with {@link #withMinima}.
     */
    record SetToMinimum(double[] layerMinima) implements Intervention {
        public SetToMinimum {
            if (layerMinima != null) {
                layerMinima = layerMinima.clone();
                for (int l = 0; l < layerMinima.length; l++) {
                    if (!Double.isFinite(layerMinima[l])) {
                        throw new IllegalArgumentException("the minimum of layer " + l + " is " + layerMinima[l]);
                    }
                }
            }
        }

        @Override
        public double[] layerMinima() {
            return layerMinima == null ? null : layerMinima.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SetToMinimum m && Arrays.equals(layerMinima, m.layerMinima);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(layerMinima);
        }

        @Override
        public String toString() {
            return "minimum";
        }
    }

    /**
     * MINER's code's "set to the minimum" ({@code utils/func.py:252-254}, deactivation value −1): a
     * neuron is set to {@code output.min()}, the smallest value of the layer's activation tensor in the
     * current call (every position and neuron of the layer in that decode's micro-batch, before the
     * ablation), computed anew at every call: a prefill's minimum runs over all its positions, a
     * one-token generation step's over that token's neurons only. Computed in the graph.
     */
    record SetToCallMinimum() implements Intervention {
        @Override
        public String toString() {
            return "minimum:call";
        }
    }

    /** {@code others} applied to every neuron <em>except</em> the chosen ones (MINER's complementary ablation). */
    record Complementary(Intervention others) implements Intervention {
        public Complementary {
            if (!(others instanceof Deactivate || others instanceof SetToMinimum || others instanceof SetToCallMinimum)) {
                throw new IllegalArgumentException("complementary ablation deactivates or sets to the minimum, not " + others);
            }
        }

        @Override
        public String toString() {
            return others instanceof Deactivate ? "complementary" : "complementary:" + others;
        }
    }

    static Intervention deactivate() {
        return new Deactivate();
    }

    static Intervention setTo(float value) {
        return new SetTo(value);
    }

    static Intervention scale(float factor) {
        return new Scale(factor);
    }

    static Intervention complementary() {
        return new Complementary(new Deactivate());
    }

    /** Whether this sets neurons to the minimum of each call's tensor ({@link SetToCallMinimum}, also complementary). */
    default boolean usesCallMinimum() {
        return this instanceof SetToCallMinimum || this instanceof Complementary c && c.others() instanceof SetToCallMinimum;
    }

    /** Whether this needs per-layer minima that it does not have yet. */
    default boolean needsMinima() {
        return switch (this) {
            case SetToMinimum m -> m.layerMinima() == null;
            case Complementary c -> c.others().needsMinima();
            default -> false;
        };
    }

    /** This intervention with its minimum (if it has one) set to {@code layerMinima}. */
    default Intervention withMinima(double[] layerMinima) {
        return switch (this) {
            case SetToMinimum m -> new SetToMinimum(layerMinima);
            case Complementary c -> new Complementary(c.others().withMinima(layerMinima));
            default -> this;
        };
    }

    /** Parses the text form (see the class comment); the inverse of {@code toString()}. */
    static Intervention parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("an intervention is required (deactivate, set:<c>, scale:<s>, minimum, minimum:call, complementary)");
        }
        String t = text.strip().toLowerCase(Locale.ROOT);
        int colon = t.indexOf(':');
        String kind = colon < 0 ? t : t.substring(0, colon);
        String arg = colon < 0 ? null : t.substring(colon + 1);
        return switch (kind) {
            case "deactivate" -> noArgument(new Deactivate(), arg, text);
            case "minimum", "set_to_min", "set-to-minimum" -> minimum(arg, text);
            case "set" -> new SetTo(number(arg, text));
            case "scale" -> new Scale(number(arg, text));
            case "complementary" -> arg == null ? complementary() : new Complementary(parse(arg));
            default -> throw new IllegalArgumentException("unknown intervention '" + text
                    + "' (deactivate, set:<c>, scale:<s>, minimum, minimum:call, complementary, complementary:minimum, complementary:minimum:call)");
        };
    }

    /** {@code minimum} (per-layer minima from statistics) or {@code minimum:call} (each call's tensor minimum). */
    private static Intervention minimum(String arg, String text) {
        if (arg == null) {
            return new SetToMinimum(null);
        }
        if (arg.equals("call")) {
            return new SetToCallMinimum();
        }
        throw new IllegalArgumentException("'" + text + "': minimum takes no value, or 'call' (minimum:call: the minimum of each call's "
                + "activation tensor); the static per-layer minimum is plain 'minimum'");
    }

    private static Intervention noArgument(Intervention i, String arg, String text) {
        if (arg != null) {
            throw new IllegalArgumentException("'" + text + "': " + i + " takes no value");
        }
        return i;
    }

    private static float number(String arg, String text) {
        if (arg == null || arg.isEmpty()) {
            throw new IllegalArgumentException("'" + text + "' needs a value, e.g. set:0 or scale:2");
        }
        try {
            return Float.parseFloat(arg);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "': '" + arg + "' is not a number");
        }
    }

    private static void requireFinite(float v, String what) {
        if (!Float.isFinite(v)) {
            throw new IllegalArgumentException(what + " needs a finite value, got " + v);
        }
    }
}
