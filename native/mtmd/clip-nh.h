#pragma once

// Internals of the encoder neuron hooks (public API: include/mtmd-neuron-hooks.h). One clip_nh
// belongs to one clip_ctx (the vision or the audio encoder of an mtmd context) and covers that
// encoder's layers and, for the context that owns it, the projector's MLP.

#include "mtmd-neuron-hooks.h"
#include "llama-neuron-hooks.h"

#include "ggml.h"

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

struct clip_ctx;
struct clip_model;
struct mtmd_context;
struct llama_nh_fused_reduce;

// the clip contexts of an mtmd context (mtmd.cpp) and the hooks of a clip context, created on first use (clip.cpp)
clip_ctx * mtmd_nh_clip(mtmd_context * ctx, bool audio);
struct clip_nh * clip_nh_of(clip_ctx * ctx);

struct clip_nh {
    // parts of one encoder graph
    enum part : int32_t { ENCODER = 0, PROJECTOR = 1, PART_COUNT };

    clip_nh(const clip_model & model, bool on_cpu);
    ~clip_nh();

    const clip_model & model;
    const bool         on_cpu;
    const int32_t      n_layer;
    bool               portable = false;

    std::string last_error;

    int32_t       n_columns     = 0;
    const float * group_weights = nullptr; // n_columns, caller-owned
    struct rows { const float * w = nullptr; int64_t n = 0; };
    std::array<rows, PART_COUNT> row_weights{};

    struct reduce { double * acc = nullptr; int64_t len = 0; float threshold = 0.0f; };
    std::array<std::array<std::array<reduce, LLAMA_NH_STAT_COUNT_OF>, MTMD_NH_POINT_COUNT>, PART_COUNT> reduces{};

    struct intervention { const float * scale = nullptr; const float * shift = nullptr; };
    std::array<std::vector<std::array<intervention, MTMD_NH_POINT_COUNT>>, PART_COUNT> interventions; // [part][layer][point]
    std::array<std::vector<std::array<bool, MTMD_NH_POINT_COUNT>>, PART_COUNT> taps;                // [part][layer][point]

    mtmd_nh_tap_callback tap_callback  = nullptr;
    void *               tap_user_data = nullptr;

    // ---- model queries
    int32_t       module_of(int32_t part) const noexcept; // MTMD_NH_MODULE_*
    int32_t       layers(int32_t part) const noexcept;    // hooked layers of a part (0: none)
    int64_t       width(int32_t part, int32_t point, int32_t layer) const noexcept; // <0: none
    ggml_tensor * projector_up() const noexcept;          // the projector MLP's first weight, or null
    std::string   arch_name() const;                      // the projector type, for messages
    std::string   point_name(int32_t part, int32_t point) const;

    bool any_configured() const noexcept;
    bool configured(int32_t part, int32_t point, int32_t layer) const noexcept;
    void clear() noexcept;

    // ---- graph building (clip_graph; all noexcept: a failure marks the graph, the encode then fails)

    // start of a graph build: forget the last graph's wiring
    void begin_graph(ggml_cgraph * gf) noexcept;
    // which part and layer an FFN with these weights is (layer < 0: not hooked)
    void ffn_begin(const ggml_tensor * up, const ggml_tensor * gate, int32_t & part, int32_t & layer) noexcept;
    // hooks of `point` on x; returns the tensor to go on with
    ggml_tensor * hook(ggml_context * ctx0, int32_t part, int32_t layer, int32_t point, ggml_tensor * x) noexcept;
    // a gated FFN whose FFN_ACT is hooked: builds act(cur) (hooked) * up into cur and returns true
    bool build_gated_act(ggml_context * ctx0, int32_t part, int32_t layer, int32_t type_op, ggml_tensor *& cur,
                         ggml_tensor * up) noexcept;
    // the FFN's output point (and FFN_ACT of a non-gated FFN, the same tensor)
    ggml_tensor * ffn_post(ggml_context * ctx0, int32_t part, int32_t layer, bool gated, ggml_tensor * cur) noexcept;
    // a tensor the graph names (clip_graph::cb): RESID_POST where it is the encoder layer's output; observed only
    void named(ggml_context * ctx0, const char * name, int32_t layer, ggml_tensor * cur) noexcept;

    // ---- around compute (clip_encode)
    void begin_encode() noexcept;                   // before the graph build: clears the last error
    bool before_compute(ggml_cgraph * gf) noexcept; // checks the wiring, sets weights and masks
    bool after_compute(ggml_cgraph * gf) noexcept;  // adds the reductions, calls the taps

    void set_error(const std::string & msg) noexcept;

private:
    struct output {
        int32_t part, point, layer;
        int32_t stat;        // a llama_nh_stat, -1 a tap, -2 a fused reduction (planes: fused->stats)
        ggml_tensor * tensor;
        const llama_nh_fused_reduce * fused;
    };
    struct weights_input { int32_t part; int64_t rows; ggml_tensor * tensor; };
    struct mask_input { ggml_tensor * tensor; const float * values; int64_t width; };
    struct graph_state {
        ggml_cgraph * gf = nullptr;
        std::vector<output> outputs;
        std::vector<weights_input> weights;
        std::vector<mask_input> masks;
        std::deque<llama_nh_fused_reduce> fused;
        std::array<std::vector<std::array<uint8_t, MTMD_NH_POINT_COUNT>>, PART_COUNT> wired; // [part][layer][point]
        int32_t n_projector_ffn = 0;
        bool active = false; // this encode's graph was built with the hooks
        bool failed = false;
        std::string error;
    };
    graph_state g;
    std::vector<float> scratch;

    void problem(const std::string & msg) noexcept;
    ggml_tensor * hook_impl(ggml_context * ctx0, int32_t part, int32_t layer, int32_t point, ggml_tensor * x);
    ggml_tensor * weights_for(ggml_context * ctx0, int32_t part, int64_t rows);
    void add_reductions(ggml_context * ctx0, int32_t part, int32_t layer, int32_t point, ggml_tensor * x2d);
    bool after_compute_impl(ggml_cgraph * gf);
    bool before_compute_impl(ggml_cgraph * gf);
};
