#pragma once

// Support for the neuron hooks' tests and benchmark: a synthetic llama model written as a GGUF
// file with the gguf API (random weights from a seed, optional zeroed ffn_down columns), contexts,
// batches, aligned arrays and checks. Only public headers: llama.h, llama-neuron-hooks.h, gguf.h.

#include "ggml.h"
#include "ggml-backend.h"
#include "gguf.h"
#include "llama.h"
#include "llama-neuron-hooks.h"

#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace nh_test {

// ---------------------------------------------------------------- checks

inline int & failures() {
    static int n = 0;
    return n;
}

inline void fail_at(const char * file, int line, const char * fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures()++;
}

#define NH_CHECK(cond, ...) do { if (!(cond)) { nh_test::fail_at(__FILE__, __LINE__, __VA_ARGS__); } } while (0)
#define NH_REQUIRE(cond, ...) do { if (!(cond)) { nh_test::fail_at(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)

// ---------------------------------------------------------------- the synthetic model

struct model_spec {
    int      n_vocab   = 96;
    int      n_embd    = 64;
    int      n_ff      = 160;
    int      n_layer   = 3;
    int      n_head    = 4;
    int      n_head_kv = 2;
    int      n_ctx     = 256;
    uint32_t seed      = 1234;
    // ffn_down columns (layer, neuron) set to zero: the model a deactivation must equal
    std::set<std::pair<int, int>> zero_down;
};

// A tensor of a synthetic GGUF: N(0, stdev²) values, or norm weights around 1.
struct random_tensor {
    std::string          name;
    std::vector<int64_t> ne;
    float                stdev;
    bool                 norm;
};

// Adds F32 tensors to g, each from its own random stream (seed·1000003 + its index, so that an edit
// of one tensor changes no other): norm weights 1 + norm_jitter·N(0, 1), the others stdev·N(0, 1);
// edit(name, data, ne) may then change a tensor's values. Writes g to path and frees it.
inline bool write_random_tensors(gguf_context * g, const std::vector<random_tensor> & tensors, uint32_t seed, float norm_jitter,
                                 const std::string & path,
                                 const std::function<void(const std::string &, float *, const int64_t *)> & edit) {
    size_t bytes = 0;
    for (const auto & t : tensors) {
        size_t n = 1;
        for (int64_t d : t.ne) {
            n *= (size_t) d;
        }
        bytes += ggml_tensor_overhead() + n * sizeof(float) + 64;
    }
    ggml_init_params ip = { bytes, nullptr, false };
    ggml_context * ctx = ggml_init(ip);
    for (size_t k = 0; k < tensors.size(); ++k) {
        const auto & t = tensors[k];
        int64_t ne[4] = { 1, 1, 1, 1 };
        for (size_t d = 0; d < t.ne.size(); ++d) {
            ne[d] = t.ne[d];
        }
        ggml_tensor * x = ggml_new_tensor(ctx, GGML_TYPE_F32, (int) t.ne.size(), ne);
        ggml_set_name(x, t.name.c_str());
        float * d = (float *) x->data;
        std::mt19937 rng(seed * 1000003u + (uint32_t) k);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (int64_t i = 0; i < ggml_nelements(x); ++i) {
            d[i] = t.norm ? 1.0f + norm_jitter * normal(rng) : t.stdev * normal(rng);
        }
        edit(t.name, d, ne);
        gguf_add_tensor(g, x);
    }
    const bool ok = gguf_write_to_file(g, path.c_str(), false);
    gguf_free(g);
    ggml_free(ctx);
    return ok;
}

