#pragma once

// Per-graph state of the neuron hooks (see llama-nh.h), kept in llm_graph_result.

#include "ggml.h"

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

// What the fused CPU reduction of one (point, layer) computes (see llama-nh.cpp).
struct llama_nh_fused_reduce {
    int32_t stats[8];      // llama_nh_stat of each output plane
    float   thresholds[8];
    int32_t n_stats;
};

// What one graph build wired: the tensors to read after compute, the token-weight input.
struct llama_nh_graph {
    struct output {
        int32_t       point;
        int32_t       layer;
        int32_t       stat;   // a llama_nh_stat, -1 for a tap, -2 for a fused CPU reduction (planes: fused->stats)
        ggml_tensor * tensor; // [width, rows]: reductions have one row per column, taps one per token
        bool          pruned; // computed only for the ubatch's output tokens (last layer)
    };
    std::vector<output> outputs;

    // the logit lens: resid.post of each lensed layer (hook), decoded at the output norm (build_lens)
    struct lens_output {
        int32_t       layer;
        ggml_tensor * ids;     // I32 [top_k, rows] (unsorted), or null
        ggml_tensor * probs;   // F32 [1, top_k, rows], or null
        ggml_tensor * entropy; // F32 [1, rows], or null (groups only)
        ggml_tensor * target;  // F32 [1, rows], or null
        ggml_tensor * groups;  // F32 [3, n_columns]: weighted sums of entropy (and target prob), or null
    };
    std::vector<std::pair<int32_t, ggml_tensor *>> lens_inputs; // (layer, resid.post) in layer order
    std::vector<lens_output> lens;
    bool    lens_built  = false;  // build_lens ran for this graph
    int64_t lens_rows   = -1;     // rows the lens decodes in this graph (selected tokens of the ubatch)
    std::deque<llama_nh_fused_reduce> fused; // stable addresses: custom ops point at them
    std::vector<const llama_nh_fused_reduce *> fused_of_output; // per output, or null
    ggml_tensor * weights        = nullptr; // [n_columns, n_tokens] input
    ggml_tensor * weights_pruned = nullptr; // the rows of `weights` for the output tokens
    ggml_tensor * out_ids        = nullptr; // llama.cpp's output-token selection, if any
    bool out_ids_deferred        = false;   // selection moved from the last layer to the output norm
    bool last_layer_done         = false;   // build_cvec of the last layer was reached
    std::vector<uint8_t> wired;             // [layer][point]: how often the build reached it
    bool        failed = false;             // the build had a problem: this graph must not compute
    std::string error;                      // the first wiring problem of this build ("" if even that failed)
    bool        input_failed = false;       // the token-weights input of this ubatch could not be set
    std::string input_error;

    void clear() noexcept {
        outputs.clear();
        lens_inputs.clear();
        lens.clear();
        lens_built = false;
        lens_rows  = -1;
        fused.clear();
        fused_of_output.clear();
        weights = weights_pruned = out_ids = nullptr;
        out_ids_deferred = false;
        last_layer_done  = false;
        wired.clear();
        failed = false;
        error.clear();
        input_failed = false;
        input_error.clear();
    }
};
