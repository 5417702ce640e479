#pragma once

// Neuron hooks in mtmd's encoder graphs (NeuronScope): the FFN neurons of the vision and audio
// encoders and of the projector's MLP, observed and changed inside the clip graph as
// llama-neuron-hooks.h does it for the language model.
//
// Modules: VISION (every layer of the vision tower), AUDIO (every layer of the audio encoder),
// PROJECTOR (the MLP that projects the vision encoder's output, or the audio encoder's when the
// projector file has no vision encoder). Hook points, in every FFN built by clip_graph::build_ffn:
//   FFN_PRE   the pre-activation: gate·x (+ bias) of a gated FFN, up·x (+ bias) otherwise  [n_ff]
//   FFN_ACT   the neuron activation act(FFN_PRE)                                          [n_ff]
//   FFN_POST  the input of the down projection: act(gate·x) ⊙ up·x, or act(up·x)           [n_ff]
// and in every encoder layer (not the projector's MLP, which has no layers of its own):
//   RESID_POST the layer's output, the residual stream after the block: the tensor the graph
//              names "layer_out" (or "layer_out_scaled" where a layer scale follows)     [n_embd]
//              reductions and taps only, as for the language model
// Messages name them as the Java library does: vision.ffn.act, projector.ffn.pre, audio.ffn.post,
// vision.resid.post. A graph that does not name its layers' outputs so fails the encode, naming the
// point and the architecture.
// A projector whose MLP the hooks do not know (a single linear projection: qwen2a, gemma3, ...)
// has no PROJECTOR points: mtmd_nh_width answers MTMD_NH_ERR_UNSUPPORTED and the message names
// the projector type.
//
// Rows: the rows of a hooked tensor are the encoder's patches (audio frames) of the media item
// being encoded, in mtmd's order; the projector's rows are its output tokens.
//
// Three things a hook can do, as for the language model:
//   reduce     per-neuron sums over the rows, weighted by w[row][c] = group[c] * row_weight[row]
//              (group: one weight per column for the media item, e.g. the one-hot of its label;
//              row_weight: optional per-patch weights, 1 when not set), added to caller-owned
//              double arrays after each encode (the CPU runs them as the language model's fused
//              reduction; other backends as ggml ops).
//   intervene  x <- scale*x + shift per neuron (FFN_ACT, FFN_POST), at encode time.
//   tap        a callback receives the tensor (n_rows x width floats) after each encode.
// With nothing configured the encoder graph is exactly mtmd's.
//
// All functions return MTMD_NH_OK (0) or a negative status (the llama_nh_status values);
// mtmd_nh_last_error() then describes it. An encode whose hooks could not be wired (a point the
// architecture does not reach) fails (mtmd_encode_chunk returns non-zero) and sets the message.
// No C++ exception leaves these functions or the encode. Caller-owned memory must stay valid until
// it is replaced, cleared, or the mtmd context is freed. Not thread-safe, as mtmd_encode.

#include "llama.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mtmd_context;

enum mtmd_nh_module {
    MTMD_NH_MODULE_VISION    = 1,
    MTMD_NH_MODULE_AUDIO     = 2,
    MTMD_NH_MODULE_PROJECTOR = 3,
};

enum mtmd_nh_point {
    MTMD_NH_FFN_PRE     = 0,
    MTMD_NH_FFN_ACT     = 1,
    MTMD_NH_FFN_POST    = 2,
    MTMD_NH_RESID_POST  = 3,
    MTMD_NH_POINT_COUNT,
};

// data holds n_rows rows of width floats, valid only during the call. Return false to fail the encode.
typedef bool (*mtmd_nh_tap_callback)(void * user_data, int32_t module, int32_t point, int32_t layer,
                                     const float * data, int64_t width, int64_t n_rows);

// Hooked layers of a module (the projector: 1), or a negative status (no such encoder, a
// projector MLP the hooks do not know).
LLAMA_API int32_t mtmd_nh_layers(struct mtmd_context * ctx, int32_t module);

// Width of a hook point in a layer (n_ff; n_embd for RESID_POST), or a negative status.
LLAMA_API int64_t mtmd_nh_width(struct mtmd_context * ctx, int32_t module, int32_t point, int32_t layer);

// Weight columns of the reductions of every module (0 = reductions off). Changing it removes every reduction.
LLAMA_API int32_t mtmd_nh_set_columns(struct mtmd_context * ctx, int32_t n_columns);

// The media item's weight per column (n_columns floats, caller-owned, read at each encode), or
// NULL (all 0: the encodes add nothing).
LLAMA_API int32_t mtmd_nh_set_group_weights(struct mtmd_context * ctx, const float * weights);

// Per-row (per-patch) weights of a module for the following encodes (n_rows floats, caller-owned),
// or NULL (every row 1). An encode whose hooked tensors of that module have another number of rows fails.
LLAMA_API int32_t mtmd_nh_set_row_weights(struct mtmd_context * ctx, int32_t module, const float * weights, int64_t n_rows);

// Adds reduction `stat` (a llama_nh_stat) at `point` in every layer of `module` into
// acc[(layer*n_columns + c)*width + n] (acc_len = layers * n_columns * width). acc = NULL removes it.
LLAMA_API int32_t mtmd_nh_set_reduce(struct mtmd_context * ctx, int32_t module, int32_t point, int32_t stat,
                                     double * acc, int64_t acc_len, float threshold);

// x <- scale*x + shift at (module, point, layer), width floats each (caller-owned, read at each
// encode). scale = NULL means 1, shift = NULL means 0; both NULL removes it. FFN_ACT and FFN_POST only.
LLAMA_API int32_t mtmd_nh_set_intervention(struct mtmd_context * ctx, int32_t module, int32_t point, int32_t layer,
                                           const float * scale, const float * shift);

// Tap (module, point, layer) (layer = -1: every layer) on or off; the callback serves every tap.
LLAMA_API int32_t mtmd_nh_set_tap(struct mtmd_context * ctx, int32_t module, int32_t point, int32_t layer, bool enabled);
LLAMA_API int32_t mtmd_nh_set_tap_callback(struct mtmd_context * ctx, mtmd_nh_tap_callback callback, void * user_data);

// Reductions as ggml ops even on the CPU (the path other backends take), to compare or to test them.
LLAMA_API int32_t mtmd_nh_set_portable_reductions(struct mtmd_context * ctx, bool portable);

// Removes every reduction, intervention, tap and weight of every module.
LLAMA_API int32_t mtmd_nh_clear(struct mtmd_context * ctx);

// The message of the last failed call or encode ("" if none).
LLAMA_API const char * mtmd_nh_last_error(struct mtmd_context * ctx);

#ifdef __cplusplus
}
#endif
