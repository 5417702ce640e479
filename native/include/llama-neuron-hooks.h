#pragma once

// Neuron hooks (NeuronScope): observe and change FFN neurons and the residual stream inside
// llama.cpp's compute graph, on the backend that runs each layer.
//
// (Messages name the points as the Java library does: ffn.pre, ffn.act, ffn.post, resid.post, attn.probs,
// ffn.up, ffn.down.)
// Hook points, in every layer built by llama.cpp's dense build_ffn (llama, qwen2, qwen2vl, qwen3,
// gemma3, mistral, ...):
//   FFN_GATE   the gate pre-activation gate·x                        [n_ff]   (gated FFNs only)
//   FFN_ACT    the neuron activation act(gate·x), or act(up·x)        [n_ff]
//   FFN_OUT    the input of the down projection, act(gate·x) ⊙ up·x   [n_ff]
//   RESID_POST the layer's output (residual stream after the block)  [n_embd]
//   ATTN_PROBS the layer's attention probabilities averaged over heads [n_kv] per query token:
//              row i, column j = attention query token i pays to KV-cache cell j (taps only; needs
//              flash attention off; with a cleared cache and one sequence, cell j is position j).
//              With llama_nh_set_attn_unmasked(n): the softmax of the scores before the mask over
//              cells [0, n) instead, no causal mask (MINER's reference attention), [n] per query token
//   FFN_UP     the up projection's output up·x (+ its bias)           [n_ff]   (Hugging Face: up_proj's output)
//   FFN_DOWN   the down projection's output, the FFN's output          [n_embd] (Hugging Face: down_proj's output)
//              (FFN_UP and FFN_DOWN: reduce and tap only; MANU scores these units)
//
// Three things a hook can do:
//   reduce     per-neuron sums over tokens, weighted by per-token columns (one-hot columns = token
//              groups), computed in the graph; only the small results leave the backend, once per
//              ubatch, and are added to caller-owned double arrays.
//   intervene  x <- scale*x + shift per neuron (FFN_ACT, FFN_OUT), from caller-owned float arrays
//              that are read in place on CPU (zero copy) and uploaded on change elsewhere.
//   tap        a callback receives the tensor (n_tokens x width floats) after each ubatch.
// With nothing configured the graph is exactly llama.cpp's.
//
// All functions return LLAMA_NH_OK or a negative status; llama_nh_last_error() then describes it.
// A decode whose hooks could not be wired (an architecture the hooks do not reach, for example)
// fails and sets the last error. Every call below except llama_nh_width (a pure query of the
// model) and llama_nh_last_error clears the last error first, and so does every llama_decode and
// llama_encode: a message always belongs to the latest failure. No C++ exception thrown inside the
// hooks (std::bad_alloc, ...) leaves a llama_nh_* call or llama_decode: the call returns
// LLAMA_NH_ERR_INTERNAL, the decode fails (llama_decode returns -3), the message is set, and a
// micro-batch that fails adds nothing to the accumulators. Caller-owned memory must stay valid
// until it is replaced, cleared, or the context is freed. Not thread-safe: one thread per
// context, as llama_decode.

#include "llama.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum llama_nh_point {
    LLAMA_NH_FFN_GATE   = 0,
    LLAMA_NH_FFN_ACT    = 1,
    LLAMA_NH_FFN_OUT    = 2,
    LLAMA_NH_RESID_POST = 3,
    LLAMA_NH_ATTN_PROBS = 4,
    LLAMA_NH_FFN_UP     = 5,
    LLAMA_NH_FFN_DOWN   = 6,
    LLAMA_NH_POINT_COUNT,
};

// Reductions over the tokens t of a ubatch, per column c of the token weights w[t][c]:
enum llama_nh_stat {
    LLAMA_NH_STAT_COUNT     = 0, // sum_t w[t][c] * (x > threshold)
    LLAMA_NH_STAT_COUNT_ABS = 1, // sum_t w[t][c] * (|x| > threshold)
    LLAMA_NH_STAT_SUM       = 2, // sum_t w[t][c] * x
    LLAMA_NH_STAT_SUM_SQ    = 3, // sum_t w[t][c] * x^2
    LLAMA_NH_STAT_SUM_ABS   = 4, // sum_t w[t][c] * |x|
    LLAMA_NH_STAT_COUNT_OF,
};

