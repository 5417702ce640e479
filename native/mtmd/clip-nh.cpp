// Encoder neuron hooks (NeuronScope): see include/mtmd-neuron-hooks.h and clip-nh.h.

#include "clip-nh.h"

#include "clip-impl.h"
#include "clip-model.h"

#include "../../src/llama-nh-graph.h"
#include "../../src/llama-nh-reduce.h"

#include "ggml-backend.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace {

// a failed call: its status and message
struct nh_failure : std::runtime_error {
    int32_t status;
    nh_failure(int32_t status, const std::string & msg) : std::runtime_error(msg), status(status) {}
};

const char * point_id(int32_t point) {
    switch (point) {
        case MTMD_NH_FFN_PRE:  return "ffn.pre";
        case MTMD_NH_FFN_ACT:  return "ffn.act";
        case MTMD_NH_FFN_POST: return "ffn.post";
        case MTMD_NH_RESID_POST: return "resid.post";
        default:               return "ffn.?";
    }
}

} // namespace

clip_nh::clip_nh(const clip_model & model, bool on_cpu)
    : model(model), on_cpu(on_cpu), n_layer((int32_t) model.layers.size()) {
    for (int32_t part = 0; part < PART_COUNT; ++part) {
        interventions[part].resize(layers(part));
        taps[part].resize(layers(part));
    }
}

clip_nh::~clip_nh() = default;

// ---------------------------------------------------------------- model queries

int32_t clip_nh::module_of(int32_t part) const noexcept {
    if (part == PROJECTOR) {
        return MTMD_NH_MODULE_PROJECTOR;
    }
    return model.modality == CLIP_MODALITY_AUDIO ? MTMD_NH_MODULE_AUDIO : MTMD_NH_MODULE_VISION;
}

std::string clip_nh::arch_name() const {
    auto it = PROJECTOR_TYPE_NAMES.find(model.proj_type);
    return it == PROJECTOR_TYPE_NAMES.end() ? "unknown (" + std::to_string((int) model.proj_type) + ")" : it->second;
}

std::string clip_nh::point_name(int32_t part, int32_t point) const {
    const int32_t m = module_of(part);
    const char * module = m == MTMD_NH_MODULE_PROJECTOR ? "projector" : m == MTMD_NH_MODULE_AUDIO ? "audio" : "vision";
    return std::string(module) + "." + point_id(point);
}

// The projector MLPs the hooks know: the first weight of the one build_ffn call that projects
// (tools/mtmd/models/qwen2vl.cpp, siglip.cpp, whisper-enc.cpp).
ggml_tensor * clip_nh::projector_up() const noexcept {
    switch (model.proj_type) {
        case PROJECTOR_TYPE_QWEN2VL:
        case PROJECTOR_TYPE_QWEN25VL:
        case PROJECTOR_TYPE_JANUS_PRO:
        case PROJECTOR_TYPE_PHI4:
            return model.mm_0_w;
        case PROJECTOR_TYPE_LFM2:
        case PROJECTOR_TYPE_VOXTRAL:
        case PROJECTOR_TYPE_MUSIC_FLAMINGO:
        case PROJECTOR_TYPE_GLMA:
            return model.mm_1_w;
        default:
            return nullptr;
    }
}

int32_t clip_nh::layers(int32_t part) const noexcept {
    if (part == PROJECTOR) {
        return projector_up() ? 1 : 0;
    }
    return n_layer;
}

int64_t clip_nh::width(int32_t part, int32_t point, int32_t layer) const noexcept {
    if (point < 0 || point >= MTMD_NH_POINT_COUNT || layer < 0 || layer >= layers(part)) {
        return LLAMA_NH_ERR_ARGUMENT;
    }
    if (point == MTMD_NH_RESID_POST) {
        // the encoder layer's output is the residual stream; the projector's MLP has no layer output
        return part == ENCODER ? (int64_t) model.hparams.n_embd : (int64_t) LLAMA_NH_ERR_UNSUPPORTED;
    }
    const ggml_tensor * w = nullptr;
    if (part == PROJECTOR) {
        w = projector_up();
    } else {
        const auto & l = model.layers[layer];
        w = l.ff_gate_w ? l.ff_gate_w : l.ff_up_w;
    }
    return w ? w->ne[1] : (int64_t) LLAMA_NH_ERR_UNSUPPORTED;
}

