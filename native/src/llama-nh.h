#pragma once

// Internals of the neuron hooks (public API: include/llama-neuron-hooks.h).

#include "llama-neuron-hooks.h"
#include "llama-graph.h"
#include "llama-nh-graph.h"

#include "ggml.h"
#include "ggml-backend.h"

#include <array>
#include <string>
#include <vector>

struct llama_model;

// Every member llama.cpp's own files call (graph building in llama-graph.cpp, the calls around
// the compute in llama-context.cpp, the token-weights input) is noexcept: an exception inside the
// hooks (a std::bad_alloc, ...) never unwinds into llama.cpp or through llama_decode into the
// caller (a JVM, ...). It fails the decode instead, with the message in last_error.
struct llama_neuron_hooks {
    explicit llama_neuron_hooks(const llama_model & model);
    ~llama_neuron_hooks();

    const llama_model & model;
    const int32_t n_layer;

    // bumped whenever the graph topology changes (not when mask values change)
    uint64_t generation = 1;

    std::string last_error;

    bool          portable       = false; // reductions as ggml ops even on the CPU
    int32_t       n_columns      = 0;
    const float * token_weights  = nullptr;
    int32_t       n_weight_rows  = 0;

    struct reduce {
        double * acc       = nullptr;
        int64_t  len       = 0;
        float    threshold = 0.0f;
    };
    std::array<std::array<reduce, LLAMA_NH_STAT_COUNT_OF>, LLAMA_NH_POINT_COUNT> reduces{};

    struct intervention {
        const float *         scale = nullptr; // caller-owned
        const float *         shift = nullptr;
        const float *         min_weight = nullptr; // of the micro-batch's tensor minimum
        ggml_context *        ctx   = nullptr; // owns the tensor objects below
        ggml_backend_buffer_t buf_scale = nullptr;
        ggml_backend_buffer_t buf_shift = nullptr;
        ggml_backend_buffer_t buf_min   = nullptr;
        ggml_tensor *         t_scale = nullptr;
        ggml_tensor *         t_shift = nullptr;
        ggml_tensor *         t_min   = nullptr;
        bool                  zero_copy = false;   // tensors alias the caller's memory
        std::vector<float>    shadow_scale, shadow_shift, shadow_min; // last uploaded values (device copies)
    };
    std::vector<std::array<intervention, LLAMA_NH_POINT_COUNT>> interventions; // [layer][point]

    std::vector<std::array<bool, LLAMA_NH_POINT_COUNT>> taps; // [layer][point]
    llama_nh_tap_callback tap_callback  = nullptr;
    void *                tap_user_data = nullptr;

    std::vector<float> scratch; // device-to-host copies

    // attn.probs as MINER's reference computes it: unmasked softmax over KV cells [0, n) (0: off)
    int32_t attn_unmasked = 0;

    // the logit lens (llama_nh_set_lens_*)
    struct lens_config {
        std::vector<bool>      layers;                 // [layer]
        int32_t                top_k     = 10;
        int32_t                target    = -1;
        llama_nh_lens_callback callback  = nullptr;
        void *                 user_data = nullptr;
        double *               group_entropy = nullptr; // n_layer * n_columns, caller-owned
        double *               group_target  = nullptr;
        double *               group_weight  = nullptr;
        const int8_t *         selected  = nullptr;     // per batch entry, caller-owned; null: all
        int32_t                n_selected_rows = 0;
    };
    lens_config lens;

    // Fault injection, for tests only: LLAMA_NH_FAULT=build|before|after|input (read at the start
    // of each decode) makes that path throw std::bad_alloc, as a real allocation failure would.
    enum fault_point : int32_t { FAULT_NONE = 0, FAULT_BUILD, FAULT_BEFORE, FAULT_AFTER, FAULT_INPUT };
    fault_point fault = FAULT_NONE;

    // ---- error state

