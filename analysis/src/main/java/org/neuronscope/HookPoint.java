package org.neuronscope;

import org.neuronscope.NeuronScopeException;

/** A named tensor inside every layer that hooks can observe or change. */
public enum HookPoint {
    /** The gate pre-activation gate·x (gated FFNs only); act(gate·x) > 0 exactly when it is > 0. */
    FFN_GATE("ffn.gate"),
    /** The neuron activation act(gate·x) (act(up·x) for non-gated FFNs): what LAPE and MINER measure. */
    FFN_ACT("ffn.act"),
    /** The input of the down projection, act(gate·x) ⊙ up·x: what a neuron contributes. */
    FFN_OUT("ffn.out"),
    /** The layer's output, the residual stream after the block: for the logit lens and probing. */
    RESID_POST("resid.post"),
    /**
     * The layer's attention probabilities averaged over heads (taps only; flash attention must be
     * off): row i is what query token i pays to each KV-cache cell. With a cleared cache and one
     * sequence, cell j is position j.
     */
    ATTN_PROBS("attn.probs");

    private final String id;

    HookPoint(String id) {
        this.id = id;
    }

    /** The stable name, e.g. {@code ffn.act}. */
    public String id() {
        return id;
    }

    /** Whether reductions are possible here (everywhere but attn.probs, whose width changes per decode). */
    public boolean acceptsReductions() {
        return this != ATTN_PROBS;
    }

    /** The points that hold one value per neuron (FFN) or per embedding dimension. */
    public static HookPoint[] neuronPoints() {
        return new HookPoint[] {FFN_GATE, FFN_ACT, FFN_OUT, RESID_POST};
    }

    /** Whether interventions (scale/shift) are possible here. */
    public boolean acceptsInterventions() {
        return this == FFN_ACT || this == FFN_OUT;
    }

    public static HookPoint parse(String id) {
        for (HookPoint p : values()) {
            if (p.id.equals(id) || p.name().equalsIgnoreCase(id)) {
                return p;
            }
        }
        throw new NeuronScopeException("unknown hook point '" + id + "' (ffn.gate, ffn.act, ffn.out, resid.post, attn.probs)");
    }

    @Override
    public String toString() {
        return id;
    }
}
