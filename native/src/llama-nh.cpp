#include "llama-nh.h"
#include "llama-nh-reduce.h"

#include "llama-context.h"
#include "llama-impl.h"
#include "llama-model.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>

static const char * nh_point_name(int32_t point) {
    switch (point) {
        case LLAMA_NH_FFN_GATE:   return "ffn.pre";
        case LLAMA_NH_FFN_ACT:    return "ffn.act";
        case LLAMA_NH_FFN_OUT:    return "ffn.post";
        case LLAMA_NH_RESID_POST: return "resid.post";
        case LLAMA_NH_ATTN_PROBS: return "attn.probs";
        case LLAMA_NH_FFN_UP:     return "ffn.up";
        case LLAMA_NH_FFN_DOWN:   return "ffn.down";
        default:                  return "?";
    }
}

// ---------------------------------------------------------------- error state

const char * llama_neuron_hooks::error_message() const noexcept {
    return error_fallback ? error_fallback : last_error.c_str();
}

void llama_neuron_hooks::clear_error() noexcept {
    last_error.clear();
    error_fallback = nullptr;
}

void llama_neuron_hooks::set_error(const char * msg) noexcept {
    set_error(msg, "", "");
}

void llama_neuron_hooks::set_error(const char * a, const char * b, const char * c) noexcept {
    try {
        std::string msg = a;
        msg += b;
        msg += c;
        last_error = std::move(msg);
        error_fallback = nullptr;
    } catch (...) {
        last_error.clear();
        error_fallback = "out of memory in the neuron hooks (while reporting an error)";
    }
}

// what() of an exception caught by a boundary, for the message
static const char * nh_what(const std::exception & e) noexcept {
    const char * w = e.what();
    return w && *w ? w : "unknown exception";
}

void llama_neuron_hooks::begin_decode() noexcept {
    clear_error();
    fault = FAULT_NONE;
    if (const char * f = std::getenv("LLAMA_NH_FAULT")) {
        if      (std::strcmp(f, "build")  == 0) fault = FAULT_BUILD;
        else if (std::strcmp(f, "before") == 0) fault = FAULT_BEFORE;
        else if (std::strcmp(f, "after")  == 0) fault = FAULT_AFTER;
        else if (std::strcmp(f, "input")  == 0) fault = FAULT_INPUT;
    }
    if (fault == FAULT_BUILD) {
        generation++; // a new graph is built, so that the fault is met
    }
}

// ---------------------------------------------------------------- configuration

llama_neuron_hooks::llama_neuron_hooks(const llama_model & model)
    : model(model), n_layer((int32_t) model.hparams.n_layer()),
      interventions(n_layer), taps(n_layer) {
    for (auto & t : taps) {
        t.fill(false);
    }
    lens.layers.assign(n_layer, false);
}

llama_neuron_hooks::~llama_neuron_hooks() {
    for (auto & layer : interventions) {
        for (auto & iv : layer) {
            free_intervention(iv);
        }
    }
}

int64_t llama_neuron_hooks::width_of(const llama_model & model, int32_t point, int32_t layer) noexcept {
    if (layer < 0 || layer >= (int32_t) model.hparams.n_layer()) {
        return LLAMA_NH_ERR_ARGUMENT;
    }
    switch (point) {
        case LLAMA_NH_FFN_GATE:
            if (layer >= (int32_t) model.layers.size() || model.layers[layer].ffn_gate == nullptr) {
                return LLAMA_NH_ERR_UNSUPPORTED;
            }
            return model.hparams.n_ff(layer);
        case LLAMA_NH_FFN_ACT:
        case LLAMA_NH_FFN_OUT:
            return model.hparams.n_ff(layer);
        case LLAMA_NH_RESID_POST:
            return model.hparams.n_embd;
        case LLAMA_NH_ATTN_PROBS:
            return model.hparams.n_ctx_train; // an upper bound: a tap's width is the KV size of each decode
        case LLAMA_NH_FFN_UP:
            if (layer >= (int32_t) model.layers.size() || model.layers[layer].ffn_up == nullptr) {
                return LLAMA_NH_ERR_UNSUPPORTED;
            }
            return model.hparams.n_ff(layer);
        case LLAMA_NH_FFN_DOWN:
            if (layer >= (int32_t) model.layers.size() || model.layers[layer].ffn_down == nullptr) {
                return LLAMA_NH_ERR_UNSUPPORTED;
            }
            return model.hparams.n_embd;
        default:
            return LLAMA_NH_ERR_ARGUMENT;
    }
}

bool llama_neuron_hooks::has_reduce(int32_t point) const noexcept {
    if (n_columns <= 0) {
        return false;
    }
    for (const auto & r : reduces[point]) {
        if (r.acc) {
            return true;
        }
    }
    return false;
}

bool llama_neuron_hooks::configured(int32_t point, int32_t layer) const noexcept {
    const auto & iv = interventions[layer][point];
    return has_reduce(point) || taps[layer][point] || iv.t_scale || iv.t_shift || iv.t_min ||
           (point == LLAMA_NH_RESID_POST && lens_layer(layer) && lens_active());
}

bool llama_neuron_hooks::lens_layer(int32_t layer) const noexcept {
    return layer >= 0 && layer < (int32_t) lens.layers.size() && lens.layers[layer];
}

bool llama_neuron_hooks::lens_active() const noexcept {
    if (!lens.callback && !(n_columns > 0 && (lens.group_entropy || lens.group_target || lens.group_weight))) {
        return false;
    }
    for (bool on : lens.layers) {
        if (on) {
            return true;
        }
    }
    return false;
}

bool llama_neuron_hooks::lens_rows_of(const llama_ubatch & ubatch, std::vector<int32_t> & rows) const {
    rows.clear();
    for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
        const int32_t b = ubatch.data ? ubatch.data->idx[i] : (int32_t) i;
        if (!lens.selected || (b < lens.n_selected_rows && lens.selected[b] != 0)) {
            rows.push_back((int32_t) i);
        }
    }
    return lens.selected == nullptr;
}

bool llama_neuron_hooks::any_configured() const noexcept {
    for (int32_t il = 0; il < n_layer; ++il) {
        for (int32_t p = 0; p < LLAMA_NH_POINT_COUNT; ++p) {
            if (configured(p, il)) {
                return true;
            }
        }
    }
    return false;
}

bool llama_neuron_hooks::lens_rows_are_outputs(const llama_ubatch & ubatch) const noexcept {
    if (!ubatch.output) {
        return false;
    }
    for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
        const int32_t b = ubatch.data ? ubatch.data->idx[i] : (int32_t) i;
        const bool lensed = !lens.selected || (b < lens.n_selected_rows && lens.selected[b] != 0);
        if (lensed && !ubatch.output[i]) {
            return false;
        }
    }
    return true;
}

bool llama_neuron_hooks::observes(const llama_ubatch & ubatch) const noexcept {
    bool other = false;
    for (int32_t p = 0; p < LLAMA_NH_POINT_COUNT && !other; ++p) {
        other = has_reduce(p);
    }
    for (const auto & t : taps) {
        for (bool on : t) {
            other |= on;
        }
    }
    if (other || any_minimum()) {
        return true;
    }
    return lens_active() && !lens_rows_are_outputs(ubatch);
}

bool llama_neuron_hooks::any_minimum() const noexcept {
    for (const auto & layer : interventions) {
        for (const auto & iv : layer) {
            if (iv.t_min) {
                return true;
            }
        }
    }
    return false;
}

bool llama_neuron_hooks::observes() const noexcept {
    if (lens_active() || any_minimum()) {
        return true;
    }
    for (int32_t p = 0; p < LLAMA_NH_POINT_COUNT; ++p) {
        if (has_reduce(p)) {
            return true;
        }
    }
    for (const auto & t : taps) {
        for (bool on : t) {
            if (on) {
                return true;
            }
        }
    }
    return false;
}

void llama_neuron_hooks::free_intervention(intervention & iv) noexcept {
    if (iv.buf_scale) {
        ggml_backend_buffer_free(iv.buf_scale);
    }
    if (iv.buf_shift) {
        ggml_backend_buffer_free(iv.buf_shift);
    }
    if (iv.buf_min) {
        ggml_backend_buffer_free(iv.buf_min);
    }
    if (iv.ctx) {
        ggml_free(iv.ctx);
    }
    iv = intervention{};
}