    // The message llama_nh_last_error returns ("" if none).
    const char * error_message() const noexcept;
    void clear_error() noexcept;
    // Sets the message; if even that fails (no memory for the string), a fixed one stands in.
    void set_error(const char * msg) noexcept;
    void set_error(const char * a, const char * b, const char * c) noexcept; // a + b + c
    void set_error(const std::string & msg) noexcept { set_error(msg.c_str()); }

    // ---- configuration (C API, llama-nh.cpp)

    static int64_t width_of(const llama_model & model, int32_t point, int32_t layer) noexcept;
    int64_t width(int32_t point, int32_t layer) const noexcept { return width_of(model, point, layer); }
    bool has_reduce(int32_t point) const noexcept;
    bool configured(int32_t point, int32_t layer) const noexcept;
    bool any_configured() const noexcept;
    // reductions or taps are set: every layer must see every token (see build_inp_out_ids)
    bool observes() const noexcept;
    // the same for one ubatch: a lens alone whose rows are all output tokens lets llama.cpp keep
    // computing the last layer for the output tokens only (the lens reads those rows there)
    bool observes(const llama_ubatch & ubatch) const noexcept;
    bool lens_rows_are_outputs(const llama_ubatch & ubatch) const noexcept;
    // some layer is lensed and there is something to deliver
    bool lens_active() const noexcept;
    bool lens_layer(int32_t layer) const noexcept;
    // the ubatch rows the lens decodes (ubatch positions); all = every row
    bool lens_rows_of(const llama_ubatch & ubatch, std::vector<int32_t> & rows) const;

    int32_t set_intervention(int32_t point, int32_t layer, const float * scale, const float * shift, const float * min_weight);
    // some intervention uses its tensor's minimum: those layers must see every token
    bool any_minimum() const noexcept;
    void    free_intervention(intervention & iv) noexcept;
    void    clear() noexcept;

    // ---- start of llama_context::decode / encode

    // Clears the last error (an old message never describes a later failure) and reads
    // LLAMA_NH_FAULT.
    void begin_decode() noexcept;

    // ---- graph building: called from llm_graph_context (build_ffn, build_cvec, build_attn_mha,
    // build_inp_out_ids). A failure leaves the graph as llama.cpp builds it at that point (the
    // tensor passed in goes on) and is recorded in res->nh_graph; before_compute then fails the
    // decode, and the graph is not reused.

    // Applies taps, reductions and interventions of (point, layer) to x; returns the tensor to go on with.
    ggml_tensor * hook(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t point, int32_t layer,
                       ggml_tensor * x) const noexcept;

    // The gated FFN: hooks ffn.pre and, if ffn.act needs the activation as a tensor, un-fuses
    // act(gate) * up. Returns true if it built act(gate) * up into `cur` itself.
    bool build_gated(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer, bool silu, bool gelu, bool parallel,
                     ggml_tensor *& cur, ggml_tensor * up) const noexcept;

    // attn.probs: the head-averaged softmax(kq) of a layer (a side branch; kq goes on unchanged), or
    // with attn_unmasked the head-averaged softmax(kq_scale * scores) over the first cells, no mask
    // (scores: kq before llama.cpp's masked softmax).
    void build_attention(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer, ggml_tensor * kq,
                         ggml_tensor * scores, float kq_scale) const noexcept;

    // Hooks of the FFN's output (and of ffn.act for non-gated FFNs, where both are act(up)).
    ggml_tensor * build_ffn_out(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer, bool gated,
                                ggml_tensor * cur) const noexcept;

    // Hooks of the up projection's output (ffn.up, before any activation) and of the down
    // projection's output (ffn.down, the FFN's output with its bias): reduce and tap only.
    ggml_tensor * build_ffn_up(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                               ggml_tensor * up) const noexcept;
    ggml_tensor * build_ffn_down(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                 ggml_tensor * down) const noexcept;

    // The logit lens, at llama.cpp's final norm (build_norm with il = -1, after the last layer): the
    // output norm of the given type with weight mw and bias mb (as llama.cpp is about to apply it) and
    // the model's unembedding, on each lensed layer's resid.post.
    void build_lens(ggml_context * ctx0, llm_graph_result * res, const llama_ubatch & ubatch, int32_t norm_type,
                    ggml_tensor * mw, ggml_tensor * mb) const noexcept;

