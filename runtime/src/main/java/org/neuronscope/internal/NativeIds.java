package org.neuronscope.internal;

import org.neuronscope.HookPoint;
import org.neuronscope.stats.Statistic;

/** The C enums of the hooks' API ({@code llama-neuron-hooks.h}) for the library's Java enums. */
public final class NativeIds {
    private NativeIds() {
    }

    /** {@code enum llama_nh_point}. */
    public static int of(HookPoint point) {
        return switch (point) {
            case FFN_PRE -> 0;
            case FFN_ACT -> 1;
            case FFN_POST -> 2;
            case RESID_POST -> 3;
            case ATTN_PROBS -> 4;
            case FFN_UP -> 5;
            case FFN_DOWN -> 6;
        };
    }

    /** The hook point of an {@code enum llama_nh_point} value. */
    public static HookPoint point(int nativeId) {
        return switch (nativeId) {
            case 0 -> HookPoint.FFN_PRE;
            case 1 -> HookPoint.FFN_ACT;
            case 2 -> HookPoint.FFN_POST;
            case 3 -> HookPoint.RESID_POST;
            case 4 -> HookPoint.ATTN_PROBS;
            case 5 -> HookPoint.FFN_UP;
            case 6 -> HookPoint.FFN_DOWN;
            default -> throw new IllegalArgumentException("unknown native hook point " + nativeId);
        };
    }

    /**
     * {@code enum llama_nh_stat} for a statistic the graph reduces; WEIGHTED_SUM is the graph's sum
     * under the caller's token weights. -1 for those it does not reduce (MAX and MIN come from taps).
     */
    public static int of(Statistic statistic) {
        return switch (statistic) {
            case COUNT -> 0;
            case COUNT_ABS -> 1;
            case SUM, WEIGHTED_SUM -> 2;
            case SUM_SQ -> 3;
            case SUM_ABS -> 4;
            case MAX, MIN -> -1;
        };
    }
}