enum llama_nh_status {
    LLAMA_NH_OK              =  0,
    LLAMA_NH_ERR_ARGUMENT    = -1, // a bad argument (message names it)
    LLAMA_NH_ERR_UNSUPPORTED = -2, // the model's architecture does not reach this hook point
    LLAMA_NH_ERR_INTERNAL    = -3, // an exception inside llama.cpp or ggml
};

// Called once per tapped (point, layer) after each ubatch. data holds n_tokens rows of width
// floats (row i = ubatch token i) and is valid only during the call; batch_index[i] is the index
// of ubatch token i in the llama_batch given to llama_decode. Return false to fail the decode.
typedef bool (*llama_nh_tap_callback)(
        void * user_data, int32_t point, int32_t layer,
        const float * data, int64_t width, int64_t n_tokens, const int32_t * batch_index);

// Width of a hook point in a layer (n_ff or n_embd), or a negative status if the point does not
// exist there (FFN_GATE of a non-gated FFN, a layer index out of range).
LLAMA_API int64_t llama_nh_width(const struct llama_context * ctx, int32_t point, int32_t layer);

// Number of weight columns per token for all reductions (0 = reductions off). Changing it clears
// every reduction.
LLAMA_API int32_t llama_nh_set_columns(struct llama_context * ctx, int32_t n_columns);

// Per-token weights for the following decodes: weights[i*n_columns + c] for token i of the batch
// (row-major, n_tokens rows). A batch given to llama_decode may have at most n_tokens tokens.
LLAMA_API int32_t llama_nh_set_token_weights(struct llama_context * ctx, const float * weights, int32_t n_tokens);

// Adds reduction `stat` at `point` in every layer into acc[(layer*n_columns + c)*width + n]
// (acc_len = n_layer * n_columns * width doubles). acc = NULL removes it. threshold applies to
// COUNT and COUNT_ABS.
LLAMA_API int32_t llama_nh_set_reduce(struct llama_context * ctx, int32_t point, int32_t stat,
                                      double * acc, int64_t acc_len, float threshold);

// x <- scale*x + shift at (point, layer), width floats each. scale = NULL means 1, shift = NULL
// means 0; both NULL removes the intervention. Only FFN_ACT and FFN_OUT accept interventions.
LLAMA_API int32_t llama_nh_set_intervention(struct llama_context * ctx, int32_t point, int32_t layer,
                                            const float * scale, const float * shift);

// x <- scale*x + shift + min_weight*m at (point, layer), m = the smallest value of the whole tensor
// of that micro-batch at (point, layer) before the intervention (every token and neuron of the layer:
// MINER's "minimum of the current call", computed in the graph on the layer's backend). min_weight =
// NULL: as llama_nh_set_intervention. A layer with a minimum sees every token of the batch (the last
// layer is not cut to the output tokens), so m is over all of them.
LLAMA_API int32_t llama_nh_set_intervention_min(struct llama_context * ctx, int32_t point, int32_t layer,
                                                const float * scale, const float * shift, const float * min_weight);

// ATTN_PROBS as MINER's reference code computes attention: per head the softmax of the scaled scores
// q·k (after llama.cpp's soft-capping and KQ bias, before the mask) over KV cells [0, n_cells) with no
// causal mask, then the mean over heads: [n_cells] per query token. For a query of a second sequence
// decoded after a first one filled cells [0, n_cells) with the same prompt, that is the prompt's
// non-causal attention. Layers with a sliding window and models with ALiBi are refused (the decode
// fails, naming the layer). n_cells = 0: the model's own probabilities again.
LLAMA_API int32_t llama_nh_set_attn_unmasked(struct llama_context * ctx, int32_t n_cells);