int32_t llama_neuron_hooks::set_intervention(int32_t point, int32_t layer, const float * scale, const float * shift,
                                             const float * min_weight) {
    // ffn.up and ffn.down too: a mask there is what an exported weight edit of those rows computes
    if (point != LLAMA_NH_FFN_ACT && point != LLAMA_NH_FFN_OUT && point != LLAMA_NH_FFN_UP && point != LLAMA_NH_FFN_DOWN) {
        last_error = std::string("interventions are only possible at ffn.act, ffn.post, ffn.up and ffn.down, not at ") + nh_point_name(point);
        return LLAMA_NH_ERR_ARGUMENT;
    }
    const int64_t w = width(point, layer);
    if (w <= 0) {
        last_error = "no hook point " + std::string(nh_point_name(point)) + " in layer " + std::to_string(layer);
        return w < 0 ? (int32_t) w : (int32_t) LLAMA_NH_ERR_ARGUMENT;
    }
    for (const float * p : { scale, shift, min_weight }) {
        if (p && (uintptr_t) p % 32 != 0) {
            last_error = "intervention arrays must be 32-byte aligned";
            return LLAMA_NH_ERR_ARGUMENT;
        }
    }

    auto & iv = interventions[layer][point];
    free_intervention(iv);
    generation++;
    if (!scale && !shift && !min_weight) {
        return LLAMA_NH_OK;
    }

    // a failure below leaves no intervention at (point, layer), never half of one
    ggml_init_params ip = { /*.mem_size =*/ 3*ggml_tensor_overhead(), /*.mem_buffer =*/ nullptr, /*.no_alloc =*/ true };
    iv.ctx   = ggml_init(ip);
    if (!iv.ctx) {
        last_error = "out of memory for an intervention";
        return LLAMA_NH_ERR_INTERNAL;
    }
    iv.scale = scale;
    iv.shift = shift;
    iv.min_weight = min_weight;

    // On a host device the graph reads the caller's memory in place; elsewhere a device copy is
    // kept and uploaded when the caller's values change (before_compute).
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(model.dev_layer(layer));
    iv.zero_copy = ggml_backend_buft_is_host(buft);

    const size_t nbytes = (size_t) w * sizeof(float);
    auto make = [&](const float * src, const char * name, ggml_backend_buffer_t & buf, std::vector<float> & shadow) -> ggml_tensor * {
        ggml_tensor * t = ggml_new_tensor_1d(iv.ctx, GGML_TYPE_F32, w);
        ggml_format_name(t, "nh_%s-%d-%s", name, layer, nh_point_name(point));
        if (iv.zero_copy) {
            buf = ggml_backend_cpu_buffer_from_ptr(const_cast<float *>(src), nbytes);
            if (!buf) {
                return nullptr;
            }
            ggml_backend_tensor_alloc(buf, t, const_cast<float *>(src));
        } else {
            shadow.assign(src, src + w);
            buf = ggml_backend_buft_alloc_buffer(buft, ggml_backend_buft_get_alloc_size(buft, t));
            if (!buf) {
                return nullptr;
            }
            ggml_backend_tensor_alloc(buf, t, ggml_backend_buffer_get_base(buf));
            ggml_backend_tensor_set(t, src, 0, nbytes);
        }
        return t;
    };
    try {
        if (scale && !(iv.t_scale = make(scale, "scale", iv.buf_scale, iv.shadow_scale))) {
            free_intervention(iv);
            last_error = std::string("could not allocate the scale of an intervention at ") + nh_point_name(point) + " of layer " + std::to_string(layer);
            return LLAMA_NH_ERR_INTERNAL;
        }
        if (shift && !(iv.t_shift = make(shift, "shift", iv.buf_shift, iv.shadow_shift))) {
            free_intervention(iv);
            last_error = std::string("could not allocate the shift of an intervention at ") + nh_point_name(point) + " of layer " + std::to_string(layer);
            return LLAMA_NH_ERR_INTERNAL;
        }
        if (min_weight && !(iv.t_min = make(min_weight, "minw", iv.buf_min, iv.shadow_min))) {
            free_intervention(iv);
            last_error = std::string("could not allocate the minimum weights of an intervention at ") + nh_point_name(point) + " of layer " + std::to_string(layer);
            return LLAMA_NH_ERR_INTERNAL;
        }
    } catch (...) {
        free_intervention(iv);
        throw;
    }
    return LLAMA_NH_OK;
}

void llama_neuron_hooks::clear() noexcept {
    for (auto & layer : interventions) {
        for (auto & iv : layer) {
            free_intervention(iv);
        }
    }
    for (auto & t : taps) {
        t.fill(false);
    }
    for (auto & point : reduces) {
        point.fill(reduce{});
    }
    // the lens: off, its arrays forgotten; the callback stays (as the taps' callback does)
    lens.layers.assign(n_layer, false);
    lens.top_k = 10;
    lens.target = -1;
    lens.group_entropy = lens.group_target = lens.group_weight = nullptr;
    lens.selected = nullptr;
    lens.n_selected_rows = 0;
    generation++;
}

// ---------------------------------------------------------------- graph building

// A problem of this graph build: the first message is kept; the graph must not compute.
static void nh_graph_problem(llama_nh_graph & g, const std::string & msg) {
    g.failed = true;
    if (g.error.empty()) {
        g.error = msg;
    }
}

void llama_neuron_hooks::build_failed(llm_graph_result * res, const char * where, const char * what) const noexcept {
    auto & g = res->nh_graph;
    g.failed = true;
    try {
        if (g.error.empty()) {
            g.error = std::string(what) + " in the neuron hooks while building the graph (" + where + ")";
        }
    } catch (...) {
        // g.failed is what counts; before_compute finds a fixed message
    }
}

bool llama_neuron_hooks::act_needs_tensor(int32_t layer) const noexcept {
    if (!configured(LLAMA_NH_FFN_ACT, layer)) {
        return false;
    }
    const auto & iv = interventions[layer][LLAMA_NH_FFN_ACT];
    if (taps[layer][LLAMA_NH_FFN_ACT] || iv.t_scale || iv.t_shift || iv.t_min) {
        return true;
    }
    for (int32_t s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
        const auto & r = reduces[LLAMA_NH_FFN_ACT][s];
        if (r.acc && !(s == LLAMA_NH_STAT_COUNT && r.threshold == 0.0f)) {
            return true;
        }
    }
    return false;
}

bool llama_neuron_hooks::mark_wired(llm_graph_result * res, int32_t point, int32_t layer, const ggml_tensor * x) const {
    auto & g = res->nh_graph;
    if (g.wired.empty()) {
        g.wired.assign((size_t) n_layer * LLAMA_NH_POINT_COUNT, 0);
    }
    if (layer < 0 || layer >= n_layer) {
        nh_graph_problem(g, std::string("the graph reached ") + nh_point_name(point) + " with layer index " + std::to_string(layer));
        return false;
    }
    g.wired[(size_t) layer * LLAMA_NH_POINT_COUNT + point]++;
    const int64_t w = point == LLAMA_NH_ATTN_PROBS ? x->ne[0] : width(point, layer);
    if (x->type != GGML_TYPE_F32 || ggml_n_dims(x) > 2 || x->ne[0] != w) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s of layer %d is a %s tensor of %" PRId64 " x %" PRId64 ", expected F32 of width %" PRId64
                 ": this architecture's FFN is not supported by the neuron hooks",
                 nh_point_name(point), layer, ggml_type_name(x->type), x->ne[0], x->ne[1], w);
        nh_graph_problem(g, msg);
        return false;
    }
    return true;
}

ggml_tensor * llama_neuron_hooks::weights_for(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, const ggml_tensor * x) const {
    auto & g = res->nh_graph;
    if (!g.weights) {
        auto inp = std::make_unique<llm_graph_input_nh_weights>(this, &g);
        inp->weights = ggml_new_tensor_2d(ctx0, GGML_TYPE_F32, n_columns, n_tokens);
        ggml_set_input(inp->weights);
        ggml_set_name(inp->weights, "nh_weights");
        g.weights = inp->weights;
        res->add_input(std::move(inp));
    }
    if (!x || x->ne[1] == n_tokens) {
        return g.weights;
    }
    // llama.cpp computes the last layer's FFN for the output tokens only
    if (g.out_ids && x->ne[1] == g.out_ids->ne[0]) {
        if (!g.weights_pruned) {
            g.weights_pruned = ggml_get_rows(ctx0, g.weights, g.out_ids);
        }
        return g.weights_pruned;
    }
    return nullptr;
}

