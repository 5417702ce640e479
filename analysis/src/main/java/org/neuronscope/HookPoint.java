package org.neuronscope;

import java.util.Locale;

/**
 * A named tensor inside every layer that hooks can observe or change. The names follow
 * TransformerLens where it has the same tensor ({@code ffn.pre} = {@code mlp.hook_pre},
 * {@code ffn.post} = {@code mlp.hook_post}, {@code resid.post} = {@code hook_resid_post}); see
 * {@code docs/HOOKS.md} for the mapping to TransformerLens, Hugging Face modules and the papers' code.
 */
public enum HookPoint {
    /** The gate pre-activation gate·x (gated FFNs only); act(gate·x) > 0 exactly when it is > 0. TransformerLens: mlp.hook_pre. */
    FFN_PRE("ffn.pre", "ffn.gate"),
    /** The neuron activation act(gate·x) (act(up·x) for non-gated FFNs): what LAPE and MINER measure. */
    FFN_ACT("ffn.act"),
    /** The input of the down projection, act(gate·x) ⊙ up·x: what a neuron contributes. TransformerLens: mlp.hook_post. */
    FFN_POST("ffn.post", "ffn.out"),
    /** The layer's output, the residual stream after the block: for the logit lens and probing. TransformerLens: hook_resid_post. */
    RESID_POST("resid.post"),
    /**
     * The layer's attention probabilities averaged over heads (taps only; flash attention must be
     * off): row i is what query token i pays to each KV-cache cell. With a cleared cache and one
     * sequence, cell j is position j. TransformerLens: the head mean of attn.hook_pattern.
     */
    ATTN_PROBS("attn.probs"),
    /**
     * The up projection's output up·x (with its bias), before any activation; reduce, tap and mask.
     * Hugging Face: the output of {@code mlp.up_proj}, one of MANU's units.
     */
    FFN_UP("ffn.up"),
    /**
     * The down projection's output (with its bias): the FFN block's output, width n_embd; reduce,
     * tap and mask (a masked unit is an output dimension of the FFN). Hugging Face: the output of {@code mlp.down_proj}, one of MANU's units.
     */
    FFN_DOWN("ffn.down");

    private final String id;
    private final String formerId;

    HookPoint(String id) {
        this(id, null);
    }

    HookPoint(String id, String formerId) {
        this.id = id;
        this.formerId = formerId;
    }

    /** The stable name, e.g. {@code ffn.act}, as files and the command line write it. */
    public String id() {
        return id;
    }

    /** Whether reductions are possible here (everywhere but attn.probs, whose width changes per decode). */
    public boolean acceptsReductions() {
        return this != ATTN_PROBS;
    }

    /** The points that hold one value per neuron (FFN) or per embedding dimension. */
    public static HookPoint[] neuronPoints() {
        return new HookPoint[] {FFN_PRE, FFN_ACT, FFN_POST, RESID_POST, FFN_UP, FFN_DOWN};
    }

    /**
     * Whether interventions (scale/shift) are possible here, in the language model: ffn.act, ffn.post,
     * and the projections' outputs ffn.up and ffn.down (what a weight edit of their rows computes;
     * encoders take ffn.act and ffn.post only).
     */
    public boolean acceptsInterventions() {
        return this == FFN_ACT || this == FFN_POST || this == FFN_UP || this == FFN_DOWN;
    }

    /**
     * The hook point of a name: its id ({@code ffn.act}), its enum name ({@code FFN_ACT}), or the name
     * earlier versions wrote ({@code ffn.gate}, {@code ffn.out}).
     */
    public static HookPoint parse(String name) {
        if (name != null) {
            for (HookPoint p : values()) {
                if (p.id.equals(name) || name.equals(p.formerId) || p.name().equals(name.toUpperCase(Locale.ROOT))) {
                    return p;
                }
            }
        }
        throw new IllegalArgumentException("unknown hook point '" + name + "' (ffn.pre, ffn.act, ffn.post, resid.post, attn.probs, ffn.up, ffn.down)");
    }

    @Override
    public String toString() {
        return id;
    }
}
