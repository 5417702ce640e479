// What the neuron hooks cost per llama_decode: hooks off, count(act > 0) (the gate shortcut, as a
// neuron miner runs it), 10 reductions (5 statistics at ffn.act and ffn.post, 2 weight columns),
// the same with the portable ggml-op path GPUs run, deactivation masks at ffn.act and ffn.post in
// every layer, and taps of ffn.act in every layer.
//
//   bench-nh [--model FILE.gguf] [--layers N --embd N --ff N --vocab N] [--tokens N] [--reps N]
//            [--threads N] [--ngl N] [--out FILE] [--smoke]
//
// Without --model a synthetic llama model is written (default 4 layers, 256 wide, n_ff 768). Each
// mode decodes a prompt of --tokens tokens (one batch, logits for the last token: "prefill") and
// then 8 single tokens ("gen"), --reps times; the medians are printed in ms per decode, one line
// per mode:
//
//   bench-nh mode=<name> prefill_ms=<median> gen_ms=<median> tokens=<n> layers=<n> n_ff=<n> device=<cpu|gpu>
//
// --smoke: a tiny model and 2 repetitions, for CTest (checks every mode decodes).

#include "nh-test.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

using namespace nh_test;

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? NAN : v[v.size() / 2];
}

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

volatile double tap_sink = 0.0;

bool touch_tap(void *, int32_t, int32_t, const float * data, int64_t width, int64_t n_tokens, const int32_t *) {
    double s = 0.0;
    for (int64_t i = 0; i < width * n_tokens; ++i) {
        s += data[i];
    }
    tap_sink = tap_sink + s;
    return true;
}

struct mode {
    const char * name;
    std::function<bool(llama_context *)> setup; // false: not possible on this model
};

} // namespace