// One pass over x computing every requested statistic for every weight column: the CPU path.
// dst is [width, n_columns, n_stats]; args are x [width, tokens] and the weights [n_columns, tokens].
// Threads split the neurons, so each reads its slice of x once and keeps its sums in cache.
static void nh_fused_reduce(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const auto * f = (const llama_nh_fused_reduce *) userdata;
    const ggml_tensor * x = dst->src[0];
    const ggml_tensor * w = dst->src[1];
    const int64_t width = x->ne[0];
    const int64_t n_tok = x->ne[1];
    const int64_t n_col = w->ne[0];
    const int64_t per   = (width + nth - 1) / nth;
    const int64_t n0    = std::min<int64_t>(width, per * ith);
    const int64_t n1    = std::min<int64_t>(width, n0 + per);
    float * out = (float *) dst->data;
    for (int32_t s = 0; s < f->n_stats; ++s) {
        for (int64_t c = 0; c < n_col; ++c) {
            std::fill(out + (s*n_col + c)*width + n0, out + (s*n_col + c)*width + n1, 0.0f);
        }
    }
    for (int64_t t = 0; t < n_tok; ++t) {
        const float * xr = (const float *) ((const char *) x->data + t*x->nb[1]);
        const float * wr = (const float *) ((const char *) w->data + t*w->nb[1]);
        for (int64_t c = 0; c < n_col; ++c) {
            const float wt = wr[c];
            if (wt == 0.0f) {
                continue;
            }
            for (int32_t s = 0; s < f->n_stats; ++s) {
                float * d = out + (s*n_col + c)*width;
                const float th = f->thresholds[s];
                switch (f->stats[s]) {
                    case LLAMA_NH_STAT_COUNT:     for (int64_t n = n0; n < n1; ++n) d[n] += xr[n] > th ? wt : 0.0f;          break;
                    case LLAMA_NH_STAT_COUNT_ABS: for (int64_t n = n0; n < n1; ++n) d[n] += std::fabs(xr[n]) > th ? wt : 0.0f; break;
                    case LLAMA_NH_STAT_SUM:       for (int64_t n = n0; n < n1; ++n) d[n] += wt * xr[n];                       break;
                    case LLAMA_NH_STAT_SUM_SQ:    for (int64_t n = n0; n < n1; ++n) d[n] += wt * xr[n] * xr[n];               break;
                    case LLAMA_NH_STAT_SUM_ABS:   for (int64_t n = n0; n < n1; ++n) d[n] += wt * std::fabs(xr[n]);            break;
                }
            }
        }
    }
}

void llama_neuron_hooks::add_reductions(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t point, int32_t layer,
                                        ggml_tensor * x, bool count_from_gate) const {
    if (!has_reduce(point)) {
        return;
    }
    ggml_tensor * w = weights_for(ctx0, res, n_tokens, x);
    if (!w) {
        nh_graph_problem(res->nh_graph, std::string(nh_point_name(point)) + " of layer " + std::to_string(layer) + " has an unexpected number of tokens");
        return;
    }
    ggml_cgraph * gf = res->get_gf();
    const bool pruned = x->ne[1] != n_tokens;

    // layers on the CPU: one fused pass (a custom op); elsewhere (CUDA ...): ggml ops the backend runs
    if (!portable && ggml_backend_dev_type(model.dev_layer(layer)) == GGML_BACKEND_DEVICE_TYPE_CPU && x->nb[0] == sizeof(float)) {
        llama_nh_fused_reduce f = {};
        for (int32_t s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
            const auto & r = reduces[point][s];
            if (r.acc && !(count_from_gate && s != LLAMA_NH_STAT_COUNT)) {
                f.stats[f.n_stats] = s;
                f.thresholds[f.n_stats] = r.threshold;
                f.n_stats++;
            }
        }
        if (f.n_stats == 0) {
            return;
        }
        res->nh_graph.fused.push_back(f);
        ggml_tensor * args[2] = { x, w };
        ggml_tensor * sums = ggml_custom_4d(ctx0, GGML_TYPE_F32, x->ne[0], n_columns, f.n_stats, 1, args, 2,
                                            nh_fused_reduce, GGML_N_TASKS_MAX, &res->nh_graph.fused.back());
        ggml_format_name(sums, "nh_reduce-%d-%s", layer, nh_point_name(point));
        ggml_set_output(sums);
        ggml_build_forward_expand(gf, sums);
        res->nh_graph.outputs.push_back({ point, layer, -2, sums, pruned });
        res->nh_graph.fused_of_output.resize(res->nh_graph.outputs.size(), nullptr);
        res->nh_graph.fused_of_output.back() = &res->nh_graph.fused.back();
        return;
    }

    for (int32_t s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
        const auto & r = reduces[point][s];
        if (!r.acc || (count_from_gate && s != LLAMA_NH_STAT_COUNT)) {
            continue;
        }
        // [width, tokens] x [columns, tokens] -> [width, columns]: one weighted sum per neuron and column
        ggml_tensor * sum = llama_nh_reduce_stat(ctx0, x, w, s, r.threshold);
        ggml_format_name(sum, "nh_reduce-%d-%s-%d", layer, nh_point_name(point), s);
        ggml_set_output(sum);
        ggml_build_forward_expand(gf, sum);
        res->nh_graph.outputs.push_back({ point, layer, s, sum, pruned });
    }
}

ggml_tensor * llama_neuron_hooks::hook_impl(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t point, int32_t layer,
                                            ggml_tensor * x) const {
    if (layer < 0 || layer >= n_layer || !configured(point, layer)) {
        return x;
    }
    if (!mark_wired(res, point, layer, x)) {
        return x;
    }
    // the intervention first: what is observed is what flows on
    const auto & iv = interventions[layer][point];
    // the micro-batch's minimum of x, before the intervention: ggml has no min, so -max(-x) with
    // pool_1d (max over each token's row, then over the tokens), ops every backend runs
    ggml_tensor * x_min = nullptr;
    if (iv.t_min) {
        ggml_tensor * neg = ggml_scale(ctx0, ggml_is_contiguous(x) ? x : ggml_cont(ctx0, x), -1.0f); // [width, tokens]
        ggml_tensor * row_max = ggml_pool_1d(ctx0, neg, GGML_OP_POOL_MAX, (int) neg->ne[0], (int) neg->ne[0], 0); // [1, tokens]
        row_max = ggml_reshape_2d(ctx0, row_max, row_max->ne[1], 1);
        ggml_tensor * all_max = ggml_pool_1d(ctx0, row_max, GGML_OP_POOL_MAX, (int) row_max->ne[0], (int) row_max->ne[0], 0); // [1, 1]
        x_min = ggml_mul(ctx0, iv.t_min, ggml_scale(ctx0, all_max, -1.0f)); // [width]: min_weight * min(x)
        ggml_format_name(x_min, "nh_min-%d-%s", layer, nh_point_name(point));
    }
    if (iv.t_scale) {
        x = ggml_mul(ctx0, x, iv.t_scale);
    }
    if (iv.t_shift) {
        x = ggml_add(ctx0, x, iv.t_shift);
    }
    if (x_min) {
        x = ggml_add(ctx0, x, x_min);
    }
    if (fault == FAULT_BUILD) {
        throw std::bad_alloc(); // (tests) half-way through a hook: nodes were added, the hook is not done
    }
    add_reductions(ctx0, res, n_tokens, point, layer, x, false);
    if (taps[layer][point]) {
        if (!ggml_is_contiguous(x)) {
            x = ggml_cont(ctx0, x);
        }
        ggml_set_output(x);
        ggml_build_forward_expand(res->get_gf(), x);
        res->nh_graph.outputs.push_back({ point, layer, -1, x, x->ne[1] != n_tokens });
    }
    if (point == LLAMA_NH_RESID_POST && lens_layer(layer) && lens_active()) {
        res->nh_graph.lens_inputs.emplace_back(layer, x); // decoded at the output norm (build_lens)
    }
    return x;
}

bool llama_neuron_hooks::build_gated_impl(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                          bool silu, bool gelu, bool parallel, ggml_tensor *& cur, ggml_tensor * up) const {
    cur = hook_impl(ctx0, res, n_tokens, LLAMA_NH_FFN_GATE, layer, cur);
    if (layer < 0 || layer >= n_layer || !configured(LLAMA_NH_FFN_ACT, layer) || !parallel || !(silu || gelu)) {
        return false; // an ffn.act left unwired here is reported as unsupported by before_compute
    }
    if (!act_needs_tensor(layer)) {
        // only count(act > 0) is asked for: SiLU(z) > 0 and GELU(z) > 0 exactly when z > 0, so
        // count on the gate and keep llama.cpp's fused act(gate) * up
        if (mark_wired(res, LLAMA_NH_FFN_ACT, layer, cur)) {
            add_reductions(ctx0, res, n_tokens, LLAMA_NH_FFN_ACT, layer, cur, true);
        }
        return false;
    }
    ggml_tensor * act = silu ? ggml_silu(ctx0, cur) : ggml_gelu(ctx0, cur);
    act = hook_impl(ctx0, res, n_tokens, LLAMA_NH_FFN_ACT, layer, act);
    cur = ggml_mul(ctx0, act, up);
    return true;
}