bool clip_nh::configured(int32_t part, int32_t point, int32_t layer) const noexcept {
    for (const auto & r : reduces[part][point]) {
        if (r.acc) {
            return true;
        }
    }
    if (layer < 0 || layer >= (int32_t) taps[part].size()) {
        return false;
    }
    const auto & iv = interventions[part][layer][point];
    return taps[part][layer][point] || iv.scale || iv.shift;
}

bool clip_nh::any_configured() const noexcept {
    for (int32_t part = 0; part < PART_COUNT; ++part) {
        for (int32_t point = 0; point < MTMD_NH_POINT_COUNT; ++point) {
            for (int32_t layer = 0; layer < std::max<int32_t>(1, layers(part)); ++layer) {
                if (configured(part, point, layer)) {
                    return true;
                }
            }
        }
    }
    return false;
}

void clip_nh::clear() noexcept {
    n_columns = 0;
    group_weights = nullptr;
    row_weights = {};
    reduces = {};
    for (int32_t part = 0; part < PART_COUNT; ++part) {
        std::fill(interventions[part].begin(), interventions[part].end(), std::array<intervention, MTMD_NH_POINT_COUNT>{});
        std::fill(taps[part].begin(), taps[part].end(), std::array<bool, MTMD_NH_POINT_COUNT>{});
    }
}

void clip_nh::set_error(const std::string & msg) noexcept {
    try {
        last_error = msg;
    } catch (...) {
        last_error.clear();
    }
}

void clip_nh::problem(const std::string & msg) noexcept {
    g.failed = true;
    if (g.error.empty()) {
        try {
            g.error = msg;
        } catch (...) {
        }
    }
}

// ---------------------------------------------------------------- graph building

void clip_nh::begin_encode() noexcept {
    last_error.clear();
    g.active = false;
}

void clip_nh::begin_graph(ggml_cgraph * gf) noexcept {
    try {
        g = graph_state{};
        g.gf = gf;
        g.active = true;
        for (int32_t part = 0; part < PART_COUNT; ++part) {
            g.wired[part].assign(layers(part), std::array<uint8_t, MTMD_NH_POINT_COUNT>{});
        }
    } catch (const std::exception & e) {
        problem(std::string("encoder hooks: ") + e.what());
    }
}

void clip_nh::ffn_begin(const ggml_tensor * up, const ggml_tensor * gate, int32_t & part, int32_t & layer) noexcept {
    part  = ENCODER;
    layer = -1;
    for (int32_t il = 0; il < n_layer; ++il) {
        const auto & l = model.layers[il];
        if ((up && l.ff_up_w == up) || (gate && l.ff_gate_w == gate)) {
            layer = il;
            return;
        }
    }
    if (up && up == projector_up()) {
        part  = PROJECTOR;
        layer = g.n_projector_ffn++;
    }
}

ggml_tensor * clip_nh::weights_for(ggml_context * ctx0, int32_t part, int64_t rows) {
    for (const auto & w : g.weights) {
        if (w.part == part && w.rows == rows) {
            return w.tensor;
        }
    }
    ggml_tensor * t = ggml_new_tensor_2d(ctx0, GGML_TYPE_F32, n_columns, rows);
    ggml_format_name(t, "nh_weights-%d-%" PRId64, part, rows);
    ggml_set_input(t);
    g.weights.push_back({ part, rows, t });
    return t;
}