// Writes the model as a GGUF file (F32 weights, llama architecture, llama.cpp's "test" tokenizer).
inline bool write_model(const model_spec & s, const std::string & path) {
    gguf_context * g = gguf_init_empty();
    gguf_set_val_str(g, "general.architecture", "llama");
    gguf_set_val_str(g, "general.name", "neuron-hooks-test");
    gguf_set_val_u32(g, "llama.vocab_size", s.n_vocab);
    gguf_set_val_u32(g, "llama.context_length", s.n_ctx);
    gguf_set_val_u32(g, "llama.embedding_length", s.n_embd);
    gguf_set_val_u32(g, "llama.block_count", s.n_layer);
    gguf_set_val_u32(g, "llama.feed_forward_length", s.n_ff);
    gguf_set_val_u32(g, "llama.attention.head_count", s.n_head);
    gguf_set_val_u32(g, "llama.attention.head_count_kv", s.n_head_kv);
    gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_set_val_f32(g, "llama.rope.freq_base", 10000.0f);
    gguf_set_val_str(g, "tokenizer.ggml.model", "test");
    std::vector<std::string> names(s.n_vocab);
    std::vector<const char *> name_ptrs(s.n_vocab);
    std::vector<float> scores(s.n_vocab, 0.0f);
    for (int i = 0; i < s.n_vocab; ++i) {
        names[i] = "tok_" + std::to_string(i);
        name_ptrs[i] = names[i].c_str();
    }
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", name_ptrs.data(), name_ptrs.size());
    gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), scores.size());

    const int64_t head = s.n_embd / s.n_head;
    const int64_t n_kv = head * s.n_head_kv;
    std::vector<random_tensor> tensors;
    tensors.push_back({ "token_embd.weight", { s.n_embd, s.n_vocab }, 1.0f, false });
    tensors.push_back({ "output_norm.weight", { s.n_embd }, 0.0f, true });
    tensors.push_back({ "output.weight", { s.n_embd, s.n_vocab }, 1.0f / std::sqrt((float) s.n_embd), false });
    for (int il = 0; il < s.n_layer; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        const float in_embd = 1.0f / std::sqrt((float) s.n_embd);
        tensors.push_back({ b + "attn_norm.weight", { s.n_embd }, 0.0f, true });
        tensors.push_back({ b + "attn_q.weight", { s.n_embd, s.n_embd }, in_embd, false });
        tensors.push_back({ b + "attn_k.weight", { s.n_embd, n_kv }, in_embd, false });
        tensors.push_back({ b + "attn_v.weight", { s.n_embd, n_kv }, in_embd, false });
        tensors.push_back({ b + "attn_output.weight", { s.n_embd, s.n_embd }, in_embd, false });
        tensors.push_back({ b + "ffn_norm.weight", { s.n_embd }, 0.0f, true });
        tensors.push_back({ b + "ffn_gate.weight", { s.n_embd, s.n_ff }, in_embd, false });
        tensors.push_back({ b + "ffn_up.weight", { s.n_embd, s.n_ff }, in_embd, false });
        tensors.push_back({ b + "ffn_down.weight", { s.n_ff, s.n_embd }, 1.0f / std::sqrt((float) s.n_ff), false });
    }
    return write_random_tensors(g, tensors, s.seed, 0.1f, path, [&](const std::string & name, float * d, const int64_t * ne) {
        for (const auto & z : s.zero_down) {
            if (name == "blk." + std::to_string(z.first) + ".ffn_down.weight") {
                for (int64_t r = 0; r < ne[1]; ++r) {
                    d[r * ne[0] + z.second] = 0.0f; // column z.second: what neuron z.second of ffn.post feeds
                }
            }
        }
    });
}

// A scratch file name for this process.
inline std::string temp_path(const char * name) {
    const char * dir = getenv("NH_TEST_TMPDIR");
    std::string d = dir && *dir ? dir : (getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return d + "/nh-test-" + std::to_string((long) getpid()) + "-" + name + ".gguf";
}

struct model_file {
    std::string path;
    explicit model_file(const model_spec & s, const char * name) : path(temp_path(name)) {
        if (!write_model(s, path)) {
            fprintf(stderr, "cannot write %s\n", path.c_str());
            exit(2);
        }
    }
    ~model_file() { std::remove(path.c_str()); }
};

// ---------------------------------------------------------------- devices, models, contexts

inline void quiet_log(ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_ERROR || getenv("NH_TEST_VERBOSE")) {
        fputs(text, stderr);
    }
}

inline void init_backends() {
    llama_log_set(quiet_log, nullptr);
    ggml_backend_load_all();
    llama_backend_init();
}

// Where a test runs: the CPU, and, if this build has one, the first GPU too.
struct device_run {
    std::string name;
    int32_t     n_gpu_layers; // 0: CPU; -1: all layers on the GPU
    bool        exact;        // bit-identical comparisons expected (CPU); else a tolerance
};

inline std::vector<device_run> device_runs() {
    std::vector<device_run> runs = { { "cpu", 0, true } };
    if (getenv("NH_TEST_CPU_ONLY")) {
        return runs;
    }
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) {
            runs.push_back({ ggml_backend_dev_name(dev), -1, false });
            break;
        }
    }
    return runs;
}

