#pragma once

// The neuron hooks' fused CPU reduction (llama-nh.cpp), shared with the encoder hooks
// (tools/mtmd/clip-nh.cpp): a ggml custom op, dst [width, n_columns, n_stats] from the args
// x [width, rows] and the row weights [n_columns, rows]; userdata is a llama_nh_fused_reduce
// (llama-nh-graph.h) that outlives the graph.

#include "llama.h"
#include "ggml.h"

LLAMA_API void llama_nh_fused_reduce_op(struct ggml_tensor * dst, int ith, int nth, void * userdata);