// Tap (point, layer) (layer = -1: every layer) on or off. The callback serves every tap.
LLAMA_API int32_t llama_nh_set_tap(struct llama_context * ctx, int32_t point, int32_t layer, bool enabled);
LLAMA_API int32_t llama_nh_set_tap_callback(struct llama_context * ctx, llama_nh_tap_callback callback, void * user_data);

// Reductions of layers on the CPU run as one fused pass (a custom op); elsewhere as ggml ops the
// layer's backend runs. portable = true uses the ggml ops everywhere (to compare or to test them).
LLAMA_API int32_t llama_nh_set_portable_reductions(struct llama_context * ctx, bool portable);

// ---- logit lens
//
// The residual stream after a layer (RESID_POST) decoded as if that layer were the last: the model's
// own output norm (its weights, norm type and epsilon, as llama.cpp's final norm), its unembedding
// (output.weight, or token_embd.weight when tied; ggml_mul_mat as llama.cpp's head, so any weight
// type; the head's scale and bias, and gemma's final soft-capping, when the model has them), then
// the softmax over the vocabulary. Built in the graph next to llama.cpp's own head, so it runs on the
// backend that runs the output layer; only the results below leave it. LoRA adapters on the output
// and control vectors are not part of the lens. Lensed layers see every token of the batch, as taps do.

// Per lensed token and layer, after each ubatch: ids and probs hold top_k entries per row (ids in
// descending probability; equal probabilities by ascending id), entropy one per row (nats, of the
// full softmax), target_prob one per row or NULL (no target token). Row i is a lensed token of the
// ubatch, batch_index[i] its index in the llama_batch. All valid only during the call. Return false
// to fail the decode.
typedef bool (*llama_nh_lens_callback)(
        void * user_data, int32_t layer, int64_t n_rows, int32_t top_k,
        const int32_t * ids, const float * probs, const float * entropy, const float * target_prob,
        const int32_t * batch_index);

// Lens of `layer` on or off (layer = -1: every layer). The lens computes only when there is
// something to deliver: a callback (llama_nh_set_lens_callback) or group sums (llama_nh_set_lens_groups).
LLAMA_API int32_t llama_nh_set_lens_layer(struct llama_context * ctx, int32_t layer, bool enabled);

// top_k in [0, min(n_vocab, 1000)] ids and probabilities per row (0: none); target in [0, n_vocab)
// (-1: none) the token whose probability is reported per row and summed per group.
LLAMA_API int32_t llama_nh_set_lens_params(struct llama_context * ctx, int32_t top_k, int32_t target);

// The per-token results go to `callback` (NULL: no per-token results).
LLAMA_API int32_t llama_nh_set_lens_callback(struct llama_context * ctx, llama_nh_lens_callback callback, void * user_data);

// Per lensed layer and weight column c of the token weights (llama_nh_set_columns/_token_weights),
// over the lensed tokens t: entropy_acc[layer*n_columns + c] += sum_t w[t][c] * H(t), target_acc
// likewise with the target's probability (needs a target), weight_acc with 1 (the weight the means
// divide by). acc_len = n_layer * n_columns doubles each; each may be NULL; all NULL removes them.
// Changing the number of columns removes them.
LLAMA_API int32_t llama_nh_set_lens_groups(struct llama_context * ctx, double * entropy_acc, double * target_acc,
                                           double * weight_acc, int64_t acc_len);

// Which batch entries the lens decodes: selected[i] != 0 for entry i of each llama_batch (n_tokens
// entries; a batch may have at most that many). NULL (n_tokens 0): every token. Only the selected
// rows reach the norm and the unembedding: the lens of a few tokens costs a few rows.
LLAMA_API int32_t llama_nh_set_lens_selection(struct llama_context * ctx, const int8_t * selected, int32_t n_tokens);

// Removes every reduction, intervention and tap, and the logit lens.
LLAMA_API int32_t llama_nh_clear(struct llama_context * ctx);

// The message of the last failed call or decode on this context ("" if none).
LLAMA_API const char * llama_nh_last_error(const struct llama_context * ctx);

#ifdef __cplusplus
}
#endif