inline bool silent_progress(float, void *) {
    return true;
}

inline llama_model * load_model(const std::string & path, const device_run & dev) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = dev.n_gpu_layers;
    mp.progress_callback = silent_progress;
    llama_model * m = llama_model_load_from_file(path.c_str(), mp);
    if (!m) {
        fprintf(stderr, "cannot load %s\n", path.c_str());
        exit(2);
    }
    return m;
}

struct context_spec {
    uint32_t n_ctx    = 256;
    uint32_t n_batch  = 64;
    uint32_t n_ubatch = 16; // smaller than a batch: the hooks must map ubatch rows to batch rows
    // 1 thread: ggml's threads spin at barriers, and when the machine has fewer free cores than
    // threads (a busy 2-core build machine) a tiny decode gets a thousand times slower
    int32_t  n_threads = 1;
};

inline llama_context * new_context(llama_model * model, const context_spec & cs = {}) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cs.n_ctx;
    cp.n_batch = cs.n_batch;
    cp.n_ubatch = cs.n_ubatch;
    cp.n_threads = cs.n_threads;
    cp.n_threads_batch = cs.n_threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED; // attn.probs needs it off
    cp.no_perf = true;
    llama_context * c = llama_init_from_model(model, cp);
    if (!c) {
        fprintf(stderr, "cannot create a context\n");
        exit(2);
    }
    return c;
}

// Pseudo-random tokens of the vocabulary.
inline std::vector<llama_token> prompt(int n, int n_vocab, uint32_t seed = 7) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(0, n_vocab - 1);
    std::vector<llama_token> t(n);
    for (auto & x : t) {
        x = d(rng);
    }
    return t;
}

// Clears the memory and decodes the tokens from position 0 as one batch. all_logits = false:
// logits for the last token only (llama.cpp's usual pruning of the last layer).
// Returns llama_decode's status; logits (if given) receive those computed.
inline int32_t run(llama_context * ctx, const std::vector<llama_token> & tokens, bool all_logits,
                   std::vector<float> * logits = nullptr) {
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_batch b = llama_batch_init((int32_t) tokens.size(), 0, 1);
    for (size_t i = 0; i < tokens.size(); ++i) {
        b.token[i] = tokens[i];
        b.pos[i] = (llama_pos) i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = all_logits || i + 1 == tokens.size();
    }
    b.n_tokens = (int32_t) tokens.size();
    const int32_t rc = llama_decode(ctx, b);
    llama_batch_free(b);
    if (rc == 0 && logits) {
        const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx)));
        logits->clear();
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (all_logits || i + 1 == tokens.size()) {
                const float * l = llama_get_logits_ith(ctx, (int32_t) i);
                logits->insert(logits->end(), l, l + n_vocab);
            }
        }
    }
    return rc;
}

// ---------------------------------------------------------------- arrays

// 32-byte aligned floats (what llama_nh_set_intervention requires).
struct aligned_floats {
    float * p = nullptr;
    size_t  n = 0;
    aligned_floats(size_t n, float v) : n(n) {
        p = (float *) std::aligned_alloc(32, ((n * sizeof(float) + 31) / 32) * 32);
        for (size_t i = 0; i < n; ++i) {
            p[i] = v;
        }
    }
    ~aligned_floats() { std::free(p); }
    aligned_floats(const aligned_floats &) = delete;
    aligned_floats & operator=(const aligned_floats &) = delete;
    float & operator[](size_t i) { return p[i]; }
};

// Largest |a - b|; a and b of equal size.
inline double max_abs_diff(const std::vector<float> & a, const std::vector<float> & b) {
    if (a.size() != b.size()) {
        return INFINITY;
    }
    double m = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        m = std::max(m, (double) std::fabs(a[i] - b[i]));
    }
    return m;
}

inline bool bit_identical(const std::vector<float> & a, const std::vector<float> & b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline const char * point_name(int p) {
    switch (p) {
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

inline const char * stat_name(int s) {
    switch (s) {
        case LLAMA_NH_STAT_COUNT:     return "count";
        case LLAMA_NH_STAT_COUNT_ABS: return "count_abs";
        case LLAMA_NH_STAT_SUM:       return "sum";
        case LLAMA_NH_STAT_SUM_SQ:    return "sum_sq";
        case LLAMA_NH_STAT_SUM_ABS:   return "sum_abs";
        default:                      return "?";
    }
}

} // namespace nh_test