void llama_neuron_hooks::build_attention_impl(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                              ggml_tensor * kq, ggml_tensor * scores, float kq_scale) const {
    if (layer < 0 || layer >= n_layer || !taps[layer][LLAMA_NH_ATTN_PROBS]) {
        return;
    }
    // kq: [n_kv, n_tokens, n_head(, n_stream)] -> mean over heads: [n_kv, n_tokens]
    if (kq->ne[3] != 1 || kq->ne[1] != n_tokens) {
        mark_wired(res, LLAMA_NH_ATTN_PROBS, layer, kq); // records the shape problem
        return;
    }
    if (attn_unmasked > 0) {
        // MINER's reference: softmax(q·k/sqrt(d)) without any mask, over the cells [0, n) that hold the
        // whole prompt (of another sequence: see llama_nh_set_attn_unmasked)
        const char * why = model.hparams.is_swa((uint32_t) layer) ? "a sliding-window layer (its KV cells are not the prompt's)"
                         : model.hparams.use_alibi ? "ALiBi (its position bias is part of the mask)"
                         : scores->ne[0] < attn_unmasked ? "fewer KV cells than asked for"
                         : nullptr;
        if (why) {
            nh_graph_problem(res->nh_graph, "the unmasked attention (MINER's reference) over " + std::to_string(attn_unmasked) +
                " cells is not possible in layer " + std::to_string(layer) + " of architecture '" + llm_arch_name(model.arch) +
                "': " + why + " (" + std::to_string(scores->ne[0]) + " cells in this micro-batch)");
            return;
        }
        ggml_tensor * first = ggml_view_3d(ctx0, scores, attn_unmasked, scores->ne[1], scores->ne[2], scores->nb[1], scores->nb[2], 0);
        kq = ggml_soft_max_ext(ctx0, ggml_cont(ctx0, first), nullptr, kq_scale, 0.0f); // [n, n_tokens, n_head]
    }
    ggml_tensor * heads_first = ggml_cont(ctx0, ggml_permute(ctx0, kq, 1, 2, 0, 3)); // [n_head, n_kv, n_tokens]
    ggml_tensor * mean = ggml_scale(ctx0, ggml_sum_rows(ctx0, heads_first), 1.0f / kq->ne[2]);
    mean = ggml_reshape_2d(ctx0, mean, kq->ne[0], n_tokens);
    hook_impl(ctx0, res, n_tokens, LLAMA_NH_ATTN_PROBS, layer, mean);
}

// The logit lens of every lensed layer, built where llama.cpp applies its final norm: the same norm
// (type, eps, weight, bias), the same head (ggml_mul_mat with model.output, its scale and bias,
// gemma's soft-capping), then softmax, entropy, top-k, target probability and group sums.
void llama_neuron_hooks::build_lens_impl(ggml_context * ctx0, llm_graph_result * res, const llama_ubatch & ubatch, int32_t norm_type,
                                         ggml_tensor * mw, ggml_tensor * mb) const {
    auto & g = res->nh_graph;
    if (!lens_active() || !g.last_layer_done || g.lens_built) {
        return; // not the output norm (a norm before the layers), or built already
    }
    g.lens_built = true;
    const int64_t n_tokens = ubatch.n_tokens;
    std::vector<int32_t> rows;
    const bool all = lens_rows_of(ubatch, rows);
    const int64_t n_rows = (int64_t) rows.size();
    g.lens_rows = n_rows;

    // the selected rows as an input (also when there are none: can_reuse must see the count change)
    auto inp = std::make_unique<llm_graph_input_nh_lens_rows>(this, &g, all ? -1 : n_rows);
    inp->deferred = g.out_ids_deferred; // build_norm selects the output rows after this call
    ggml_tensor * row_ids = nullptr;
    ggml_tensor * row_ids_out = nullptr;
    if (!all && n_rows > 0) {
        inp->rows = ggml_new_tensor_1d(ctx0, GGML_TYPE_I32, n_rows);
        ggml_set_input(inp->rows);
        ggml_set_name(inp->rows, "nh_lens_rows");
        row_ids = inp->rows;
        const int64_t n_out = g.out_ids ? g.out_ids->ne[0] : n_tokens;
        if (!g.out_ids_deferred && n_out < n_tokens && lens_layer(n_layer - 1)) {
            // llama.cpp computed the last layer for its output tokens only: there the lens rows are
            // positions among the outputs
            inp->rows_out = ggml_new_tensor_1d(ctx0, GGML_TYPE_I32, n_rows);
            ggml_set_input(inp->rows_out);
            ggml_set_name(inp->rows_out, "nh_lens_rows_out");
            row_ids_out = inp->rows_out;
        }
    }
    res->add_input(std::move(inp));
    if (n_rows == 0) {
        return;
    }

    ggml_tensor * head = model.output ? model.output : model.tok_embd;
    if (!head) {
        nh_graph_problem(g, "the logit lens: the model has no output matrix");
        return;
    }
    if (norm_type != LLM_NORM && norm_type != LLM_NORM_RMS) {
        nh_graph_problem(g, std::string("the logit lens: the output norm of architecture '") + llm_arch_name(model.arch) +
                            "' is a group norm, not supported");
        return;
    }
    const auto & hp = model.hparams;
    const int64_t n_vocab = head->ne[1];
    const int32_t k = std::min<int32_t>(lens.top_k, (int32_t) n_vocab);
    const bool per_token = lens.callback != nullptr;
    const bool groups    = n_columns > 0 && (lens.group_entropy || lens.group_target || lens.group_weight);
    const bool target    = lens.target >= 0 && lens.target < n_vocab;
    if (lens.target >= n_vocab) {
        nh_graph_problem(g, "the logit lens: target token " + std::to_string(lens.target) + " is outside the output's " +
                            std::to_string(n_vocab) + " tokens");
        return;
    }
    ggml_tensor * w = nullptr;
    if (groups) {
        w = weights_for(ctx0, res, n_tokens, nullptr); // [n_columns, n_tokens]
        if (w && row_ids) {
            w = ggml_get_rows(ctx0, w, row_ids); // [n_columns, n_rows]
        }
    }
    const float softcap = (model.arch == LLM_ARCH_GEMMA2 || model.arch == LLM_ARCH_GEMMA3) ? hp.f_final_logit_softcapping : 0.0f;
    ggml_cgraph * gf = res->get_gf();
    auto out = [&](ggml_tensor * t, const char * name, int32_t layer) {
        ggml_format_name(t, "nh_lens_%s-%d", name, layer);
        ggml_set_output(t);
        ggml_build_forward_expand(gf, t);
        return t;
    };
    const int64_t n_outputs = g.out_ids ? g.out_ids->ne[0] : n_tokens;
    // the normed rows of every lensed layer
    std::vector<std::pair<int32_t, ggml_tensor *>> normed;
    for (const auto & [layer, x] : g.lens_inputs) {
        const bool pruned = x->ne[1] != n_tokens; // the last layer, kept for llama.cpp's output tokens
        if (x->ne[0] != head->ne[0] || (pruned && (g.out_ids_deferred || layer != n_layer - 1 || x->ne[1] != n_outputs ||
                                                   (!row_ids_out && n_outputs != n_rows)))) {
            nh_graph_problem(g, "the logit lens: resid.post of layer " + std::to_string(layer) + " has an unexpected shape");
            return;
        }
        if (groups && !w) {
            nh_graph_problem(g, "the logit lens: no token weights for the group sums");
            return;
        }
        ggml_tensor * sel = pruned ? row_ids_out : row_ids;
        ggml_tensor * cur = sel ? ggml_get_rows(ctx0, x, sel) : x; // [n_embd, n_rows]
        cur = norm_type == LLM_NORM ? ggml_norm(ctx0, cur, hp.f_norm_eps) : ggml_rms_norm(ctx0, cur, hp.f_norm_rms_eps);
        if (mw) {
            cur = ggml_mul(ctx0, cur, mw);
        }
        if (mb) {
            cur = ggml_add(ctx0, cur, mb);
        }
        normed.emplace_back(layer, cur);
    }
    // Layers share one product with the head where their rows are few: a matrix-vector product per
    // layer would read the whole output matrix once per layer (memory-bound: the lens of the last token
    // at 24 layers cost +14 % that way), one product over all the layers' rows reads it once. The
    // chunks keep [n_vocab, rows] at most ~256 MB of floats, so the lens of every token stays per layer.
    const int64_t max_rows = std::max<int64_t>(n_rows, (int64_t) ((256u << 20) / (4 * std::max<int64_t>(n_vocab, 1))));
    for (size_t c0 = 0; c0 < normed.size(); ) {
        size_t c1 = c0 + 1;
        while (c1 < normed.size() && (int64_t) (c1 + 1 - c0) * n_rows <= max_rows) {
            c1++;
        }
        // [n_embd, (c1 - c0) · n_rows]: the chunk's rows side by side, concatenated pairwise
        std::vector<ggml_tensor *> parts;
        for (size_t i = c0; i < c1; i++) {
            parts.push_back(normed[i].second);
        }
        while (parts.size() > 1) {
            std::vector<ggml_tensor *> next;
            for (size_t i = 0; i + 1 < parts.size(); i += 2) {
                next.push_back(ggml_concat(ctx0, parts[i], parts[i + 1], 1));
            }
            if (parts.size() % 2 == 1) {
                next.push_back(parts.back());
            }
            parts.swap(next);
        }
        const int64_t n_chunk = (int64_t) (c1 - c0) * n_rows;
        ggml_tensor * logits = ggml_mul_mat(ctx0, head, parts[0]); // [n_vocab, n_chunk]
        if (model.output && model.output_s) {
            logits = ggml_mul(ctx0, logits, model.output_s);
        }
        if (model.output && model.output_b) {
            logits = ggml_add(ctx0, logits, model.output_b);
        }
        if (softcap > 0.0f) {
            logits = ggml_scale(ctx0, ggml_tanh(ctx0, ggml_scale(ctx0, logits, 1.0f / softcap)), softcap);
        }
        ggml_tensor * p = ggml_soft_max(ctx0, logits);
        // H = -sum p log p; the 1e-30 keeps log finite where p underflows to 0 (there p log p = 0)
        ggml_tensor * plogp = ggml_mul(ctx0, p, ggml_log(ctx0, ggml_scale_bias(ctx0, p, 1.0f, 1e-30f)));
        ggml_tensor * entropy_all = ggml_scale(ctx0, ggml_sum_rows(ctx0, plogp), -1.0f); // [1, n_chunk]
        ggml_tensor * tp_all = target ? ggml_view_2d(ctx0, p, 1, n_chunk, p->nb[1], (size_t) lens.target * ggml_element_size(p))
                                      : nullptr; // [1, n_chunk]
        ggml_tensor * ids_all = per_token && k > 0 ? ggml_top_k(ctx0, p, k) : nullptr; // [k, n_chunk]
        ggml_tensor * probs_all = ids_all ? ggml_get_rows(ctx0, ggml_reshape_3d(ctx0, p, 1, n_vocab, n_chunk), ids_all) : nullptr; // [1, k, n_chunk]
        // one layer's columns of a [m, n_chunk] (or [1, m, n_chunk]) result
        auto cols = [&](ggml_tensor * t, size_t i) {
            const int64_t m = t->ne[0] * t->ne[1] * t->ne[2] / n_chunk;
            ggml_tensor * flat = ggml_reshape_2d(ctx0, ggml_cont(ctx0, t), m, n_chunk);
            return ggml_cont(ctx0, ggml_view_2d(ctx0, flat, m, n_rows, flat->nb[1], (size_t) i * n_rows * flat->nb[1]));
        };
        for (size_t i = c0; i < c1; i++) {
            const int32_t layer = normed[i].first;
            ggml_tensor * entropy = cols(entropy_all, i - c0); // [1, n_rows]
            ggml_tensor * tp = tp_all ? cols(tp_all, i - c0) : nullptr;
            llama_nh_graph::lens_output o = { layer, nullptr, nullptr, nullptr, nullptr, nullptr };
            if (per_token) {
                if (ids_all) {
                    o.ids   = out(cols(ids_all, i - c0), "ids", layer); // [k, n_rows]
                    o.probs = out(ggml_reshape_3d(ctx0, cols(probs_all, i - c0), 1, k, n_rows), "probs", layer); // [1, k, n_rows]
                }
                o.entropy = out(entropy, "entropy", layer);
                if (tp) {
                    o.target = out(tp, "target", layer);
                }
            }
            if (groups) {
                // rows: entropy, target probability (0 without a target), 1 (the weight itself)
                ggml_tensor * second = tp ? tp : ggml_scale(ctx0, entropy, 0.0f);
                ggml_tensor * ones   = ggml_scale_bias(ctx0, entropy, 0.0f, 1.0f);
                ggml_tensor * v = ggml_concat(ctx0, ggml_concat(ctx0, entropy, second, 0), ones, 0); // [3, n_rows]
                o.groups = out(ggml_out_prod(ctx0, v, w), "groups", layer); // [3, n_columns]
            }
            g.lens.push_back(o);
        }
        c0 = c1;
    }
}

