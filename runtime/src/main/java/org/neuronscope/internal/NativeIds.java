package org.neuronscope.internal;

import org.neuronscope.HookPoint;

/** The C enums of the hooks' API ({@code llama-neuron-hooks.h}) for the library's Java enums. */
public final class NativeIds {
    private NativeIds() {
    }

    /** {@code enum llama_nh_point}. */
    public static int of(HookPoint point) {
        return switch (point) {
            case FFN_GATE -> 0;
            case FFN_ACT -> 1;
            case FFN_OUT -> 2;
            case RESID_POST -> 3;
            case ATTN_PROBS -> 4;
        };
    }
}
