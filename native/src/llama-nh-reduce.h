#pragma once

// The neuron hooks' reductions, shared by the language model's hooks (llama-nh.cpp) and the
// encoder hooks (tools/mtmd/clip-nh.cpp).
//
// The fused CPU reduction: a ggml custom op, dst [width, n_columns, n_stats] from the args
// x [width, rows] and the row weights [n_columns, rows]; userdata is a llama_nh_fused_reduce
// (llama-nh-graph.h) that outlives the graph.

#include "llama.h"
#include "llama-neuron-hooks.h"
#include "ggml.h"

LLAMA_API void llama_nh_fused_reduce_op(struct ggml_tensor * dst, int ith, int nth, void * userdata);

// The portable reduction of one statistic (LLAMA_NH_STAT_*) as ggml ops any backend runs:
// x [width, rows] and the row weights w [n_columns, rows] give [width, n_columns], per neuron and
// column the weighted sum over rows of the statistic's term (step for the counts).
static inline ggml_tensor * llama_nh_reduce_stat(ggml_context * ctx0, ggml_tensor * x, ggml_tensor * w, int32_t stat, float threshold) {
    ggml_tensor * v = nullptr;
    switch (stat) {
        case LLAMA_NH_STAT_COUNT:
            v = ggml_step(ctx0, threshold == 0.0f ? x : ggml_scale_bias(ctx0, x, 1.0f, -threshold));
            break;
        case LLAMA_NH_STAT_COUNT_ABS:
            v = ggml_step(ctx0, ggml_scale_bias(ctx0, ggml_abs(ctx0, x), 1.0f, -threshold));
            break;
        case LLAMA_NH_STAT_SUM:     v = x;                 break;
        case LLAMA_NH_STAT_SUM_SQ:  v = ggml_sqr(ctx0, x); break;
        case LLAMA_NH_STAT_SUM_ABS: v = ggml_abs(ctx0, x); break;
        default:                    return nullptr;
    }
    return ggml_out_prod(ctx0, v, w);
}
