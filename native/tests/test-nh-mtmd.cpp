// Tests of the encoder neuron hooks (mtmd-neuron-hooks.h) on a synthetic Qwen2.5-VL projector
// (qwen2.5vl_merger: a ViT with gated SiLU FFNs, RMS norms and the 2x2 patch merger), written here
// with the gguf API in F32 next to nh-test.h's llama model. The oracles are independent of the hooks:
//   reductions   the sums of the taps (both reduction paths) at vision.ffn.act, vision.resid.post
//                and projector.ffn.pre;
//   resid.post   the last layer's output, through the merger's RMS norm, 2x2 concatenation and mm.0,
//                is the projector.ffn.pre tap;
//   masks        identity masks leave the embeddings bit-identical (CPU); deactivating neuron n equals
//                an mmproj with that neuron's gate and up rows and biases zeroed, and differs from the
//                unmasked encode; after mtmd_nh_clear the encode is mtmd's again;
//   errors       what the hooks refuse, with its status and message.
// Usage: test-nh-mtmd [reductions|masks|errors|all]. CPU only (the GPU paths are the Java oracles').

#include "nh-test.h"

#include "mtmd.h"
#include "mtmd-neuron-hooks.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

namespace {

using namespace nh_test;

struct proj_spec {
    int      n_embd  = 32;
    int      n_ff    = 64;
    int      n_layer = 2;
    int      n_head  = 4;
    int      n_proj  = 64; // the text model's n_embd
    int      patch   = 14;
    uint32_t seed    = 11;
    int      zero_layer  = -1; // the neuron whose gate and up rows (and biases) are zero
    int      zero_neuron = -1;
};

// Writes the projector (F32 tensors, the names and keys of llama.cpp's converter).
bool write_mmproj(const proj_spec & s, const std::string & path) {
    gguf_context * g = gguf_init_empty();
    gguf_set_val_str(g, "general.architecture", "clip");
    gguf_set_val_str(g, "general.name", "neuron-hooks-test-qwen25vl");
    gguf_set_val_u32(g, "general.file_type", 0);
    gguf_set_val_bool(g, "clip.has_vision_encoder", true);
    gguf_set_val_bool(g, "clip.has_audio_encoder", false);
    gguf_set_val_str(g, "clip.projector_type", "qwen2.5vl_merger");
    gguf_set_val_u32(g, "clip.vision.embedding_length", s.n_embd);
    gguf_set_val_u32(g, "clip.vision.feed_forward_length", s.n_ff);
    gguf_set_val_u32(g, "clip.vision.block_count", s.n_layer);
    gguf_set_val_u32(g, "clip.vision.attention.head_count", s.n_head);
    gguf_set_val_u32(g, "clip.vision.projection_dim", s.n_proj);
    gguf_set_val_f32(g, "clip.vision.attention.layer_norm_epsilon", 1e-6f);
    gguf_set_val_u32(g, "clip.vision.image_size", 560);
    gguf_set_val_u32(g, "clip.vision.patch_size", s.patch);
    gguf_set_val_u32(g, "clip.vision.n_wa_pattern", 0);
    gguf_set_val_bool(g, "clip.use_silu", true);
    const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
    const float stdv[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    gguf_set_arr_data(g, "clip.vision.image_mean", GGUF_TYPE_FLOAT32, mean, 3);
    gguf_set_arr_data(g, "clip.vision.image_std", GGUF_TYPE_FLOAT32, stdv, 3);

    const int e = s.n_embd, m = 4 * s.n_embd;
    std::vector<random_tensor> tensors;
    const float sp = 1.0f / std::sqrt(2.0f * s.patch * s.patch * 3);
    tensors.push_back({ "v.patch_embd.weight",   { s.patch, s.patch, 3, e }, sp, false });
    tensors.push_back({ "v.patch_embd.weight.1", { s.patch, s.patch, 3, e }, sp, false });
    for (int il = 0; il < s.n_layer; ++il) {
        const std::string b = "v.blk." + std::to_string(il) + ".";
        const float se = 1.0f / std::sqrt((float) e);
        tensors.push_back({ b + "ln1.weight", { e }, 0.0f, true });
        for (const char * t : { "attn_q", "attn_k", "attn_v", "attn_out" }) {
            tensors.push_back({ b + t + ".weight", { e, e }, se, false });
            tensors.push_back({ b + t + ".bias", { e }, 0.02f, false });
        }
        tensors.push_back({ b + "ln2.weight", { e }, 0.0f, true });
        tensors.push_back({ b + "ffn_gate.weight", { e, s.n_ff }, se, false });
        tensors.push_back({ b + "ffn_gate.bias", { s.n_ff }, 0.02f, false });
        tensors.push_back({ b + "ffn_up.weight", { e, s.n_ff }, se, false });
        tensors.push_back({ b + "ffn_up.bias", { s.n_ff }, 0.02f, false });
        tensors.push_back({ b + "ffn_down.weight", { s.n_ff, e }, 1.0f / std::sqrt((float) s.n_ff), false });
        tensors.push_back({ b + "ffn_down.bias", { e }, 0.02f, false });
    }
    tensors.push_back({ "v.post_ln.weight", { e }, 0.0f, true });
    tensors.push_back({ "mm.0.weight", { m, m }, 1.0f / std::sqrt((float) m), false });
    tensors.push_back({ "mm.0.bias", { m }, 0.02f, false });
    tensors.push_back({ "mm.2.weight", { m, s.n_proj }, 1.0f / std::sqrt((float) m), false });
    tensors.push_back({ "mm.2.bias", { s.n_proj }, 0.02f, false });

    const std::string zb = "v.blk." + std::to_string(s.zero_layer) + ".";
    return write_random_tensors(g, tensors, s.seed, 0.0f, path, [&](const std::string & name, float * d, const int64_t *) {
        if (s.zero_layer < 0) {
            return;
        }
        for (const char * w : { "ffn_gate", "ffn_up" }) {
            if (name == zb + w + ".weight") {
                std::fill(d + (size_t) s.zero_neuron * e, d + (size_t) (s.zero_neuron + 1) * e, 0.0f); // row n: neuron n
            } else if (name == zb + w + ".bias") {
                d[s.zero_neuron] = 0.0f;
            }
        }
    });
}

struct proj_file {
    std::string path;
    proj_file(const proj_spec & s, const char * name) : path(temp_path(name)) {
        if (!write_mmproj(s, path)) {
            fprintf(stderr, "cannot write %s\n", path.c_str());
            exit(2);
        }
    }
    ~proj_file() { std::remove(path.c_str()); }
};

// The text model (nh-test.h's llama, 64 wide) and one image chunk of a fixed random 56x56 image.
struct encoder {
    llama_model * model = nullptr;
    mtmd_context * ctx = nullptr;
    mtmd_input_chunks * chunks = nullptr;
    const mtmd_input_chunk * image = nullptr;
    int64_t n_embd_out = 0;

    encoder(const std::string & model_path, const std::string & mmproj_path) {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = 0;
        model = llama_model_load_from_file(model_path.c_str(), mp);
        if (!model) return;
        mtmd_context_params cp = mtmd_context_params_default();
        cp.use_gpu = false;
        cp.print_timings = false;
        cp.warmup = false;
        cp.n_threads = 2;
        ctx = mtmd_init_from_file(mmproj_path.c_str(), model, cp);
        if (!ctx) return;
        std::vector<unsigned char> rgb(56 * 56 * 3);
        std::mt19937 rng(5);
        for (auto & v : rgb) v = (unsigned char) (rng() & 0xFF);
        mtmd_bitmap * bmp = mtmd_bitmap_init(56, 56, rgb.data());
        chunks = mtmd_input_chunks_init();
        mtmd_input_text text = { mtmd_default_marker(), strlen(mtmd_default_marker()), false, false };
        const mtmd_bitmap * bmps[1] = { bmp };
        if (mtmd_tokenize(ctx, chunks, &text, bmps, 1) == 0) {
            for (size_t i = 0; i < mtmd_input_chunks_size(chunks); ++i) {
                const mtmd_input_chunk * c = mtmd_input_chunks_get(chunks, i);
                if (mtmd_input_chunk_get_type(c) == MTMD_INPUT_CHUNK_TYPE_IMAGE) image = c;
            }
        }
        mtmd_bitmap_free(bmp);
        n_embd_out = llama_model_n_embd(model);
    }
    ~encoder() {
        if (chunks) mtmd_input_chunks_free(chunks);
        if (ctx) mtmd_free(ctx);
        if (model) llama_model_free(model);
    }
    bool ok() const { return image != nullptr; }

    // encodes the image: 0 and the embeddings, or the status
    int32_t encode(std::vector<float> * out = nullptr) {
        const int32_t rc = mtmd_encode_chunk(ctx, image);
        if (rc == 0 && out) {
            const float * e = mtmd_get_output_embd(ctx);
            out->assign(e, e + mtmd_input_chunk_get_n_tokens(image) * n_embd_out);
        }
        return rc;
    }
};

// every tap of the last encode: (module, point, layer) -> rows x width
struct taps {
    std::map<std::tuple<int, int, int>, std::vector<float>> data;
    std::map<std::tuple<int, int, int>, int64_t> width;
    static bool cb(void * self, int32_t module, int32_t point, int32_t layer, const float * d, int64_t w, int64_t n) {
        auto * t = (taps *) self;
        t->data[{ module, point, layer }].assign(d, d + w * n);
        t->width[{ module, point, layer }] = w;
        return true;
    }
};

struct model_files {
    model_file lm;
    proj_file  proj;
    model_files() : lm(lm_spec(), "mtmd-lm"), proj(proj_spec{}, "mtmd-proj") {}
    static model_spec lm_spec() { model_spec s; s.n_embd = 64; s.n_layer = 1; return s; }
};

void test_reductions(model_files & f) {
    encoder enc(f.lm.path, f.proj.path);
    NH_REQUIRE(enc.ok(), "the synthetic Qwen2.5-VL projector loads and tokenizes an image");
    const proj_spec s;
    NH_CHECK(mtmd_nh_layers(enc.ctx, MTMD_NH_MODULE_VISION) == s.n_layer, "vision layers");
    NH_CHECK(mtmd_nh_layers(enc.ctx, MTMD_NH_MODULE_PROJECTOR) == 1, "projector layers");
    NH_CHECK(mtmd_nh_width(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_FFN_ACT, 1) == s.n_ff, "vision.ffn.act width");
    NH_CHECK(mtmd_nh_width(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_RESID_POST, 1) == s.n_embd, "vision.resid.post width");
    NH_CHECK(mtmd_nh_width(enc.ctx, MTMD_NH_MODULE_PROJECTOR, MTMD_NH_FFN_PRE, 0) == 4 * s.n_embd, "projector.ffn.pre width");

    struct point { int module, point, layers; int64_t width; };
    const point points[] = {
        { MTMD_NH_MODULE_VISION, MTMD_NH_FFN_ACT, s.n_layer, s.n_ff },
        { MTMD_NH_MODULE_VISION, MTMD_NH_RESID_POST, s.n_layer, s.n_embd },
        { MTMD_NH_MODULE_PROJECTOR, MTMD_NH_FFN_PRE, 1, 4 * s.n_embd },
    };
    for (bool portable : { false, true }) {
        NH_REQUIRE(mtmd_nh_set_portable_reductions(enc.ctx, portable) == 0, "portable");
        NH_REQUIRE(mtmd_nh_set_columns(enc.ctx, 2) == 0, "columns: %s", mtmd_nh_last_error(enc.ctx));
        const float group[2] = { 1.0f, 0.5f };
        NH_REQUIRE(mtmd_nh_set_group_weights(enc.ctx, group) == 0, "group weights");
        const float threshold = 0.05f;
        std::vector<std::vector<double>> sums, counts;
        for (const auto & p : points) {
            sums.emplace_back((size_t) p.layers * 2 * p.width, 0.0);
            counts.emplace_back((size_t) p.layers * 2 * p.width, 0.0);
            NH_REQUIRE(mtmd_nh_set_reduce(enc.ctx, p.module, p.point, LLAMA_NH_STAT_SUM, sums.back().data(), (int64_t) sums.back().size(), 0.0f) == 0,
                       "reduce sum: %s", mtmd_nh_last_error(enc.ctx));
            NH_REQUIRE(mtmd_nh_set_reduce(enc.ctx, p.module, p.point, LLAMA_NH_STAT_COUNT, counts.back().data(), (int64_t) counts.back().size(), threshold) == 0,
                       "reduce count: %s", mtmd_nh_last_error(enc.ctx));
            NH_REQUIRE(mtmd_nh_set_tap(enc.ctx, p.module, p.point, -1, true) == 0, "tap: %s", mtmd_nh_last_error(enc.ctx));
        }
        taps t;
        NH_REQUIRE(mtmd_nh_set_tap_callback(enc.ctx, taps::cb, &t) == 0, "tap callback");
        NH_REQUIRE(enc.encode() == 0, "encode: %s", mtmd_nh_last_error(enc.ctx));
        for (size_t k = 0; k < sizeof(points) / sizeof(points[0]); ++k) {
            const auto & p = points[k];
            for (int l = 0; l < p.layers; ++l) {
                const auto key = std::make_tuple(p.module, p.point, l);
                const auto & rows = t.data[key];
                NH_REQUIRE(!rows.empty() && t.width[key] == p.width, "tap of point %d layer %d", p.point, l);
                const int64_t n_rows = (int64_t) rows.size() / p.width;
                double positive = 0;
                for (int c = 0; c < 2; ++c) {
                    for (int64_t n = 0; n < p.width; ++n) {
                        double sum = 0, count = 0;
                        for (int64_t r = 0; r < n_rows; ++r) {
                            const float x = rows[r * p.width + n];
                            sum += group[c] * x;
                            count += x > threshold ? group[c] : 0.0;
                        }
                        const size_t i = ((size_t) l * 2 + c) * p.width + n;
                        NH_CHECK(std::fabs(sums[k][i] - sum) <= 1e-4 * std::max(1.0, std::fabs(sum)),
                                 "%s point %d layer %d column %d neuron %" PRId64 ": sum %g != taps %g", portable ? "portable" : "fused",
                                 p.point, l, c, n, sums[k][i], sum);
                        NH_CHECK(counts[k][i] == count, "%s point %d layer %d column %d neuron %" PRId64 ": count %g != taps %g",
                                 portable ? "portable" : "fused", p.point, l, c, n, counts[k][i], count);
                        positive += count;
                    }
                }
                NH_CHECK(positive > 0, "point %d layer %d: no activation above the threshold (vacuous)", p.point, l);
            }
        }
        // resid.post of the last layer is what the merger consumes: mm.0 · [rms(x_4t) .. rms(x_4t+3)] + b = projector.ffn.pre
        if (!portable) {
            gguf_init_params gp = { false, nullptr };
            ggml_context * wctx = nullptr;
            gp.ctx = &wctx;
            gguf_context * g = gguf_init_from_file(f.proj.path.c_str(), gp);
            NH_REQUIRE(g && wctx, "read the projector back");
            const float * w0 = (const float *) ggml_get_tensor(wctx, "mm.0.weight")->data;
            const float * b0 = (const float *) ggml_get_tensor(wctx, "mm.0.bias")->data;
            const auto & x = t.data[{ MTMD_NH_MODULE_VISION, MTMD_NH_RESID_POST, s.n_layer - 1 }];
            const auto & pre = t.data[{ MTMD_NH_MODULE_PROJECTOR, MTMD_NH_FFN_PRE, 0 }];
            const int e = s.n_embd, m = 4 * s.n_embd;
            const int64_t tokens = (int64_t) pre.size() / m;
            NH_CHECK(tokens * 4 * e == (int64_t) x.size(), "merged tokens: %" PRId64 " from %zu patch values", tokens, x.size());
            double worst = 0;
            std::vector<double> v(m);
            for (int64_t tk = 0; tk < tokens && tokens * 4 * e == (int64_t) x.size(); ++tk) {
                for (int j = 0; j < 4; ++j) {
                    const float * row = x.data() + (tk * 4 + j) * e;
                    double ms = 0;
                    for (int i = 0; i < e; ++i) ms += (double) row[i] * row[i] / e;
                    for (int i = 0; i < e; ++i) v[j * e + i] = row[i] / std::sqrt(ms + 1e-6); // post_ln: RMS, weight 1
                }
                for (int r = 0; r < m; ++r) {
                    double want = b0[r];
                    for (int i = 0; i < m; ++i) want += (double) w0[(size_t) r * m + i] * v[i];
                    worst = std::max(worst, std::fabs(pre[tk * m + r] - want) / (1.0 + std::fabs(want)));
                }
            }
            NH_CHECK(worst < 1e-4, "projector.ffn.pre vs mm.0 of the last layer's resid.post: %g", worst);
            gguf_free(g);
            ggml_free(wctx);
        }
        NH_REQUIRE(mtmd_nh_clear(enc.ctx) == 0, "clear");
    }
}

void test_masks(model_files & f) {
    const proj_spec s;
    const int layer = 1, neuron = 5;
    proj_spec zs;
    zs.zero_layer = layer;
    zs.zero_neuron = neuron;
    proj_file zeroed(zs, "mtmd-proj-zeroed");
    std::vector<float> plain, identity, masked, cleared, edited;
    {
        encoder enc(f.lm.path, f.proj.path);
        NH_REQUIRE(enc.ok(), "load");
        NH_REQUIRE(enc.encode(&plain) == 0, "plain encode");
        std::vector<float> ones(s.n_ff, 1.0f), zeros(s.n_ff, 0.0f), off(s.n_ff, 1.0f);
        off[neuron] = 0.0f;
        for (int l = 0; l < s.n_layer; ++l) {
            NH_REQUIRE(mtmd_nh_set_intervention(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_FFN_ACT, l, ones.data(), zeros.data()) == 0, "identity");
            NH_REQUIRE(mtmd_nh_set_intervention(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_FFN_POST, l, ones.data(), nullptr) == 0, "identity");
        }
        NH_REQUIRE(enc.encode(&identity) == 0, "identity encode: %s", mtmd_nh_last_error(enc.ctx));
        NH_REQUIRE(mtmd_nh_set_intervention(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_FFN_ACT, layer, off.data(), nullptr) == 0, "deactivate");
        NH_REQUIRE(enc.encode(&masked) == 0, "masked encode: %s", mtmd_nh_last_error(enc.ctx));
        NH_REQUIRE(mtmd_nh_clear(enc.ctx) == 0, "clear");
        NH_REQUIRE(enc.encode(&cleared) == 0, "encode after clear");
    }
    {
        encoder enc(f.lm.path, zeroed.path);
        NH_REQUIRE(enc.ok(), "load the zeroed projector");
        NH_REQUIRE(enc.encode(&edited) == 0, "zeroed encode");
    }
    NH_CHECK(identity == plain, "identity masks must leave the embeddings bit-identical");
    NH_CHECK(cleared == plain, "after mtmd_nh_clear the encode is mtmd's");
    NH_REQUIRE(masked.size() == plain.size() && edited.size() == plain.size(), "embedding sizes");
    double changed = 0, diff = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
        changed = std::max(changed, (double) std::fabs(masked[i] - plain[i]));
        diff = std::max(diff, (double) std::fabs(masked[i] - edited[i]));
    }
    NH_CHECK(changed > 1e-4, "deactivating vision neuron %d of layer %d changes nothing (%g)", neuron, layer, changed);
    NH_CHECK(diff <= 1e-5, "deactivation vs zeroed gate and up rows: %g", diff);
}

void test_errors(model_files & f) {
    encoder enc(f.lm.path, f.proj.path);
    NH_REQUIRE(enc.ok(), "load");
    auto expect = [&](int64_t rc, int64_t want, const char * needle, const char * what) {
        NH_CHECK(rc == want, "%s: status %" PRId64 ", expected %" PRId64, what, rc, want);
        NH_CHECK(!needle || strstr(mtmd_nh_last_error(enc.ctx), needle), "%s: message '%s' lacks '%s'", what, mtmd_nh_last_error(enc.ctx), needle);
    };
    std::vector<float> ones(64, 1.0f);
    expect(mtmd_nh_set_intervention(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_RESID_POST, 0, ones.data(), nullptr), LLAMA_NH_ERR_ARGUMENT,
           "vision.resid.post accepts no interventions", "an intervention at resid.post");
    expect(mtmd_nh_set_tap(enc.ctx, MTMD_NH_MODULE_PROJECTOR, MTMD_NH_RESID_POST, 0, true), LLAMA_NH_ERR_UNSUPPORTED,
           "projector.resid.post", "the projector's resid.post");
    expect(mtmd_nh_layers(enc.ctx, MTMD_NH_MODULE_AUDIO), LLAMA_NH_ERR_ARGUMENT, "no audio encoder", "an audio module without one");
    expect(mtmd_nh_set_tap(enc.ctx, MTMD_NH_MODULE_VISION, 9, 0, true), LLAMA_NH_ERR_ARGUMENT, "hook point", "point 9");
    expect(mtmd_nh_set_tap(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_RESID_POST, 2, true), LLAMA_NH_ERR_ARGUMENT, "layer 2", "layer 2 of 2");
    expect(mtmd_nh_set_columns(enc.ctx, -1), LLAMA_NH_ERR_ARGUMENT, "n_columns", "negative columns");
    // per-patch weights of the wrong length fail the encode, naming the counts
    NH_REQUIRE(mtmd_nh_set_columns(enc.ctx, 1) == 0, "columns");
    const float one = 1.0f;
    std::vector<double> acc(2 * 32);
    NH_REQUIRE(mtmd_nh_set_group_weights(enc.ctx, &one) == 0, "group");
    NH_REQUIRE(mtmd_nh_set_reduce(enc.ctx, MTMD_NH_MODULE_VISION, MTMD_NH_RESID_POST, LLAMA_NH_STAT_SUM, acc.data(), (int64_t) acc.size(), 0.0f) == 0,
               "reduce: %s", mtmd_nh_last_error(enc.ctx));
    const float rw[3] = { 1, 1, 1 };
    NH_REQUIRE(mtmd_nh_set_row_weights(enc.ctx, MTMD_NH_MODULE_VISION, rw, 3) == 0, "row weights");
    expect(enc.encode() != 0 ? 1 : 0, 1, "have 3 rows", "an encode with 3 row weights");
    NH_CHECK(std::all_of(acc.begin(), acc.end(), [](double v) { return v == 0.0; }), "a failed encode adds nothing");
    NH_REQUIRE(mtmd_nh_clear(enc.ctx) == 0, "clear");
    NH_CHECK(enc.encode() == 0, "an encode after the failure: %s", mtmd_nh_last_error(enc.ctx));
}

} // namespace

int main(int argc, char ** argv) {
    const std::string which = argc > 1 ? argv[1] : "all";
    const std::map<std::string, void (*)(model_files &)> tests = {
        { "reductions", test_reductions }, { "masks", test_masks }, { "errors", test_errors },
    };
    if (which != "all" && tests.find(which) == tests.end()) {
        fprintf(stderr, "usage: %s <reductions|masks|errors|all>\n", argv[0]);
        return 2;
    }
    init_backends();
    mtmd_log_set(quiet_log, nullptr);
    {
        model_files f;
        for (const auto & t : tests) {
            if (which == "all" || which == t.first) {
                printf("%s on cpu\n", t.first.c_str());
                fflush(stdout);
                const int before = failures();
                t.second(f);
                printf("%s on cpu: %s\n", t.first.c_str(), failures() == before ? "ok" : "FAILED");
                fflush(stdout);
            }
        }
    }
    llama_backend_free();
    return failures() == 0 ? 0 : 1;
}