void clip_nh::add_reductions(ggml_context * ctx0, int32_t part, int32_t layer, int32_t point, ggml_tensor * x) {
    if (n_columns <= 0) {
        return;
    }
    const auto & rs = reduces[part][point];
    if (std::none_of(rs.begin(), rs.end(), [](const reduce & r) { return r.acc != nullptr; })) {
        return;
    }
    ggml_tensor * w = weights_for(ctx0, part, x->ne[1]);

    // the language model's fused CPU pass (llama-nh.cpp) where the encoder runs on the CPU
    if (on_cpu && !portable && x->type == GGML_TYPE_F32 && x->nb[0] == sizeof(float)) {
        llama_nh_fused_reduce f = {};
        for (int32_t s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
            if (rs[s].acc) {
                f.stats[f.n_stats] = s;
                f.thresholds[f.n_stats] = rs[s].threshold;
                f.n_stats++;
            }
        }
        g.fused.push_back(f);
        ggml_tensor * args[2] = { x, w };
        ggml_tensor * sums = ggml_custom_4d(ctx0, GGML_TYPE_F32, x->ne[0], n_columns, f.n_stats, 1, args, 2,
                                            llama_nh_fused_reduce_op, GGML_N_TASKS_MAX, &g.fused.back());
        ggml_format_name(sums, "nh_reduce-%d-%d-%d", part, layer, point);
        ggml_set_output(sums);
        ggml_build_forward_expand(g.gf, sums);
        g.outputs.push_back({ part, point, layer, -2, sums, &g.fused.back() });
        return;
    }
    // elsewhere: ggml ops the backend runs (as llama-nh.cpp's portable path)
    for (int32_t s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
        const auto & r = rs[s];
        if (!r.acc) {
            continue;
        }
        ggml_tensor * sum = llama_nh_reduce_stat(ctx0, x, w, s, r.threshold); // [width, rows] x [columns, rows] -> [width, columns]
        ggml_format_name(sum, "nh_reduce-%d-%d-%d-%d", part, layer, point, s);
        ggml_set_output(sum);
        ggml_build_forward_expand(g.gf, sum);
        g.outputs.push_back({ part, point, layer, s, sum, nullptr });
    }
}

ggml_tensor * clip_nh::hook_impl(ggml_context * ctx0, int32_t part, int32_t layer, int32_t point, ggml_tensor * x) {
    if (layer < 0 || layer >= layers(part) || !configured(part, point, layer)) {
        return x;
    }
    g.wired[part][layer][point]++;
    const int64_t w = width(part, point, layer);
    if (x->ne[0] != w || x->type != GGML_TYPE_F32) {
        problem(point_name(part, point) + " of layer " + std::to_string(layer) + " in the " + arch_name()
                + " encoder graph is " + std::to_string(x->ne[0]) + " wide, expected " + std::to_string(w));
        return x;
    }
    if (!ggml_is_contiguous(x)) {
        x = ggml_cont(ctx0, x);
    }
    ggml_tensor * x2d = ggml_n_dims(x) > 2 ? ggml_reshape_2d(ctx0, x, x->ne[0], ggml_nrows(x)) : x;

    if (taps[part][layer][point]) {
        ggml_set_output(x);
        ggml_build_forward_expand(g.gf, x);
        g.outputs.push_back({ part, point, layer, -1, x, nullptr });
    }
    add_reductions(ctx0, part, layer, point, x2d);

    const auto & iv = interventions[part][layer][point];
    if (iv.scale) {
        ggml_tensor * t = ggml_new_tensor_1d(ctx0, GGML_TYPE_F32, w);
        ggml_format_name(t, "nh_scale-%d-%d-%d", part, layer, point);
        ggml_set_input(t);
        g.masks.push_back({ t, iv.scale, w });
        x = ggml_mul(ctx0, x, t);
    }
    if (iv.shift) {
        ggml_tensor * t = ggml_new_tensor_1d(ctx0, GGML_TYPE_F32, w);
        ggml_format_name(t, "nh_shift-%d-%d-%d", part, layer, point);
        ggml_set_input(t);
        g.masks.push_back({ t, iv.shift, w });
        x = ggml_add(ctx0, x, t);
    }
    return x;
}

ggml_tensor * clip_nh::hook(ggml_context * ctx0, int32_t part, int32_t layer, int32_t point, ggml_tensor * x) noexcept {
    try {
        return hook_impl(ctx0, part, layer, point, x);
    } catch (const std::exception & e) {
        problem(std::string("encoder hooks: ") + e.what());
    } catch (...) {
        problem("encoder hooks: unknown exception");
    }
    return x;
}