void llama_neuron_hooks::build_lens(ggml_context * ctx0, llm_graph_result * res, const llama_ubatch & ubatch, int32_t norm_type,
                                    ggml_tensor * mw, ggml_tensor * mb) const noexcept {
    try {
        build_lens_impl(ctx0, res, ubatch, norm_type, mw, mb);
    } catch (const std::exception & e) {
        build_failed(res, "logit lens", nh_what(e));
    } catch (...) {
        build_failed(res, "logit lens", "unknown exception");
    }
}

// ---- the noexcept boundaries llama-graph.cpp calls: on an exception the tensor passed in goes on
// (the graph stays a valid llama.cpp graph, maybe with unused hook nodes) and the build is marked
// failed, so before_compute fails the decode and the graph is never computed or reused

ggml_tensor * llama_neuron_hooks::hook(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t point, int32_t layer,
                                       ggml_tensor * x) const noexcept {
    try {
        return hook_impl(ctx0, res, n_tokens, point, layer, x);
    } catch (const std::exception & e) {
        build_failed(res, nh_point_name(point), nh_what(e));
    } catch (...) {
        build_failed(res, nh_point_name(point), "unknown exception");
    }
    return x;
}

bool llama_neuron_hooks::build_gated(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                     bool silu, bool gelu, bool parallel, ggml_tensor *& cur, ggml_tensor * up) const noexcept {
    ggml_tensor * const gate = cur;
    try {
        return build_gated_impl(ctx0, res, n_tokens, layer, silu, gelu, parallel, cur, up);
    } catch (const std::exception & e) {
        build_failed(res, "ffn.pre/ffn.act", nh_what(e));
    } catch (...) {
        build_failed(res, "ffn.pre/ffn.act", "unknown exception");
    }
    cur = gate; // llama.cpp builds act(gate) * up itself
    return false;
}

void llama_neuron_hooks::build_attention(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                         ggml_tensor * kq, ggml_tensor * scores, float kq_scale) const noexcept {
    try {
        build_attention_impl(ctx0, res, n_tokens, layer, kq, scores, kq_scale);
    } catch (const std::exception & e) {
        build_failed(res, "attn.probs", nh_what(e));
    } catch (...) {
        build_failed(res, "attn.probs", "unknown exception");
    }
}

ggml_tensor * llama_neuron_hooks::build_ffn_out(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                                bool gated, ggml_tensor * cur) const noexcept {
    ggml_tensor * const in = cur;
    try {
        if (!gated) {
            cur = hook_impl(ctx0, res, n_tokens, LLAMA_NH_FFN_ACT, layer, cur); // act(up·x) is both ffn.act and ffn.post
        }
        return hook_impl(ctx0, res, n_tokens, LLAMA_NH_FFN_OUT, layer, cur);
    } catch (const std::exception & e) {
        build_failed(res, "ffn.post", nh_what(e));
    } catch (...) {
        build_failed(res, "ffn.post", "unknown exception");
    }
    return in;
}

// ffn.up and ffn.down (MANU's up_proj and down_proj outputs): observed, and masked like ffn.act

ggml_tensor * llama_neuron_hooks::build_ffn_up(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                               ggml_tensor * up) const noexcept {
    return hook(ctx0, res, n_tokens, LLAMA_NH_FFN_UP, layer, up);
}

ggml_tensor * llama_neuron_hooks::build_ffn_down(ggml_context * ctx0, llm_graph_result * res, int64_t n_tokens, int32_t layer,
                                                 ggml_tensor * down) const noexcept {
    return hook(ctx0, res, n_tokens, LLAMA_NH_FFN_DOWN, layer, down);
}

// ---------------------------------------------------------------- around compute

bool llama_neuron_hooks::before_compute(llm_graph_result * res, const llama_ubatch & ubatch) noexcept {
    try {
        return before_compute_impl(res, ubatch);
    } catch (const std::exception & e) {
        set_error(nh_what(e), " in the neuron hooks before the graph compute", "");
    } catch (...) {
        set_error("unknown exception in the neuron hooks before the graph compute");
    }
    return false;
}