    // ---- around the compute of one ubatch (llama_context::process_ubatch)

    // Checks the build reached every configured hook, uploads changed device masks. false = fail.
    bool before_compute(llm_graph_result * res, const llama_ubatch & ubatch) noexcept;
    // Adds the reductions into the caller's arrays and calls the taps. false = fail; then nothing
    // of this ubatch has been added to the caller's arrays.
    bool after_compute(llm_graph_result * res, const llama_ubatch & ubatch) noexcept;

private:
    ggml_tensor * hook_impl(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t point, int32_t layer, ggml_tensor * x) const;
    bool build_gated_impl(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer, bool silu, bool gelu, bool parallel,
                          ggml_tensor *& cur, ggml_tensor * up) const;
    void build_attention_impl(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer, ggml_tensor * kq,
                              ggml_tensor * scores, float kq_scale) const;
    void build_lens_impl(ggml_context * ctx0, llm_graph_result * res, const llama_ubatch & ubatch, int32_t norm_type,
                         ggml_tensor * mw, ggml_tensor * mb) const;
    bool deliver_lens(const llm_graph_result * res, const llama_ubatch & ubatch, std::vector<float> & sums);
    bool before_compute_impl(llm_graph_result * res, const llama_ubatch & ubatch);
    bool after_compute_impl(llm_graph_result * res, const llama_ubatch & ubatch);

    // records a failed graph build (first message wins); never throws
    void build_failed(llm_graph_result * res, const char * where, const char * what) const noexcept;

    ggml_tensor * weights_for(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, const ggml_tensor * x) const;
    void add_reductions(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t point, int32_t layer, ggml_tensor * x,
                        bool count_from_gate) const;
    bool mark_wired(llm_graph_result * res, int32_t point, int32_t layer, const ggml_tensor * x) const;
    bool act_needs_tensor(int32_t layer) const noexcept;

    const char * error_fallback = nullptr; // a fixed message, when last_error could not be set
};

// The token weights of a ubatch, as a graph input. set_input runs inside llama.cpp's
// res->set_inputs: it never throws; a failure is kept in the graph's nh_graph, and after_compute
// fails the decode.
class llm_graph_input_nh_weights : public llm_graph_input_i {
public:
    llm_graph_input_nh_weights(const llama_neuron_hooks * nh, llama_nh_graph * graph) : nh(nh), graph(graph), generation(nh->generation) {}
    virtual ~llm_graph_input_nh_weights() = default;

    void set_input(const llama_ubatch * ubatch) noexcept override;
    bool can_reuse(const llm_graph_params & params) override;

    ggml_tensor * weights = nullptr; // F32 [n_columns, n_tokens]

    const llama_neuron_hooks * nh;
    llama_nh_graph *           graph; // of the graph result owning this input
    const uint64_t generation;
};

// The lens' row selection of a ubatch (the selected tokens' ubatch positions), as a graph input.
// Reusable while the ubatch selects as many rows (set_input fills the positions).
class llm_graph_input_nh_lens_rows : public llm_graph_input_i {
public:
    llm_graph_input_nh_lens_rows(const llama_neuron_hooks * nh, llama_nh_graph * graph, int64_t n_rows)
        : nh(nh), graph(graph), generation(nh->generation), n_rows(n_rows) {}
    virtual ~llm_graph_input_nh_lens_rows() = default;

    void set_input(const llama_ubatch * ubatch) noexcept override;
    bool can_reuse(const llm_graph_params & params) override;

    ggml_tensor * rows     = nullptr; // I32 [n_rows]: ubatch positions, or null (every row, or none)
    ggml_tensor * rows_out = nullptr; // I32 [n_rows]: positions among the output tokens (last layer kept pruned), or null
    bool          deferred = false;   // the graph was built with every token in every layer

    const llama_neuron_hooks * nh;
    llama_nh_graph *           graph;
    const uint64_t generation;
    const int64_t  n_rows;
};