bool clip_nh::build_gated_act(ggml_context * ctx0, int32_t part, int32_t layer, int32_t type_op, ggml_tensor *& cur,
                              ggml_tensor * up) noexcept {
    if (layer < 0 || layer >= layers(part) || !configured(part, MTMD_NH_FFN_ACT, layer)) {
        return false;
    }
    try {
        ggml_tensor * act = nullptr;
        switch (type_op) {
            case FFN_SILU:       act = ggml_silu(ctx0, cur);       break;
            case FFN_GELU:       act = ggml_gelu(ctx0, cur);       break;
            case FFN_GELU_ERF:   act = ggml_gelu_erf(ctx0, cur);   break;
            case FFN_GELU_QUICK: act = ggml_gelu_quick(ctx0, cur); break;
            default:             return false; // relu² ignores the gate's product: not un-fused (ffn.act then fails as unreached)
        }
        act = hook_impl(ctx0, part, layer, MTMD_NH_FFN_ACT, act);
        cur = ggml_mul(ctx0, act, up);
        return true;
    } catch (const std::exception & e) {
        problem(std::string("encoder hooks: ") + e.what());
    } catch (...) {
        problem("encoder hooks: unknown exception");
    }
    return false;
}

ggml_tensor * clip_nh::ffn_post(ggml_context * ctx0, int32_t part, int32_t layer, bool gated, ggml_tensor * cur) noexcept {
    if (!gated) {
        cur = hook(ctx0, part, layer, MTMD_NH_FFN_ACT, cur);
    }
    return hook(ctx0, part, layer, MTMD_NH_FFN_POST, cur);
}

void clip_nh::named(ggml_context * ctx0, const char * name, int32_t layer, ggml_tensor * cur) noexcept {
    if (layer >= 0 && layer < n_layer && configured(ENCODER, MTMD_NH_RESID_POST, layer)) {
        // the layer's output: "layer_out", or "layer_out_scaled" where build_vit scales it (ls_out_w) before the next layer
        const char * out = model.layers[layer].ls_out_w ? "layer_out_scaled" : "layer_out";
        if (std::strcmp(name, out) == 0) {
            hook(ctx0, ENCODER, layer, MTMD_NH_RESID_POST, cur); // observed only: resid.post takes no interventions
        }
    }
}

// ---------------------------------------------------------------- around compute

bool clip_nh::before_compute_impl(ggml_cgraph * gf) {
    if (g.gf != gf) {
        throw std::runtime_error("the encoder graph is not the one the hooks were wired into");
    }
    if (g.failed) {
        throw std::runtime_error(g.error.empty() ? std::string("the encoder hooks could not be wired") : g.error);
    }
    for (int32_t part = 0; part < PART_COUNT; ++part) {
        for (int32_t layer = 0; layer < layers(part); ++layer) {
            for (int32_t point = 0; point < MTMD_NH_POINT_COUNT; ++point) {
                if (configured(part, point, layer) && g.wired[part][layer][point] == 0) {
                    throw std::runtime_error(point_name(part, point) + " of layer " + std::to_string(layer)
                            + " is not reached in the encoder graph of the architecture " + arch_name()
                            + (point == MTMD_NH_RESID_POST
                                ? " (the encoder hooks reach a layer's output where the graph names it layer_out)"
                                : " (the encoder hooks reach FFNs built by clip_graph::build_ffn)"));
                }
            }
        }
    }
    std::vector<float> w;
    for (const auto & in : g.weights) {
        const auto & rw = row_weights[in.part];
        if (rw.w && rw.n != in.rows) {
            throw std::runtime_error("row weights of " + point_name(in.part, 0).substr(0, point_name(in.part, 0).find('.'))
                    + " have " + std::to_string(rw.n) + " rows, but the encode has " + std::to_string(in.rows) + " rows there");
        }
        w.assign((size_t) in.rows * n_columns, 0.0f);
        if (group_weights) {
            for (int64_t t = 0; t < in.rows; ++t) {
                const float rt = rw.w ? rw.w[t] : 1.0f;
                for (int32_t c = 0; c < n_columns; ++c) {
                    w[t*n_columns + c] = group_weights[c] * rt;
                }
            }
        }
        ggml_backend_tensor_set(in.tensor, w.data(), 0, ggml_nbytes(in.tensor));
    }
    for (const auto & m : g.masks) {
        ggml_backend_tensor_set(m.tensor, m.values, 0, (size_t) m.width * sizeof(float));
    }
    return true;
}

bool clip_nh::before_compute(ggml_cgraph * gf) noexcept {
    if (!g.active) {
        return true;
    }
    try {
        return before_compute_impl(gf);
    } catch (const std::exception & e) {
        set_error(e.what());
    } catch (...) {
        set_error("encoder hooks: unknown exception");
    }
    g.active = false;
    return false;
}