bool llama_neuron_hooks::before_compute_impl(llm_graph_result * res, const llama_ubatch & ubatch) {
    auto & g = res->nh_graph;
    g.input_failed = false;
    g.input_error.clear();
    if (g.failed || !g.error.empty()) {
        set_error(g.error.empty() ? "out of memory in the neuron hooks while building the graph" : g.error.c_str());
        return false;
    }
    // a selection that keeps every token in order (an encoder such as bert, which has no output
    // norm to take it over) changes nothing
    if (g.out_ids_deferred && g.out_ids && g.out_ids->ne[0] != (int64_t) ubatch.n_tokens) {
        last_error = std::string("architecture '") + llm_arch_name(model.arch) +
            "' does not select its output tokens at the output norm: not supported by the neuron hooks";
        return false;
    }
    for (int32_t il = 0; il < n_layer; ++il) {
        for (int32_t p = 0; p < LLAMA_NH_POINT_COUNT; ++p) {
            if (!configured(p, il)) {
                continue;
            }
            const int n = g.wired.empty() ? 0 : g.wired[(size_t) il * LLAMA_NH_POINT_COUNT + p];
            if (n != 1) {
                last_error = std::string("hook point ") + nh_point_name(p) + " of layer " + std::to_string(il) +
                    (n == 0 ? " is not reached" : " is reached " + std::to_string(n) + " times") +
                    " in the graph of architecture '" + llm_arch_name(model.arch) + "': " +
                    (p == LLAMA_NH_ATTN_PROBS ? "attention probabilities need flash attention off"
                                              : "not supported by the neuron hooks");
                return false;
            }
        }
    }
    if (lens_active() && !g.lens_built) {
        last_error = std::string("the logit lens is not reached in the graph of architecture '") + llm_arch_name(model.arch) +
            "': it decodes at the output norm after the last layer";
        return false;
    }
    if (g.lens_built && lens.selected) {
        for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
            const int32_t b = ubatch.data ? ubatch.data->idx[i] : (int32_t) i;
            if (b >= lens.n_selected_rows) {
                last_error = "the batch has more tokens (" + std::to_string(b + 1) + ") than entries of the lens selection (" +
                    std::to_string(lens.n_selected_rows) + ")";
                return false;
            }
        }
    }
    if (g.weights) {
        if (!token_weights) {
            last_error = "reductions are configured but no token weights are set";
            return false;
        }
        if (!ubatch.data) {
            last_error = "internal: ubatch without batch indices";
            return false;
        }
        for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
            if (ubatch.data->idx[i] >= n_weight_rows) {
                last_error = "the batch has more tokens (" + std::to_string(ubatch.data->idx[i] + 1) +
                    ") than rows of token weights (" + std::to_string(n_weight_rows) + ")";
                return false;
            }
        }
    }
    if (fault == FAULT_BEFORE) {
        throw std::bad_alloc(); // (tests)
    }
    // device copies of interventions follow the caller's values
    for (auto & layer : interventions) {
        for (auto & iv : layer) {
            if (iv.zero_copy) {
                continue;
            }
            const size_t nbytes = iv.shadow_scale.size() * sizeof(float);
            if (iv.t_scale && memcmp(iv.shadow_scale.data(), iv.scale, nbytes) != 0) {
                memcpy(iv.shadow_scale.data(), iv.scale, nbytes);
                ggml_backend_tensor_set(iv.t_scale, iv.scale, 0, nbytes);
            }
            const size_t nbytes_shift = iv.shadow_shift.size() * sizeof(float);
            if (iv.t_shift && memcmp(iv.shadow_shift.data(), iv.shift, nbytes_shift) != 0) {
                memcpy(iv.shadow_shift.data(), iv.shift, nbytes_shift);
                ggml_backend_tensor_set(iv.t_shift, iv.shift, 0, nbytes_shift);
            }
            const size_t nbytes_min = iv.shadow_min.size() * sizeof(float);
            if (iv.t_min && memcmp(iv.shadow_min.data(), iv.min_weight, nbytes_min) != 0) {
                memcpy(iv.shadow_min.data(), iv.min_weight, nbytes_min);
                ggml_backend_tensor_set(iv.t_min, iv.min_weight, 0, nbytes_min);
            }
        }
    }
    return true;
}

bool llama_neuron_hooks::after_compute(llm_graph_result * res, const llama_ubatch & ubatch) noexcept {
    try {
        return after_compute_impl(res, ubatch);
    } catch (const std::exception & e) {
        set_error(nh_what(e), " in the neuron hooks after the graph compute", "");
    } catch (...) {
        set_error("unknown exception in the neuron hooks after the graph compute");
    }
    return false;
}

// Host data of a graph output: in place on a host buffer, else copied into `buf` (sized already).
static const float * nh_host_data(const ggml_tensor * t, std::vector<float> & buf) {
    if (ggml_backend_buffer_is_host(t->buffer)) {
        return (const float *) t->data;
    }
    GGML_ASSERT(buf.size() >= (size_t) ggml_nelements(t));
    ggml_backend_tensor_get(t, buf.data(), 0, ggml_nbytes(t));
    return buf.data();
}

bool llama_neuron_hooks::after_compute_impl(llm_graph_result * res, const llama_ubatch & ubatch) {
    const auto & g = res->nh_graph;
    if (g.input_failed) {
        set_error(g.input_error.empty() ? "out of memory in the neuron hooks while setting the token weights" : g.input_error.c_str());
        return false;
    }

    // Everything that can fail comes before the first addition into the caller's arrays: the
    // batch indices, the scratch for device copies, every tap. So a failed ubatch adds nothing.
    std::vector<int32_t> batch_index;
    std::vector<int32_t> batch_index_outputs;
    size_t scratch_len = 0;
    bool any_tap = false;
    for (const auto & o : g.outputs) {
        if (!ggml_backend_buffer_is_host(o.tensor->buffer)) {
            scratch_len = std::max(scratch_len, (size_t) ggml_nelements(o.tensor));
        }
        any_tap |= o.stat == -1;
    }
    if (scratch.size() < scratch_len) {
        scratch.resize(scratch_len);
    }
    if (any_tap && tap_callback) {
        batch_index.reserve(ubatch.n_tokens);
        for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
            const int32_t b = ubatch.data ? ubatch.data->idx[i] : (int32_t) i;
            batch_index.push_back(b);
            if (ubatch.output && ubatch.output[i]) {
                batch_index_outputs.push_back(b);
            }
        }
    }
    for (const auto & o : g.outputs) {
        if (o.stat != -1 || !tap_callback) {
            continue;
        }
        const int64_t width = o.tensor->ne[0];
        const int64_t rows  = o.tensor->ne[1];
        const auto & index = o.pruned ? batch_index_outputs : batch_index;
        if ((int64_t) index.size() != rows) {
            set_error("internal: tapped tensor rows do not match the ubatch");
            return false;
        }
        const float * data = nh_host_data(o.tensor, scratch);
        if (!tap_callback(tap_user_data, o.point, o.layer, data, width, rows, index.data())) {
            set_error(std::string("the tap callback for ") + nh_point_name(o.point) + " of layer " + std::to_string(o.layer) + " failed");
            return false;
        }
    }
    std::vector<float> lens_sums; // group sums of every lensed layer, added below
    if (!g.lens.empty() && !deliver_lens(res, ubatch, lens_sums)) {
        return false;
    }
    if (fault == FAULT_AFTER) {
        throw std::bad_alloc(); // (tests) after the taps, before any reduction is added
    }
    {
        size_t off = 0;
        for (const auto & o : g.lens) {
            if (!o.groups) {
                continue;
            }
            const int64_t nv = o.groups->ne[0];
            for (int64_t c = 0; c < n_columns; ++c) {
                const float * v = lens_sums.data() + off + c * nv;
                if (lens.group_entropy) {
                    lens.group_entropy[(int64_t) o.layer * n_columns + c] += v[0];
                }
                if (lens.group_target) {
                    lens.group_target[(int64_t) o.layer * n_columns + c] += v[1];
                }
                if (lens.group_weight) {
                    lens.group_weight[(int64_t) o.layer * n_columns + c] += v[2];
                }
            }
            off += (size_t) nv * n_columns;
        }
    }

    // the additions: no allocation, nothing that throws
    for (size_t k = 0; k < g.outputs.size(); ++k) {
        const auto & o = g.outputs[k];
        if (o.stat == -1) {
            continue;
        }
        const int64_t width = o.tensor->ne[0];
        const int64_t rows  = o.tensor->ne[1];
        const float * data  = nh_host_data(o.tensor, scratch);
        if (o.stat == -2) {
            // fused planes: [stat][column][neuron]
            const llama_nh_fused_reduce * f = k < g.fused_of_output.size() ? g.fused_of_output[k] : nullptr;
            for (int32_t s = 0; f && s < f->n_stats; ++s) {
                double * acc = reduces[o.point][f->stats[s]].acc + (int64_t) o.layer * n_columns * width;
                const float * plane = data + (int64_t) s * rows * width;
                for (int64_t i = 0; i < rows * width; ++i) {
                    acc[i] += plane[i];
                }
            }
            continue;
        }
        const auto & r = reduces[o.point][o.stat];
        double * acc = r.acc + (int64_t) o.layer * n_columns * width;
        const int64_t n = width * rows;
        for (int64_t i = 0; i < n; ++i) {
            acc[i] += data[i];
        }
    }
    return true;
}