int main(int argc, char ** argv) {
    std::string model_path, out_path;
    model_spec spec;
    spec.n_layer = 4;
    spec.n_embd = 256;
    spec.n_ff = 768;
    spec.n_vocab = 512;
    spec.n_head = 8;
    spec.n_head_kv = 4;
    spec.n_ctx = 1024;
    int n_tokens = 128, reps = 5, threads = 2, ngl = 0;
    bool smoke = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char * {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s needs a value\n", a.c_str());
                exit(2);
            }
            return argv[++i];
        };
        if      (a == "--model")   model_path = next();
        else if (a == "--out")     out_path = next();
        else if (a == "--layers")  spec.n_layer = atoi(next());
        else if (a == "--embd")    spec.n_embd = atoi(next());
        else if (a == "--ff")      spec.n_ff = atoi(next());
        else if (a == "--vocab")   spec.n_vocab = atoi(next());
        else if (a == "--tokens")  n_tokens = atoi(next());
        else if (a == "--reps")    reps = atoi(next());
        else if (a == "--threads") threads = atoi(next());
        else if (a == "--ngl")     ngl = atoi(next());
        else if (a == "--smoke")   smoke = true;
        else {
            fprintf(stderr, "usage: %s [--model FILE.gguf] [--layers N --embd N --ff N --vocab N] [--tokens N] [--reps N] "
                            "[--threads N] [--ngl N] [--out FILE] [--smoke]\n", argv[0]);
            return 2;
        }
    }
    if (smoke) {
        spec = model_spec{};
        n_tokens = 32;
        reps = 2;
    }
    init_backends();

    std::unique_ptr<model_file> synthetic;
    if (model_path.empty()) {
        synthetic = std::make_unique<model_file>(spec, "bench");
        model_path = synthetic->path;
    }
    device_run dev = { ngl == 0 ? "cpu" : "gpu", ngl, ngl == 0 };
    llama_model * model = load_model(model_path, dev);
    const int n_layer = llama_model_n_layer(model);
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    context_spec cs;
    cs.n_ctx = (uint32_t) std::max(256, n_tokens + 64);
    cs.n_batch = (uint32_t) n_tokens;
    cs.n_ubatch = (uint32_t) n_tokens;
    cs.n_threads = threads;

    const auto tokens = prompt(n_tokens, n_vocab);
    const int n_columns = 2;
    std::vector<float> weights((size_t) (n_tokens + 16) * n_columns, 1.0f);
    std::vector<std::vector<double>> accs;
    std::vector<std::unique_ptr<aligned_floats>> masks;

    auto reductions = [&](llama_context * ctx, bool portable) {
        llama_nh_set_portable_reductions(ctx, portable);
        if (llama_nh_set_columns(ctx, n_columns) != LLAMA_NH_OK ||
            llama_nh_set_token_weights(ctx, weights.data(), n_tokens + 16) != LLAMA_NH_OK) {
            return false;
        }
        for (int p : { LLAMA_NH_FFN_ACT, LLAMA_NH_FFN_OUT }) {
            const int64_t width = llama_nh_width(ctx, p, 0);
            for (int s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
                accs.emplace_back((size_t) n_layer * n_columns * width, 0.0);
                if (llama_nh_set_reduce(ctx, p, s, accs.back().data(), (int64_t) accs.back().size(), 0.0f) != LLAMA_NH_OK) {
                    return false;
                }
            }
        }
        return true;
    };
    const std::vector<mode> modes = {
        { "off", [](llama_context *) { return true; } },
        { "count", [&](llama_context * ctx) {
            const int64_t width = llama_nh_width(ctx, LLAMA_NH_FFN_ACT, 0);
            accs.emplace_back((size_t) n_layer * 1 * width, 0.0);
            return llama_nh_set_columns(ctx, 1) == LLAMA_NH_OK &&
                   llama_nh_set_token_weights(ctx, weights.data(), n_tokens + 16) == LLAMA_NH_OK &&
                   llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT, accs.back().data(), (int64_t) accs.back().size(), 0.0f) == LLAMA_NH_OK;
        } },
        { "reduce10", [&](llama_context * ctx) { return reductions(ctx, false); } },
        { "reduce10-portable", [&](llama_context * ctx) { return reductions(ctx, true); } },
        { "interventions", [&](llama_context * ctx) {
            for (int il = 0; il < n_layer; ++il) {
                for (int p : { LLAMA_NH_FFN_ACT, LLAMA_NH_FFN_OUT }) {
                    const int64_t width = llama_nh_width(ctx, p, il);
                    masks.push_back(std::make_unique<aligned_floats>((size_t) width, 1.0f));
                    for (int64_t n = 0; n < width; n += 7) {
                        (*masks.back())[n] = 0.0f;
                    }
                    if (llama_nh_set_intervention(ctx, p, il, masks.back()->p, nullptr) != LLAMA_NH_OK) {
                        return false;
                    }
                }
            }
            return true;
        } },
        { "taps", [&](llama_context * ctx) {
            return llama_nh_set_tap_callback(ctx, touch_tap, nullptr) == LLAMA_NH_OK &&
                   llama_nh_set_tap(ctx, LLAMA_NH_FFN_ACT, -1, true) == LLAMA_NH_OK;
        } },
    };

    FILE * out = out_path.empty() ? nullptr : fopen(out_path.c_str(), "w");
    int failed = 0;
    for (const auto & m : modes) {
        llama_context * ctx = new_context(model, cs);
        if (!m.setup(ctx)) {
            printf("bench-nh mode=%s not possible on this model: %s\n", m.name, llama_nh_last_error(ctx));
            llama_free(ctx);
            continue;
        }
        std::vector<double> prefill, gen;
        bool ok = true;
        for (int r = 0; r < reps + 1 && ok; ++r) { // the first repetition warms up
            const double t0 = now_ms();
            ok = run(ctx, tokens, false) == 0;
            const double t1 = now_ms();
            llama_batch b = llama_batch_init(1, 0, 1);
            double tg = 0.0;
            for (int k = 0; k < 8 && ok; ++k) {
                b.n_tokens = 1;
                b.token[0] = tokens[k % tokens.size()];
                b.pos[0] = n_tokens + k;
                b.n_seq_id[0] = 1;
                b.seq_id[0][0] = 0;
                b.logits[0] = 1;
                const double g0 = now_ms();
                ok = llama_decode(ctx, b) == 0;
                tg += now_ms() - g0;
            }
            llama_batch_free(b);
            if (r > 0) {
                prefill.push_back(t1 - t0);
                gen.push_back(tg / 8);
            }
        }
        if (!ok) {
            fprintf(stderr, "bench-nh: mode %s: decode failed: %s\n", m.name, llama_nh_last_error(ctx));
            failed++;
        } else {
            char line[256];
            snprintf(line, sizeof(line), "bench-nh mode=%s prefill_ms=%.3f gen_ms=%.3f tokens=%d layers=%d n_ff=%" PRId64 " device=%s\n",
                     m.name, median(prefill), median(gen), n_tokens, n_layer, llama_nh_width(ctx, LLAMA_NH_FFN_OUT, 0), dev.name.c_str());
            fputs(line, stdout);
            if (out) {
                fputs(line, out);
            }
        }
        fflush(stdout);
        llama_free(ctx);
    }
    if (out) {
        fclose(out);
    }
    llama_model_free(model);
    llama_backend_free();
    return failed == 0 ? 0 : 1;
}