bool clip_nh::after_compute_impl(ggml_cgraph *) {
    // everything to the host first: a tap that fails leaves the accumulators as they were
    std::vector<std::vector<float>> host(g.outputs.size());
    for (size_t k = 0; k < g.outputs.size(); ++k) {
        host[k].resize(ggml_nelements(g.outputs[k].tensor));
        ggml_backend_tensor_get(g.outputs[k].tensor, host[k].data(), 0, ggml_nbytes(g.outputs[k].tensor));
    }
    for (size_t k = 0; k < g.outputs.size(); ++k) {
        const auto & o = g.outputs[k];
        if (o.stat != -1) {
            continue;
        }
        const int64_t wd = o.tensor->ne[0];
        if (!tap_callback) {
            throw std::runtime_error("a tap is set but no tap callback");
        }
        if (!tap_callback(tap_user_data, module_of(o.part), o.point, o.layer, host[k].data(), wd, (int64_t) host[k].size() / wd)) {
            throw std::runtime_error("the tap callback of " + point_name(o.part, o.point) + " layer " + std::to_string(o.layer) + " failed the encode");
        }
    }
    for (size_t k = 0; k < g.outputs.size(); ++k) {
        const auto & o = g.outputs[k];
        if (o.stat == -1) {
            continue;
        }
        const int64_t wd = o.tensor->ne[0];
        const int32_t n_planes = o.stat == -2 ? o.fused->n_stats : 1;
        for (int32_t p = 0; p < n_planes; ++p) {
            const int32_t stat = o.stat == -2 ? o.fused->stats[p] : o.stat;
            double * acc = reduces[o.part][o.point][stat].acc;
            if (!acc) {
                continue;
            }
            const float * src = host[k].data() + (size_t) p * n_columns * wd;
            double * dst = acc + (size_t) o.layer * n_columns * wd;
            for (int64_t i = 0; i < (int64_t) n_columns * wd; ++i) {
                dst[i] += src[i];
            }
        }
    }
    return true;
}

bool clip_nh::after_compute(ggml_cgraph * gf) noexcept {
    if (!g.active) {
        return true;
    }
    g.active = false;
    try {
        return after_compute_impl(gf);
    } catch (const std::exception & e) {
        set_error(e.what());
    } catch (...) {
        set_error("encoder hooks: unknown exception");
    }
    return false;
}

// ---------------------------------------------------------------- C API

namespace {

clip_nh * nh_clip(mtmd_context * ctx, bool audio) {
    clip_ctx * c = mtmd_nh_clip(ctx, audio);
    return c ? clip_nh_of(c) : nullptr;
}

// the hooks of a module and its part
clip_nh & nh_module(mtmd_context * ctx, int32_t module, int32_t & part) {
    clip_ctx * v = mtmd_nh_clip(ctx, false);
    clip_ctx * a = mtmd_nh_clip(ctx, true);
    switch (module) {
        case MTMD_NH_MODULE_VISION:
            if (!v) throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "the projector has no vision encoder");
            part = clip_nh::ENCODER;
            return *clip_nh_of(v);
        case MTMD_NH_MODULE_AUDIO:
            if (!a) throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "the projector has no audio encoder");
            part = clip_nh::ENCODER;
            return *clip_nh_of(a);
        case MTMD_NH_MODULE_PROJECTOR:
            part = clip_nh::PROJECTOR;
            return *clip_nh_of(v ? v : a);
        default:
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "module must be 1 (vision), 2 (audio) or 3 (projector), got " + std::to_string(module));
    }
}

void check_layers(const clip_nh & nh, int32_t part) {
    if (nh.layers(part) == 0) {
        throw nh_failure(LLAMA_NH_ERR_UNSUPPORTED, "the projector type " + nh.arch_name()
                + " has no projector MLP the encoder hooks reach (projector.ffn.*): its projection is not built by clip_graph::build_ffn");
    }
}

void check_point(const clip_nh & nh, int32_t part, int32_t point) {
    check_layers(nh, part);
    if (point < 0 || point >= MTMD_NH_POINT_COUNT) {
        throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "hook point must be in [0, " + std::to_string(MTMD_NH_POINT_COUNT) + "), got " + std::to_string(point));
    }
    if (point == MTMD_NH_RESID_POST && part == clip_nh::PROJECTOR) {
        throw nh_failure(LLAMA_NH_ERR_UNSUPPORTED, "projector.resid.post: the projector's MLP (" + nh.arch_name()
                + ") has no layer output; resid.post is a point of the vision and audio encoders' layers");
    }
}