// The lens' per-token results to the callback (ids sorted by descending probability), and the group
// sums copied to the host into `sums` (added by the caller once nothing can fail any more).
bool llama_neuron_hooks::deliver_lens(const llm_graph_result * res, const llama_ubatch & ubatch, std::vector<float> & sums) {
    const auto & g = res->nh_graph;
    std::vector<int32_t> rows;
    lens_rows_of(ubatch, rows);
    if ((int64_t) rows.size() != g.lens_rows) {
        set_error("internal: the lens rows do not match the ubatch");
        return false;
    }
    size_t n_sums = 0;
    for (const auto & o : g.lens) {
        if (o.groups) {
            n_sums += (size_t) ggml_nelements(o.groups);
        }
    }
    sums.resize(n_sums);
    size_t off = 0;
    for (const auto & o : g.lens) {
        if (o.groups) {
            ggml_backend_tensor_get(o.groups, sums.data() + off, 0, ggml_nbytes(o.groups));
            off += (size_t) ggml_nelements(o.groups);
        }
    }
    if (!lens.callback) {
        return true;
    }
    const int64_t n = (int64_t) rows.size();
    std::vector<int32_t> batch_index(n);
    for (int64_t i = 0; i < n; ++i) {
        batch_index[i] = ubatch.data ? ubatch.data->idx[rows[i]] : rows[i];
    }
    std::vector<int32_t> ids, order;
    std::vector<float> probs, probs_sorted, entropy, target;
    std::vector<int32_t> ids_sorted;
    for (const auto & o : g.lens) {
        if (!o.entropy) {
            continue;
        }
        const int32_t k = o.ids ? (int32_t) o.ids->ne[0] : 0;
        entropy.resize(n);
        ggml_backend_tensor_get(o.entropy, entropy.data(), 0, ggml_nbytes(o.entropy));
        if (o.target) {
            target.resize(n);
            ggml_backend_tensor_get(o.target, target.data(), 0, ggml_nbytes(o.target));
        }
        ids.resize((size_t) k * n);
        probs.resize((size_t) k * n);
        ids_sorted.resize((size_t) k * n);
        probs_sorted.resize((size_t) k * n);
        if (k > 0) {
            ggml_backend_tensor_get(o.ids, ids.data(), 0, ggml_nbytes(o.ids));
            ggml_backend_tensor_get(o.probs, probs.data(), 0, ggml_nbytes(o.probs));
            order.resize(k);
            for (int64_t r = 0; r < n; ++r) {
                const int32_t * ri = ids.data() + r * k;
                const float *   rp = probs.data() + r * k;
                for (int32_t j = 0; j < k; ++j) {
                    order[j] = j;
                }
                std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
                    return rp[a] != rp[b] ? rp[a] > rp[b] : ri[a] < ri[b];
                });
                for (int32_t j = 0; j < k; ++j) {
                    ids_sorted[r * k + j]   = ri[order[j]];
                    probs_sorted[r * k + j] = rp[order[j]];
                }
            }
        }
        if (!lens.callback(lens.user_data, o.layer, n, k, ids_sorted.data(), probs_sorted.data(), entropy.data(),
                           o.target ? target.data() : nullptr, batch_index.data())) {
            set_error("the lens callback for layer " + std::to_string(o.layer) + " failed");
            return false;
        }
    }
    return true;
}

// ---------------------------------------------------------------- lens rows input

void llm_graph_input_nh_lens_rows::set_input(const llama_ubatch * ubatch) noexcept {
    const bool set_rows = rows && rows->buffer;        // unused (not allocated) e.g. when only the pruned
    const bool set_out  = rows_out && rows_out->buffer; // last layer reads rows, without group sums
    if (!set_rows && !set_out) {
        return;
    }
    try {
        std::vector<int32_t> r;
        nh->lens_rows_of(*ubatch, r);
        if ((int64_t) r.size() != n_rows) {
            graph->input_failed = true;
            graph->input_error = "internal: the lens selection of the ubatch changed its size";
            return;
        }
        if (set_rows) {
            ggml_backend_tensor_set(rows, r.data(), 0, ggml_nbytes(rows));
        }
        if (set_out) {
            // position of each lensed row among the output rows (llama.cpp's out_ids: outputs in ubatch order)
            std::vector<int32_t> out_pos(ubatch->n_tokens, -1);
            int32_t n = 0;
            for (uint32_t i = 0; i < ubatch->n_tokens; ++i) {
                if (ubatch->output && ubatch->output[i]) {
                    out_pos[i] = n++;
                }
            }
            for (auto & i : r) {
                if (out_pos[i] < 0) {
                    graph->input_failed = true;
                    graph->input_error = "internal: a lensed row is not an output row";
                    return;
                }
                i = out_pos[i];
            }
            ggml_backend_tensor_set(rows_out, r.data(), 0, ggml_nbytes(rows_out));
        }
    } catch (const std::exception & e) {
        graph->input_failed = true;
        try { graph->input_error = std::string(nh_what(e)) + " in the neuron hooks while setting the lens rows"; } catch (...) {}
    } catch (...) {
        graph->input_failed = true;
    }
}

bool llm_graph_input_nh_lens_rows::can_reuse(const llm_graph_params & params) {
    if (params.nh != nh || params.nh_generation != generation || nh->observes(params.ubatch) != deferred) {
        return false;
    }
    if (n_rows < 0) {
        return true; // every row: the ubatch's shape decides, as for llama.cpp's own inputs
    }
    std::vector<int32_t> r;
    nh->lens_rows_of(params.ubatch, r);
    return (int64_t) r.size() == n_rows;
}

// ---------------------------------------------------------------- token weights input

void llm_graph_input_nh_weights::set_input(const llama_ubatch * ubatch) noexcept {
    try {
        if (nh->fault == llama_neuron_hooks::FAULT_INPUT) {
            throw std::bad_alloc(); // (tests)
        }
        const int64_t n_columns = weights->ne[0];
        const int64_t n_tokens  = weights->ne[1];
        std::vector<float> rows((size_t) (n_columns * n_tokens), 0.0f);
        for (int64_t i = 0; i < n_tokens && i < (int64_t) ubatch->n_tokens; ++i) {
            const int32_t b = ubatch->data ? ubatch->data->idx[i] : (int32_t) i;
            if (nh->token_weights && b < nh->n_weight_rows) {
                memcpy(rows.data() + i*n_columns, nh->token_weights + (int64_t) b*n_columns, n_columns*sizeof(float));
            }
        }
        ggml_backend_tensor_set(weights, rows.data(), 0, ggml_nbytes(weights));
        return;
    } catch (const std::exception & e) {
        graph->input_failed = true;
        try { graph->input_error = std::string(nh_what(e)) + " in the neuron hooks while setting the token weights"; } catch (...) {}
    } catch (...) {
        graph->input_failed = true;
    }
}

bool llm_graph_input_nh_weights::can_reuse(const llm_graph_params & params) {
    return params.nh == nh && params.nh_generation == generation && weights->ne[1] == params.ubatch.n_tokens;
}

// ---------------------------------------------------------------- C API

static llama_neuron_hooks & nh_of(llama_context * ctx) {
    return ctx->get_neuron_hooks();
}

// Every llama_nh_* call but llama_nh_width and llama_nh_last_error: clears the last error, runs,
// and turns any exception into LLAMA_NH_ERR_INTERNAL with its message.
template <typename F>
static int32_t nh_call(llama_context * ctx, F && f) noexcept {
    if (!ctx) {
        return LLAMA_NH_ERR_ARGUMENT;
    }
    llama_neuron_hooks * nh = nullptr;
    try {
        nh = &nh_of(ctx);
        nh->clear_error();
        return f(*nh);
    } catch (const std::exception & e) {
        if (nh) {
            nh->set_error(nh_what(e), " in the neuron hooks", "");
        }
        return LLAMA_NH_ERR_INTERNAL;
    } catch (...) {
        if (nh) {
            nh->set_error("unknown exception in the neuron hooks");
        }
        return LLAMA_NH_ERR_INTERNAL;
    }
}

static bool nh_valid_point(llama_neuron_hooks & nh, int32_t point) {
    if (point < 0 || point >= LLAMA_NH_POINT_COUNT) {
        nh.last_error = "unknown hook point " + std::to_string(point);
        return false;
    }
    return true;
}

// A query of the model: neither sets nor clears the last error (it may run while other threads
// use the context for other queries); the negative status is the whole answer.
int64_t llama_nh_width(const llama_context * ctx, int32_t point, int32_t layer) {
    if (!ctx) {
        return LLAMA_NH_ERR_ARGUMENT;
    }
    return llama_neuron_hooks::width_of(ctx->get_model(), point, layer);
}

