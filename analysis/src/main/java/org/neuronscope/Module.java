package org.neuronscope;

import java.util.Locale;

/**
 * The part of a multimodal model a neuron belongs to: the language model, the vision or audio
 * encoder, or the projector's MLP that maps an encoder's output into the language model's
 * embeddings (MMNeuron's modules). A neuron is named by its module, its {@link HookPoint} and its
 * layer: {@code vision.ffn.act} layer 3 neuron 17. The language model's points keep their bare
 * names ({@code ffn.act}).
 *
 * <p>Not to be confused with {@link java.lang.Module} (Java's module system): this one is always
 * written {@code org.neuronscope.Module} or imported by name.
 */
public enum Module {
    LANGUAGE("language"),
    VISION("vision"),
    AUDIO("audio"),
    PROJECTOR("projector");

    private final String id;

    Module(String id) {
        this.id = id;
    }

    /** The stable name, as files and the command line write it ({@code vision}). */
    public String id() {
        return id;
    }

    /** Whether the module is an encoder part run by mtmd (everything but the language model). */
    public boolean isEncoder() {
        return this != LANGUAGE;
    }

    /** The name of a hook point in this module: {@code vision.ffn.act}; the language model's is {@code ffn.act}. */
    public String pointName(HookPoint point) {
        return this == LANGUAGE ? point.id() : id + "." + point.id();
    }

    /** The FFN hook points the encoder hooks reach in every encoder module (every FFN built by mtmd's build_ffn). */
    public static HookPoint[] encoderPoints() {
        return new HookPoint[] {HookPoint.FFN_PRE, HookPoint.FFN_ACT, HookPoint.FFN_POST};
    }

    /**
     * The hook points of an encoder module: the FFN points, and for the vision and audio encoders also
     * their layers' output ({@code resid.post}; the projector's MLP has no layer output).
     */
    public static HookPoint[] encoderPoints(Module module) {
        return switch (module) {
            case VISION, AUDIO -> new HookPoint[] {HookPoint.FFN_PRE, HookPoint.FFN_ACT, HookPoint.FFN_POST, HookPoint.RESID_POST};
            case PROJECTOR -> encoderPoints();
            case LANGUAGE -> throw new IllegalArgumentException("the language model is not an encoder module");
        };
    }

    /** The module of a name: its id ({@code vision}) or its enum name ({@code VISION}). */
    public static Module parse(String name) {
        if (name != null) {
            for (Module m : values()) {
                if (m.id.equals(name) || m.name().equals(name.toUpperCase(Locale.ROOT))) {
                    return m;
                }
            }
        }
        throw new IllegalArgumentException("unknown module '" + name + "' (language, vision, audio, projector)");
    }

    /**
     * A qualified hook point name: {@code vision.ffn.act} → (VISION, FFN_ACT); a bare one
     * ({@code ffn.act}) is the language model's.
     */
    public static Module moduleOf(String qualifiedPoint) {
        if (qualifiedPoint == null) {
            throw new IllegalArgumentException("hook point name is null");
        }
        int dot = qualifiedPoint.indexOf('.');
        if (dot > 0) {
            String head = qualifiedPoint.substring(0, dot);
            for (Module m : values()) {
                if (m != LANGUAGE && m.id.equals(head)) {
                    return m;
                }
            }
        }
        return LANGUAGE;
    }

    /** The hook point of a qualified name ({@code projector.ffn.pre} → FFN_PRE). */
    public static HookPoint pointOf(String qualifiedPoint) {
        Module m = moduleOf(qualifiedPoint);
        return HookPoint.parse(m == LANGUAGE ? qualifiedPoint : qualifiedPoint.substring(m.id.length() + 1));
    }

    @Override
    public String toString() {
        return id;
    }
}