void check_layer(const clip_nh & nh, int32_t part, int32_t point, int32_t layer) {
    if (layer < 0 || layer >= nh.layers(part)) {
        throw nh_failure(LLAMA_NH_ERR_ARGUMENT, nh.point_name(part, point) + ": layer " + std::to_string(layer)
                + " outside [0, " + std::to_string(nh.layers(part)) + ")");
    }
    if (nh.width(part, point, layer) < 0) {
        throw nh_failure(LLAMA_NH_ERR_UNSUPPORTED, nh.point_name(part, point) + " of layer " + std::to_string(layer)
                + ": the architecture " + nh.arch_name() + " has no FFN weights the hooks know there");
    }
}

template <typename F>
int32_t nh_call(mtmd_context * ctx, F && f) noexcept {
    clip_nh * err = nullptr;
    try {
        if (!ctx) {
            return LLAMA_NH_ERR_ARGUMENT;
        }
        clip_nh * v = nh_clip(ctx, false);
        clip_nh * a = nh_clip(ctx, true);
        err = v ? v : a;
        if (v) v->last_error.clear();
        if (a) a->last_error.clear();
        f();
        return LLAMA_NH_OK;
    } catch (const nh_failure & e) {
        if (err) err->set_error(e.what());
        return e.status;
    } catch (const std::exception & e) {
        if (err) err->set_error(std::string("encoder hooks: ") + e.what());
    } catch (...) {
        if (err) err->set_error("encoder hooks: unknown exception");
    }
    return LLAMA_NH_ERR_INTERNAL;
}

// both encoders' hooks
template <typename F>
void each_nh(mtmd_context * ctx, F && f) {
    for (bool audio : { false, true }) {
        if (clip_nh * nh = nh_clip(ctx, audio)) {
            f(*nh);
        }
    }
}

} // namespace

int32_t mtmd_nh_layers(mtmd_context * ctx, int32_t module) {
    int32_t n = 0;
    int32_t rc = nh_call(ctx, [&] {
        int32_t part = 0;
        clip_nh & nh = nh_module(ctx, module, part);
        check_layers(nh, part);
        n = nh.layers(part);
    });
    return rc == LLAMA_NH_OK ? n : rc;
}

int64_t mtmd_nh_width(mtmd_context * ctx, int32_t module, int32_t point, int32_t layer) {
    int64_t w = 0;
    int32_t rc = nh_call(ctx, [&] {
        int32_t part = 0;
        clip_nh & nh = nh_module(ctx, module, part);
        check_point(nh, part, point);
        check_layer(nh, part, point, layer);
        w = nh.width(part, point, layer);
    });
    return rc == LLAMA_NH_OK ? w : rc;
}

int32_t mtmd_nh_set_columns(mtmd_context * ctx, int32_t n_columns) {
    return nh_call(ctx, [&] {
        if (n_columns < 0 || n_columns > 4096) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "n_columns must be in [0, 4096], got " + std::to_string(n_columns));
        }
        each_nh(ctx, [&](clip_nh & nh) {
            if (nh.n_columns != n_columns) {
                nh.reduces = {};
                nh.group_weights = nullptr;
            }
            nh.n_columns = n_columns;
        });
    });
}

int32_t mtmd_nh_set_group_weights(mtmd_context * ctx, const float * weights) {
    return nh_call(ctx, [&] {
        each_nh(ctx, [&](clip_nh & nh) {
            if (weights && nh.n_columns == 0) {
                throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "set the number of columns (mtmd_nh_set_columns) before the group weights");
            }
        });
        each_nh(ctx, [&](clip_nh & nh) { nh.group_weights = weights; });
    });
}

int32_t mtmd_nh_set_row_weights(mtmd_context * ctx, int32_t module, const float * weights, int64_t n_rows) {
    return nh_call(ctx, [&] {
        int32_t part = 0;
        clip_nh & nh = nh_module(ctx, module, part);
        if (weights && n_rows <= 0) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "n_rows must be positive, got " + std::to_string(n_rows));
        }
        nh.row_weights[part] = { weights, weights ? n_rows : 0 };
    });
}