int32_t llama_nh_set_columns(llama_context * ctx, int32_t n_columns) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (n_columns < 0 || n_columns > 4096) {
            nh.last_error = "n_columns must be in [0, 4096], got " + std::to_string(n_columns);
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        nh.n_columns = n_columns;
        for (auto & point : nh.reduces) {
            point.fill(llama_neuron_hooks::reduce{});
        }
        nh.lens.group_entropy = nh.lens.group_target = nh.lens.group_weight = nullptr;
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_token_weights(llama_context * ctx, const float * weights, int32_t n_tokens) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (n_tokens < 0 || (weights == nullptr) != (n_tokens == 0)) {
            nh.last_error = "token weights: a pointer with n_tokens > 0, or NULL with 0";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        nh.token_weights = weights;
        nh.n_weight_rows = n_tokens;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_reduce(llama_context * ctx, int32_t point, int32_t stat, double * acc, int64_t acc_len, float threshold) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (!nh_valid_point(nh, point)) {
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (point == LLAMA_NH_ATTN_PROBS && acc) {
            nh.last_error = "attn.probs can be tapped, not reduced";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (stat < 0 || stat >= LLAMA_NH_STAT_COUNT_OF) {
            nh.last_error = "unknown statistic " + std::to_string(stat);
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (acc) {
            if (nh.n_columns <= 0) {
                nh.last_error = "set the number of columns before adding reductions";
                return (int32_t) LLAMA_NH_ERR_ARGUMENT;
            }
            const int64_t w = nh.width(point, 0);
            for (int32_t il = 0; il < nh.n_layer; ++il) {
                const int64_t wl = nh.width(point, il);
                if (wl <= 0 || wl != w) {
                    nh.last_error = std::string(nh_point_name(point)) + " does not have one width in every layer of this model";
                    return (int32_t) LLAMA_NH_ERR_UNSUPPORTED;
                }
            }
            const int64_t expected = (int64_t) nh.n_layer * nh.n_columns * w;
            if (acc_len != expected) {
                nh.last_error = "accumulator has " + std::to_string(acc_len) + " doubles, expected n_layer*n_columns*width = " + std::to_string(expected);
                return (int32_t) LLAMA_NH_ERR_ARGUMENT;
            }
        }
        nh.reduces[point][stat] = { acc, acc ? acc_len : 0, threshold };
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_intervention(llama_context * ctx, int32_t point, int32_t layer, const float * scale, const float * shift) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (!nh_valid_point(nh, point)) {
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        return nh.set_intervention(point, layer, scale, shift, nullptr);
    });
}

int32_t llama_nh_set_intervention_min(llama_context * ctx, int32_t point, int32_t layer, const float * scale, const float * shift,
                                      const float * min_weight) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (!nh_valid_point(nh, point)) {
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        return nh.set_intervention(point, layer, scale, shift, min_weight);
    });
}

int32_t llama_nh_set_attn_unmasked(llama_context * ctx, int32_t n_cells) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (n_cells < 0) {
            nh.last_error = "the unmasked attention needs a number of cells >= 0, got " + std::to_string(n_cells);
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (nh.attn_unmasked != n_cells) {
            nh.attn_unmasked = n_cells;
            nh.generation++; // another graph: the tap's width and its inputs change
        }
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_tap(llama_context * ctx, int32_t point, int32_t layer, bool enabled) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (!nh_valid_point(nh, point)) {
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (layer < -1 || layer >= nh.n_layer) {
            nh.last_error = "layer " + std::to_string(layer) + " out of range [0, " + std::to_string(nh.n_layer) + ")";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        for (int32_t il = 0; il < nh.n_layer; ++il) {
            if (layer == -1 || il == layer) {
                if (enabled && nh.width(point, il) <= 0) {
                    nh.last_error = std::string("no hook point ") + nh_point_name(point) + " in layer " + std::to_string(il);
                    return (int32_t) LLAMA_NH_ERR_UNSUPPORTED;
                }
            }
        }
        for (int32_t il = 0; il < nh.n_layer; ++il) {
            if (layer == -1 || il == layer) {
                nh.taps[il][point] = enabled;
            }
        }
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_tap_callback(llama_context * ctx, llama_nh_tap_callback callback, void * user_data) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        nh.tap_callback  = callback;
        nh.tap_user_data = user_data;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_portable_reductions(llama_context * ctx, bool portable) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        nh.portable = portable;
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

static int64_t nh_lens_vocab(const llama_neuron_hooks & nh) {
    const ggml_tensor * head = nh.model.output ? nh.model.output : nh.model.tok_embd;
    return head ? head->ne[1] : 0;
}

int32_t llama_nh_set_lens_layer(llama_context * ctx, int32_t layer, bool enabled) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (layer < -1 || layer >= nh.n_layer) {
            nh.last_error = "lens layer " + std::to_string(layer) + " out of range [0, " + std::to_string(nh.n_layer) + ")";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (enabled && nh_lens_vocab(nh) <= 0) {
            nh.last_error = "the logit lens needs the model's output matrix (output.weight or token_embd.weight)";
            return (int32_t) LLAMA_NH_ERR_UNSUPPORTED;
        }
        for (int32_t il = 0; il < nh.n_layer; ++il) {
            if (layer == -1 || il == layer) {
                nh.lens.layers[il] = enabled;
            }
        }
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_lens_params(llama_context * ctx, int32_t top_k, int32_t target) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        const int64_t n_vocab = nh_lens_vocab(nh);
        if (top_k < 0 || top_k > n_vocab) {
            nh.last_error = "lens top_k must be in [0, " + std::to_string(n_vocab) + "], got " + std::to_string(top_k);
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (target < -1 || target >= n_vocab) {
            nh.last_error = "lens target token " + std::to_string(target) + " out of range [0, " + std::to_string(n_vocab) + ") (-1: none)";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if (target < 0 && nh.lens.group_target) {
            nh.last_error = "the lens sums a target's probability per group: remove those sums before the target";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        nh.lens.top_k  = top_k;
        nh.lens.target = target;
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_lens_callback(llama_context * ctx, llama_nh_lens_callback callback, void * user_data) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        nh.lens.callback  = callback;
        nh.lens.user_data = user_data;
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_lens_groups(llama_context * ctx, double * entropy_acc, double * target_acc, double * weight_acc, int64_t acc_len) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (entropy_acc || target_acc || weight_acc) {
            if (nh.n_columns <= 0) {
                nh.last_error = "set the number of columns before adding lens group sums";
                return (int32_t) LLAMA_NH_ERR_ARGUMENT;
            }
            const int64_t expected = (int64_t) nh.n_layer * nh.n_columns;
            if (acc_len != expected) {
                nh.last_error = "lens group sums have " + std::to_string(acc_len) + " doubles, expected n_layer*n_columns = " + std::to_string(expected);
                return (int32_t) LLAMA_NH_ERR_ARGUMENT;
            }
            if (target_acc && nh.lens.target < 0) {
                nh.last_error = "lens target sums need a target token (llama_nh_set_lens_params)";
                return (int32_t) LLAMA_NH_ERR_ARGUMENT;
            }
        }
        nh.lens.group_entropy = entropy_acc;
        nh.lens.group_target  = target_acc;
        nh.lens.group_weight  = weight_acc;
        nh.generation++;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_set_lens_selection(llama_context * ctx, const int8_t * selected, int32_t n_tokens) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        if (n_tokens < 0 || (selected == nullptr) != (n_tokens == 0)) {
            nh.last_error = "lens selection: a pointer with n_tokens > 0, or NULL with 0";
            return (int32_t) LLAMA_NH_ERR_ARGUMENT;
        }
        if ((nh.lens.selected == nullptr) != (selected == nullptr)) {
            nh.generation++; // every row <-> selected rows: another graph
        }
        nh.lens.selected        = selected;
        nh.lens.n_selected_rows = n_tokens;
        return (int32_t) LLAMA_NH_OK;
    });
}

int32_t llama_nh_clear(llama_context * ctx) {
    return nh_call(ctx, [&](llama_neuron_hooks & nh) {
        nh.clear();
        return (int32_t) LLAMA_NH_OK;
    });
}

const char * llama_nh_last_error(const llama_context * ctx) {
    const llama_neuron_hooks * nh = ctx ? ctx->get_neuron_hooks_if_any() : nullptr;
    return nh ? nh->error_message() : "";
}

// the fused reduction for the encoder hooks (tools/mtmd/clip-nh.cpp), see llama-nh-reduce.h
void llama_nh_fused_reduce_op(ggml_tensor * dst, int ith, int nth, void * userdata) {
    nh_fused_reduce(dst, ith, nth, userdata);
}