int32_t mtmd_nh_set_reduce(mtmd_context * ctx, int32_t module, int32_t point, int32_t stat, double * acc, int64_t acc_len, float threshold) {
    return nh_call(ctx, [&] {
        int32_t part = 0;
        clip_nh & nh = nh_module(ctx, module, part);
        check_point(nh, part, point);
        if (stat < 0 || stat >= LLAMA_NH_STAT_COUNT_OF) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "statistic must be in [0, " + std::to_string(LLAMA_NH_STAT_COUNT_OF) + "), got " + std::to_string(stat));
        }
        if (!acc) {
            nh.reduces[part][point][stat] = {};
            return;
        }
        if (nh.n_columns <= 0) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "set the number of columns (mtmd_nh_set_columns) before adding reductions");
        }
        if (!std::isfinite(threshold)) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, "threshold must be finite");
        }
        const int64_t w0 = nh.width(part, point, 0);
        for (int32_t layer = 0; layer < nh.layers(part); ++layer) {
            check_layer(nh, part, point, layer);
            if (nh.width(part, point, layer) != w0) {
                throw nh_failure(LLAMA_NH_ERR_UNSUPPORTED, nh.point_name(part, point) + " has layers of different widths; reductions need one width");
            }
        }
        const int64_t need = (int64_t) nh.layers(part) * nh.n_columns * w0;
        if (acc_len != need) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, nh.point_name(part, point) + ": acc_len " + std::to_string(acc_len) + " != layers "
                    + std::to_string(nh.layers(part)) + " x columns " + std::to_string(nh.n_columns) + " x width " + std::to_string(w0));
        }
        nh.reduces[part][point][stat] = { acc, acc_len, threshold };
    });
}

int32_t mtmd_nh_set_intervention(mtmd_context * ctx, int32_t module, int32_t point, int32_t layer, const float * scale, const float * shift) {
    return nh_call(ctx, [&] {
        int32_t part = 0;
        clip_nh & nh = nh_module(ctx, module, part);
        check_point(nh, part, point);
        if (point != MTMD_NH_FFN_ACT && point != MTMD_NH_FFN_POST) {
            throw nh_failure(LLAMA_NH_ERR_ARGUMENT, nh.point_name(part, point) + " accepts no interventions (ffn.act and ffn.post do)");
        }
        check_layer(nh, part, point, layer);
        nh.interventions[part][layer][point] = { scale, shift };
    });
}

int32_t mtmd_nh_set_tap(mtmd_context * ctx, int32_t module, int32_t point, int32_t layer, bool enabled) {
    return nh_call(ctx, [&] {
        int32_t part = 0;
        clip_nh & nh = nh_module(ctx, module, part);
        check_point(nh, part, point);
        if (layer == -1) {
            for (int32_t l = 0; l < nh.layers(part); ++l) {
                check_layer(nh, part, point, l);
                nh.taps[part][l][point] = enabled;
            }
            return;
        }
        check_layer(nh, part, point, layer);
        nh.taps[part][layer][point] = enabled;
    });
}

int32_t mtmd_nh_set_tap_callback(mtmd_context * ctx, mtmd_nh_tap_callback callback, void * user_data) {
    return nh_call(ctx, [&] {
        each_nh(ctx, [&](clip_nh & nh) {
            nh.tap_callback  = callback;
            nh.tap_user_data = user_data;
        });
    });
}

int32_t mtmd_nh_set_portable_reductions(mtmd_context * ctx, bool portable) {
    return nh_call(ctx, [&] { each_nh(ctx, [&](clip_nh & nh) { nh.portable = portable; }); });
}

int32_t mtmd_nh_clear(mtmd_context * ctx) {
    return nh_call(ctx, [&] { each_nh(ctx, [&](clip_nh & nh) { nh.clear(); }); });
}

const char * mtmd_nh_last_error(mtmd_context * ctx) {
    try {
        for (bool audio : { false, true }) {
            clip_ctx * c = ctx ? mtmd_nh_clip(ctx, audio) : nullptr;
            if (c) {
                clip_nh * nh = clip_nh_of(c);
                if (!nh->last_error.empty()) {
                    return nh->last_error.c_str();
                }
            }
        }
    } catch (...) {
        return "encoder hooks: out of memory";
    }
    return "";
}
