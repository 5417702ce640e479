// The neuron hooks (llama-neuron-hooks.h) against independent oracles, on a synthetic llama model:
//
//   reductions     in-graph sums/counts (fused CPU pass and portable ggml ops) against a brute-force
//                  pass over taps of the same activations; count(act > 0) taken from the gate
//   interventions  deactivation at ffn.act / ffn.post against a model whose ffn_down columns are
//                  zeroed; masks changed in place take effect
//   identity       scale-1 masks, zero shifts, observing hooks, cleared hooks: logits bit-identical
//                  to no hooks
//   attention      attn.probs rows are causal distributions
//   errors         bad arguments give statuses and messages; the last error is cleared by the next
//                  call and the next decode
//   faults         LLAMA_NH_FAULT=build|before|after|input: decode fails with a message, adds
//                  nothing, and the next decode is right (no abort)
//   lens           the logit lens at the last layer against the softmax of llama.cpp's own logits;
//                  at every layer against a brute force (output norm and unembedding read from the
//                  GGUF, applied to the resid.post tap); group sums against the per-token results;
//                  token selection, one layer, a failing callback, bad arguments
//   reuse          one-token generation steps with reductions reuse llama.cpp's previous graph, and
//                  give the same logits and sums as with graph reuse disabled; a mask added
//                  mid-generation takes effect at its step
//
//   test-nh <reductions|interventions|identity|attention|errors|faults|lens|reuse|all>
//
// Runs on the CPU, and on the first GPU as well if the build has one (comparisons that are
// bit-identical on the CPU get a tolerance there). NH_TEST_CPU_ONLY=1 skips the GPU.

#include "nh-test.h"

#include <algorithm>
#include <functional>
#include <map>

using namespace nh_test;

namespace {

constexpr int N_TOKENS  = 45; // three ubatches of 16, the last one short
constexpr int N_COLUMNS = 3;

// Token weights: column 0 = every token, 1 = a one-hot group, 2 = fractional weights. All sums of
// these are exact in float, so counts must match exactly.
std::vector<float> token_weights(int n) {
    std::vector<float> w((size_t) n * N_COLUMNS, 0.0f);
    for (int i = 0; i < n; ++i) {
        w[i * N_COLUMNS + 0] = 1.0f;
        w[i * N_COLUMNS + 1] = (i * 7 / 5) % 2 == 0 ? 1.0f : 0.0f;
        w[i * N_COLUMNS + 2] = 0.25f + 0.5f * (i % 4);
    }
    return w;
}

// ---------------------------------------------------------------- taps

struct tap_store {
    std::map<std::pair<int, int>, std::vector<float>> rows;  // (point, layer) -> [batch token][width]
    std::map<std::pair<int, int>, std::vector<char>>  seen;
    std::map<std::pair<int, int>, int64_t>            width;
    int  n_batch = 0;
    int  calls   = 0;
    bool fail    = false; // make the callback fail
};

bool on_tap(void * ud, int32_t point, int32_t layer, const float * data, int64_t width, int64_t n_tokens, const int32_t * batch_index) {
    auto * s = (tap_store *) ud;
    s->calls++;
    if (s->fail) {
        return false;
    }
    const auto key = std::make_pair((int) point, (int) layer);
    auto & r = s->rows[key];
    auto & seen = s->seen[key];
    s->width[key] = width;
    r.resize((size_t) s->n_batch * width, NAN);
    seen.resize(s->n_batch, 0);
    for (int64_t i = 0; i < n_tokens; ++i) {
        const int32_t b = batch_index[i];
        if (b < 0 || b >= s->n_batch) {
            fprintf(stderr, "tap: batch index %d out of range\n", b);
            return false;
        }
        std::memcpy(r.data() + (size_t) b * width, data + i * width, width * sizeof(float));
        seen[b]++;
    }
    return true;
}

double stat_of(int stat, float x, float threshold) {
    switch (stat) {
        case LLAMA_NH_STAT_COUNT:     return x > threshold ? 1.0 : 0.0;
        case LLAMA_NH_STAT_COUNT_ABS: return std::fabs(x) > threshold ? 1.0 : 0.0;
        case LLAMA_NH_STAT_SUM:       return x;
        case LLAMA_NH_STAT_SUM_SQ:    return (double) x * x;
        case LLAMA_NH_STAT_SUM_ABS:   return std::fabs(x);
    }
    return NAN;
}

float threshold_of(int point, int stat) {
    if (stat == LLAMA_NH_STAT_COUNT) {
        return point == LLAMA_NH_FFN_OUT ? 0.01f : 0.0f;
    }
    return stat == LLAMA_NH_STAT_COUNT_ABS ? 0.05f : 0.0f;
}

// Compares in-graph reductions with the brute force over the taps.
void compare_reductions(const char * what, const tap_store & taps, int point, int stat, const std::vector<double> & acc,
                        int n_layer, int64_t width, const std::vector<float> & w, double scale, bool exact) {
    const float th = threshold_of(point, stat);
    const bool count = stat == LLAMA_NH_STAT_COUNT || stat == LLAMA_NH_STAT_COUNT_ABS;
    int64_t bad = 0;
    double worst = 0.0;
    for (int il = 0; il < n_layer; ++il) {
        const auto it = taps.rows.find({ point, il });
        if (it == taps.rows.end()) {
            NH_CHECK(false, "%s: no tap of %s layer %d", what, point_name(point), il);
            return;
        }
        const auto & x = it->second;
        for (int c = 0; c < N_COLUMNS; ++c) {
            for (int64_t n = 0; n < width; ++n) {
                double ref = 0.0, mag = 0.0;
                for (int b = 0; b < taps.n_batch; ++b) {
                    const double v = w[b * N_COLUMNS + c] * stat_of(stat, x[(size_t) b * width + n], th);
                    ref += v;
                    mag += std::fabs(v);
                }
                ref *= scale;
                mag *= scale;
                const double got = acc[((size_t) il * N_COLUMNS + c) * width + n];
                const double err = std::fabs(got - ref);
                // counts: exact; sums: float accumulation in the graph against double here
                const double tol = count && exact ? 0.0 : 2e-5 * mag + 1e-6;
                if (err > tol) {
                    if (bad < 3) {
                        fprintf(stderr, "  %s %s.%s layer %d column %d neuron %" PRId64 ": %.9g, brute force %.9g\n",
                                what, point_name(point), stat_name(stat), il, c, n, got, ref);
                    }
                    bad++;
                }
                worst = std::max(worst, mag > 0 ? err / mag : err);
            }
        }
    }
    NH_CHECK(bad == 0, "%s: %s.%s: %" PRId64 " values differ from the brute force", what, point_name(point), stat_name(stat), bad);
}

const int REDUCED_POINTS[] = { LLAMA_NH_FFN_GATE, LLAMA_NH_FFN_ACT, LLAMA_NH_FFN_OUT, LLAMA_NH_RESID_POST };

// ---------------------------------------------------------------- reductions

void test_reductions(const device_run & dev) {
    model_spec spec;
    model_file file(spec, "reductions");
    llama_model * model = load_model(file.path, dev);
    const auto tokens = prompt(N_TOKENS, spec.n_vocab);
    const auto w = token_weights(N_TOKENS);

    context_spec cs;
    cs.n_threads = 2; // the fused CPU pass splits the neurons between the threads
    for (bool portable : { false, true }) {
        char what[64];
        snprintf(what, sizeof(what), "%s/%s", dev.name.c_str(), portable ? "portable" : "fused");
        llama_context * ctx = new_context(model, cs);
        NH_CHECK(llama_nh_set_portable_reductions(ctx, portable) == LLAMA_NH_OK, "portable");
        NH_CHECK(llama_nh_set_columns(ctx, N_COLUMNS) == LLAMA_NH_OK, "columns");
        NH_CHECK(llama_nh_set_token_weights(ctx, w.data(), N_TOKENS) == LLAMA_NH_OK, "weights");
        std::map<std::pair<int, int>, std::vector<double>> acc;
        for (int p : REDUCED_POINTS) {
            const int64_t width = llama_nh_width(ctx, p, 0);
            for (int s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
                auto & a = acc[{ p, s }];
                a.assign((size_t) spec.n_layer * N_COLUMNS * width, 0.0);
                const int32_t rc = llama_nh_set_reduce(ctx, p, s, a.data(), (int64_t) a.size(), threshold_of(p, s));
                NH_CHECK(rc == LLAMA_NH_OK, "set_reduce %s.%s: %d %s", point_name(p), stat_name(s), rc, llama_nh_last_error(ctx));
            }
        }
        tap_store taps;
        taps.n_batch = N_TOKENS;
        NH_CHECK(llama_nh_set_tap_callback(ctx, on_tap, &taps) == LLAMA_NH_OK, "callback");
        for (int p : REDUCED_POINTS) {
            NH_CHECK(llama_nh_set_tap(ctx, p, -1, true) == LLAMA_NH_OK, "tap %s", point_name(p));
        }
        // logits of the last token only: the hooks must still see every token in every layer
        int32_t rc = run(ctx, tokens, false);
        NH_REQUIRE(rc == 0, "%s: decode failed: %d %s", what, rc, llama_nh_last_error(ctx));
        for (const auto & s : taps.seen) {
            for (int b = 0; b < N_TOKENS; ++b) {
                NH_CHECK(s.second[b] == 1, "%s: tap %s layer %d saw batch token %d %d times", what,
                         point_name(s.first.first), s.first.second, b, s.second[b]);
            }
        }
        for (int p : REDUCED_POINTS) {
            const int64_t width = llama_nh_width(ctx, p, 0);
            for (int s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
                compare_reductions(what, taps, p, s, acc[{ p, s }], spec.n_layer, width, w, 1.0, dev.exact);
            }
        }
        // a second decode adds to the arrays
        rc = run(ctx, tokens, true);
        NH_REQUIRE(rc == 0, "%s: second decode failed: %d %s", what, rc, llama_nh_last_error(ctx));
        for (int p : REDUCED_POINTS) {
            const int64_t width = llama_nh_width(ctx, p, 0);
            for (int s = 0; s < LLAMA_NH_STAT_COUNT_OF; ++s) {
                compare_reductions(what, taps, p, s, acc[{ p, s }], spec.n_layer, width, w, 2.0, dev.exact);
            }
        }

        // count(act > 0) alone is taken from the gate (SiLU(z) > 0 iff z > 0) and keeps
        // llama.cpp's fused act(gate) * up: it must count what the taps of act saw
        NH_CHECK(llama_nh_clear(ctx) == LLAMA_NH_OK, "clear");
        std::vector<double> count((size_t) spec.n_layer * N_COLUMNS * spec.n_ff, 0.0);
        NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT, count.data(), (int64_t) count.size(), 0.0f) == LLAMA_NH_OK,
                 "count");
        rc = run(ctx, tokens, false);
        NH_REQUIRE(rc == 0, "%s: count decode failed: %d %s", what, rc, llama_nh_last_error(ctx));
        char what_gate[96];
        snprintf(what_gate, sizeof(what_gate), "%s count(act>0) from the gate", what);
        compare_reductions(what_gate, taps, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT, count, spec.n_layer, spec.n_ff, w, 1.0, dev.exact);
        llama_free(ctx);
    }
    llama_model_free(model);
}

// ---------------------------------------------------------------- interventions

void test_interventions(const device_run & dev) {
    model_spec spec_a;
    model_spec spec_b = spec_a;
    const std::map<int, std::vector<int>> off = { { 0, { 3, 17, 64, 100 } }, { 2, { 0, 5, 80, 159 } } };
    for (const auto & l : off) {
        for (int n : l.second) {
            spec_b.zero_down.insert({ l.first, n });
        }
    }
    model_file file_a(spec_a, "interventions-a");
    model_file file_b(spec_b, "interventions-b");
    llama_model * model_a = load_model(file_a.path, dev);
    llama_model * model_b = load_model(file_b.path, dev);
    const auto tokens = prompt(N_TOKENS, spec_a.n_vocab);
    const double tol = dev.exact ? 0.0 : 1e-4;

    std::vector<float> base_a, base_b;
    {
        llama_context * ca = new_context(model_a);
        llama_context * cb = new_context(model_b);
        NH_REQUIRE(run(ca, tokens, true, &base_a) == 0 && run(cb, tokens, true, &base_b) == 0, "baseline decodes");
        NH_CHECK(max_abs_diff(base_a, base_b) > 1e-3, "the zeroed columns must change the logits (%g)", max_abs_diff(base_a, base_b));
        llama_free(ca);
        llama_free(cb);
    }

    for (int point : { LLAMA_NH_FFN_OUT, LLAMA_NH_FFN_ACT }) {
        llama_context * ctx = new_context(model_a);
        std::vector<std::unique_ptr<aligned_floats>> masks;
        for (const auto & l : off) {
            masks.push_back(std::make_unique<aligned_floats>(spec_a.n_ff, 1.0f));
            for (int n : l.second) {
                (*masks.back())[n] = 0.0f;
            }
            const int32_t rc = llama_nh_set_intervention(ctx, point, l.first, masks.back()->p, nullptr);
            NH_CHECK(rc == LLAMA_NH_OK, "set_intervention: %d %s", rc, llama_nh_last_error(ctx));
        }
        std::vector<float> got;
        NH_REQUIRE(run(ctx, tokens, true, &got) == 0, "decode: %s", llama_nh_last_error(ctx));
        const double d = max_abs_diff(got, base_b);
        // ffn.act: llama.cpp's fused swiglu is un-fused into silu, mask, mul; allowed 1e-6
        const double allowed = point == LLAMA_NH_FFN_ACT ? std::max(tol, 1e-6) : tol;
        NH_CHECK(d <= allowed, "%s: deactivation at %s differs from the zeroed ffn_down columns by %g", dev.name.c_str(), point_name(point), d);
        printf("  %s: deactivation at %s vs zeroed ffn_down columns: %s (max |diff| %g)\n", dev.name.c_str(), point_name(point),
               bit_identical(got, base_b) ? "bit-identical" : "close", d);

        // what is observed is what flows on: a tap after the mask sees the zeros
        tap_store taps;
        taps.n_batch = N_TOKENS;
        llama_nh_set_tap_callback(ctx, on_tap, &taps);
        NH_CHECK(llama_nh_set_tap(ctx, point, 0, true) == LLAMA_NH_OK, "tap");
        NH_REQUIRE(run(ctx, tokens, true, &got) == 0, "decode with tap: %s", llama_nh_last_error(ctx));
        const auto & x = taps.rows[{ point, 0 }];
        for (int b = 0; b < N_TOKENS; ++b) {
            for (int n : off.at(0)) {
                NH_CHECK(x[(size_t) b * spec_a.n_ff + n] == 0.0f, "tapped %s of a deactivated neuron is %g", point_name(point), x[(size_t) b * spec_a.n_ff + n]);
            }
        }
        NH_CHECK(max_abs_diff(got, base_b) <= allowed, "a tap must not change the result");
        llama_free(ctx);
    }

    // masks are read in place: values changed after set_intervention take effect at the next decode
    {
        llama_context * ctx = new_context(model_a);
        std::vector<std::unique_ptr<aligned_floats>> masks;
        for (const auto & l : off) {
            masks.push_back(std::make_unique<aligned_floats>(spec_a.n_ff, 1.0f));
            NH_CHECK(llama_nh_set_intervention(ctx, LLAMA_NH_FFN_OUT, l.first, masks.back()->p, nullptr) == LLAMA_NH_OK, "set");
        }
        std::vector<float> got;
        NH_REQUIRE(run(ctx, tokens, true, &got) == 0, "decode");
        NH_CHECK(max_abs_diff(got, base_a) <= tol, "all-ones masks: %g from no masks", max_abs_diff(got, base_a));
        size_t k = 0;
        for (const auto & l : off) {
            for (int n : l.second) {
                (*masks[k])[n] = 0.0f;
            }
            k++;
        }
        NH_REQUIRE(run(ctx, tokens, true, &got) == 0, "decode");
        NH_CHECK(max_abs_diff(got, base_b) <= tol, "masks changed in place: %g from the zeroed model", max_abs_diff(got, base_b));
        // removing them restores the model
        for (const auto & l : off) {
            NH_CHECK(llama_nh_set_intervention(ctx, LLAMA_NH_FFN_OUT, l.first, nullptr, nullptr) == LLAMA_NH_OK, "remove");
        }
        NH_REQUIRE(run(ctx, tokens, true, &got) == 0, "decode");
        NH_CHECK(bit_identical(got, base_a) || (!dev.exact && max_abs_diff(got, base_a) <= tol), "removed masks: %g", max_abs_diff(got, base_a));
        llama_free(ctx);
    }
    llama_model_free(model_a);
    llama_model_free(model_b);
}

// ---------------------------------------------------------------- identity

void test_identity(const device_run & dev) {
    model_spec spec;
    model_file file(spec, "identity");
    llama_model * model = load_model(file.path, dev);
    const auto tokens = prompt(N_TOKENS, spec.n_vocab);
    const auto w = token_weights(N_TOKENS);

    for (bool all_logits : { true, false }) {
        std::vector<float> base;
        {
            llama_context * ctx = new_context(model);
            NH_REQUIRE(run(ctx, tokens, all_logits, &base) == 0, "baseline");
            llama_free(ctx);
        }
        // observe = true: reductions or taps. With logits for the last token only they make the
        // last layer compute every token (the output norm selects the output rows instead), so its
        // matrix products run on more rows, in another summation order: equal within rounding only.
        auto expect_same = [&](const char * what, llama_context * ctx, bool observe = false) {
            std::vector<float> got;
            const int32_t rc = run(ctx, tokens, all_logits, &got);
            NH_REQUIRE(rc == 0, "%s: decode failed: %d %s", what, rc, llama_nh_last_error(ctx));
            if (observe && !all_logits) {
                NH_CHECK(max_abs_diff(got, base) <= 1e-5, "%s (last logits): max |diff| %g from no hooks", what, max_abs_diff(got, base));
                printf("  %s: %s (last logits): %s (max |diff| %g)\n", dev.name.c_str(), what,
                       bit_identical(got, base) ? "bit-identical" : "within rounding", max_abs_diff(got, base));
            } else if (dev.exact) {
                NH_CHECK(bit_identical(got, base), "%s (%s logits): not bit-identical to no hooks (max |diff| %g)", what,
                         all_logits ? "all" : "last", max_abs_diff(got, base));
            } else {
                NH_CHECK(max_abs_diff(got, base) <= 1e-4, "%s: max |diff| %g from no hooks", what, max_abs_diff(got, base));
            }
        };
        llama_context * ctx = new_context(model);
        std::vector<std::unique_ptr<aligned_floats>> masks;
        for (int il = 0; il < spec.n_layer; ++il) {
            for (int p : { LLAMA_NH_FFN_ACT, LLAMA_NH_FFN_OUT }) {
                masks.push_back(std::make_unique<aligned_floats>(spec.n_ff, 1.0f));
                NH_CHECK(llama_nh_set_intervention(ctx, p, il, masks.back()->p, nullptr) == LLAMA_NH_OK, "set");
            }
        }
        expect_same("scale-1 masks at ffn.act and ffn.post", ctx);
        llama_nh_clear(ctx);
        for (int il = 0; il < spec.n_layer; ++il) {
            masks.push_back(std::make_unique<aligned_floats>(spec.n_ff, 0.0f));
            NH_CHECK(llama_nh_set_intervention(ctx, LLAMA_NH_FFN_OUT, il, nullptr, masks.back()->p) == LLAMA_NH_OK, "set shift");
        }
        expect_same("zero shifts at ffn.post", ctx);
        llama_nh_clear(ctx);

        std::vector<double> a1((size_t) spec.n_layer * N_COLUMNS * spec.n_ff), a2(a1.size());
        llama_nh_set_columns(ctx, N_COLUMNS);
        llama_nh_set_token_weights(ctx, w.data(), N_TOKENS);
        llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT, a1.data(), (int64_t) a1.size(), 0.0f);
        llama_nh_set_reduce(ctx, LLAMA_NH_FFN_OUT, LLAMA_NH_STAT_SUM_SQ, a2.data(), (int64_t) a2.size(), 0.0f);
        expect_same("reductions", ctx, true);
        tap_store taps;
        taps.n_batch = N_TOKENS;
        llama_nh_set_tap_callback(ctx, on_tap, &taps);
        llama_nh_set_tap(ctx, LLAMA_NH_RESID_POST, -1, true);
        llama_nh_set_tap(ctx, LLAMA_NH_FFN_GATE, 1, true);
        expect_same("reductions and taps", ctx, true);
        llama_nh_clear(ctx);
        llama_nh_set_columns(ctx, 0);
        expect_same("cleared hooks", ctx);
        llama_free(ctx);
    }
    llama_model_free(model);
}

// ---------------------------------------------------------------- attention

void test_attention(const device_run & dev) {
    model_spec spec;
    model_file file(spec, "attention");
    llama_model * model = load_model(file.path, dev);
    const auto tokens = prompt(N_TOKENS, spec.n_vocab);
    llama_context * ctx = new_context(model);
    tap_store taps;
    taps.n_batch = N_TOKENS;
    llama_nh_set_tap_callback(ctx, on_tap, &taps);
    NH_CHECK(llama_nh_set_tap(ctx, LLAMA_NH_ATTN_PROBS, 1, true) == LLAMA_NH_OK, "tap attn.probs: %s", llama_nh_last_error(ctx));
    const int32_t rc = run(ctx, tokens, false);
    NH_REQUIRE(rc == 0, "decode: %d %s", rc, llama_nh_last_error(ctx));
    const int64_t width = taps.width[{ LLAMA_NH_ATTN_PROBS, 1 }];
    NH_REQUIRE(width >= N_TOKENS, "attn.probs width %" PRId64, width);
    const auto & p = taps.rows[{ LLAMA_NH_ATTN_PROBS, 1 }];
    for (int b = 0; b < N_TOKENS; ++b) {
        double sum = 0.0, after = 0.0;
        for (int64_t j = 0; j < width; ++j) {
            const float v = p[(size_t) b * width + j];
            NH_CHECK(v >= 0.0f, "negative probability");
            (j <= b ? sum : after) += v;
        }
        NH_CHECK(std::fabs(sum - 1.0) < 1e-4 && after < 1e-6, "%s: row %d of attn.probs: %g over the past, %g over the future",
                 dev.name.c_str(), b, sum, after);
    }
    llama_free(ctx);
    llama_model_free(model);
}

// ---------------------------------------------------------------- errors

void expect_error(llama_context * ctx, int32_t rc, int32_t expected, const char * what) {
    NH_CHECK(rc == expected, "%s: status %d, expected %d", what, rc, expected);
    if (ctx) {
        NH_CHECK(llama_nh_last_error(ctx)[0] != '\0', "%s: no message", what);
    }
}

void expect_cleared(llama_context * ctx, const char * what) {
    NH_CHECK(llama_nh_last_error(ctx)[0] == '\0', "%s: the last error is still '%s'", what, llama_nh_last_error(ctx));
}

void test_errors(const device_run & dev) {
    if (dev.n_gpu_layers != 0) {
        return; // argument checks do not depend on the device
    }
    model_spec spec;
    model_file file(spec, "errors");
    llama_model * model = load_model(file.path, dev);
    llama_context * ctx = new_context(model);
    const auto tokens = prompt(12, spec.n_vocab); // one ubatch
    expect_cleared(ctx, "a fresh context");

    // widths
    NH_CHECK(llama_nh_width(ctx, LLAMA_NH_FFN_GATE, 0) == spec.n_ff, "width ffn.pre");
    NH_CHECK(llama_nh_width(ctx, LLAMA_NH_FFN_ACT, 2) == spec.n_ff, "width ffn.act");
    NH_CHECK(llama_nh_width(ctx, LLAMA_NH_FFN_OUT, 1) == spec.n_ff, "width ffn.post");
    NH_CHECK(llama_nh_width(ctx, LLAMA_NH_RESID_POST, 0) == spec.n_embd, "width resid.post");
    NH_CHECK(llama_nh_width(ctx, LLAMA_NH_FFN_ACT, -1) == LLAMA_NH_ERR_ARGUMENT, "width of layer -1");
    NH_CHECK(llama_nh_width(ctx, LLAMA_NH_FFN_ACT, spec.n_layer) == LLAMA_NH_ERR_ARGUMENT, "width of layer n_layer");
    NH_CHECK(llama_nh_width(ctx, 17, 0) == LLAMA_NH_ERR_ARGUMENT, "width of an unknown point");
    NH_CHECK(llama_nh_width(nullptr, LLAMA_NH_FFN_ACT, 0) == LLAMA_NH_ERR_ARGUMENT, "width without a context");

    // every call without a context
    NH_CHECK(llama_nh_set_columns(nullptr, 1) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_set_token_weights(nullptr, nullptr, 0) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_set_reduce(nullptr, 0, 0, nullptr, 0, 0.0f) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_set_intervention(nullptr, 1, 0, nullptr, nullptr) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_set_tap(nullptr, 0, 0, true) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_set_tap_callback(nullptr, nullptr, nullptr) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_set_portable_reductions(nullptr, true) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(llama_nh_clear(nullptr) == LLAMA_NH_ERR_ARGUMENT, "null ctx");
    NH_CHECK(std::strcmp(llama_nh_last_error(nullptr), "") == 0, "last error without a context");

    // bad arguments: a status and a message; the next call clears the message
    const int64_t acc_len = (int64_t) spec.n_layer * 2 * spec.n_ff;
    std::vector<double> acc((size_t) acc_len, 0.0);
    aligned_floats mask(spec.n_ff + 8, 1.0f);
    const std::vector<float> w1(2 * 4, 1.0f);
    struct bad_call { const char * what; std::function<int32_t()> call; int32_t expected; };
    const std::vector<bad_call> bad = {
        { "columns -1",               [&] { return llama_nh_set_columns(ctx, -1); }, LLAMA_NH_ERR_ARGUMENT },
        { "columns 5000",             [&] { return llama_nh_set_columns(ctx, 5000); }, LLAMA_NH_ERR_ARGUMENT },
        { "reduce before columns",    [&] { return llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_SUM, acc.data(), acc_len, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
        { "weights NULL with rows",   [&] { return llama_nh_set_token_weights(ctx, nullptr, 4); }, LLAMA_NH_ERR_ARGUMENT },
        { "weights without rows",     [&] { return llama_nh_set_token_weights(ctx, w1.data(), 0); }, LLAMA_NH_ERR_ARGUMENT },
        { "weights negative rows",    [&] { return llama_nh_set_token_weights(ctx, w1.data(), -3); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention at resid",    [&] { return llama_nh_set_intervention(ctx, LLAMA_NH_RESID_POST, 0, mask.p, nullptr); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention at gate",     [&] { return llama_nh_set_intervention(ctx, LLAMA_NH_FFN_GATE, 0, mask.p, nullptr); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention point 42",    [&] { return llama_nh_set_intervention(ctx, 42, 0, mask.p, nullptr); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention layer 99",    [&] { return llama_nh_set_intervention(ctx, LLAMA_NH_FFN_ACT, 99, mask.p, nullptr); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention layer -1",    [&] { return llama_nh_set_intervention(ctx, LLAMA_NH_FFN_ACT, -1, mask.p, nullptr); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention misaligned",  [&] { return llama_nh_set_intervention(ctx, LLAMA_NH_FFN_ACT, 0, mask.p + 1, nullptr); }, LLAMA_NH_ERR_ARGUMENT },
        { "intervention misaligned shift", [&] { return llama_nh_set_intervention(ctx, LLAMA_NH_FFN_OUT, 0, nullptr, mask.p + 3); }, LLAMA_NH_ERR_ARGUMENT },
        { "tap point -1",             [&] { return llama_nh_set_tap(ctx, -1, 0, true); }, LLAMA_NH_ERR_ARGUMENT },
        { "tap point count",          [&] { return llama_nh_set_tap(ctx, LLAMA_NH_POINT_COUNT, 0, true); }, LLAMA_NH_ERR_ARGUMENT },
        { "tap layer -2",             [&] { return llama_nh_set_tap(ctx, LLAMA_NH_FFN_ACT, -2, true); }, LLAMA_NH_ERR_ARGUMENT },
        { "tap layer n_layer",        [&] { return llama_nh_set_tap(ctx, LLAMA_NH_FFN_ACT, spec.n_layer, true); }, LLAMA_NH_ERR_ARGUMENT },
    };
    for (const auto & b : bad) {
        expect_error(ctx, b.call(), b.expected, b.what);
        NH_CHECK(llama_nh_set_portable_reductions(ctx, false) == LLAMA_NH_OK, "a good call");
        expect_cleared(ctx, b.what);
    }

    NH_CHECK(llama_nh_set_columns(ctx, 2) == LLAMA_NH_OK, "columns 2");
    const std::vector<bad_call> bad_reduce = {
        { "reduce point 9",           [&] { return llama_nh_set_reduce(ctx, 9, LLAMA_NH_STAT_SUM, acc.data(), acc_len, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
        { "reduce attn.probs",        [&] { return llama_nh_set_reduce(ctx, LLAMA_NH_ATTN_PROBS, LLAMA_NH_STAT_SUM, acc.data(), acc_len, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
        { "reduce stat 5",            [&] { return llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT_OF, acc.data(), acc_len, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
        { "reduce stat -1",           [&] { return llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, -1, acc.data(), acc_len, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
        { "reduce short array",       [&] { return llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_SUM, acc.data(), acc_len - 1, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
        { "reduce resid, ffn length", [&] { return llama_nh_set_reduce(ctx, LLAMA_NH_RESID_POST, LLAMA_NH_STAT_SUM, acc.data(), acc_len, 0.0f); }, LLAMA_NH_ERR_ARGUMENT },
    };
    for (const auto & b : bad_reduce) {
        expect_error(ctx, b.call(), b.expected, b.what);
        NH_CHECK(llama_nh_set_columns(ctx, 2) == LLAMA_NH_OK, "a good call");
        expect_cleared(ctx, b.what);
    }

    // decode-time errors: the decode fails with a message; the next decode clears it
    NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_SUM, acc.data(), acc_len, 0.0f) == LLAMA_NH_OK, "reduce");
    int32_t rc = run(ctx, tokens, false);
    NH_CHECK(rc != 0, "a decode with reductions but no token weights must fail");
    NH_CHECK(std::strstr(llama_nh_last_error(ctx), "no token weights") != nullptr, "message: '%s'", llama_nh_last_error(ctx));
    NH_CHECK(std::all_of(acc.begin(), acc.end(), [](double v) { return v == 0.0; }), "a failed decode added to the accumulator");

    std::vector<float> w_short(2 * 5, 1.0f); // rows for 5 of the 12 tokens
    NH_CHECK(llama_nh_set_token_weights(ctx, w_short.data(), 5) == LLAMA_NH_OK, "weights");
    expect_cleared(ctx, "set_token_weights after a failed decode");
    rc = run(ctx, tokens, false);
    NH_CHECK(rc != 0, "a batch with more tokens than weight rows must fail");
    NH_CHECK(std::strstr(llama_nh_last_error(ctx), "more tokens") != nullptr, "message: '%s'", llama_nh_last_error(ctx));

    std::vector<float> w_ok(2 * tokens.size(), 1.0f);
    NH_CHECK(llama_nh_set_token_weights(ctx, w_ok.data(), (int32_t) tokens.size()) == LLAMA_NH_OK, "weights");
    NH_CHECK(llama_nh_set_columns(ctx, 99999) == LLAMA_NH_ERR_ARGUMENT, "a failing call, to leave a message");
    NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_SUM, acc.data(), acc_len, 0.0f) == LLAMA_NH_OK, "reduce");
    // leave a message from a failed call, then decode: the decode clears it
    llama_nh_set_columns(ctx, -5);
    NH_CHECK(llama_nh_last_error(ctx)[0] != '\0', "a message from the failed call");
    rc = run(ctx, tokens, false);
    NH_CHECK(rc == 0, "decode: %d %s", rc, llama_nh_last_error(ctx));
    expect_cleared(ctx, "a successful decode");

    // a tap callback that fails fails the decode; what the decode reduced is not added
    std::fill(acc.begin(), acc.end(), 0.0);
    tap_store taps;
    taps.n_batch = (int) tokens.size();
    taps.fail = true;
    llama_nh_set_tap_callback(ctx, on_tap, &taps);
    NH_CHECK(llama_nh_set_tap(ctx, LLAMA_NH_RESID_POST, 1, true) == LLAMA_NH_OK, "tap");
    rc = run(ctx, tokens, false);
    NH_CHECK(rc != 0 && taps.calls == 1, "a failing tap callback must fail the decode (rc %d, %d calls)", rc, taps.calls);
    NH_CHECK(std::strstr(llama_nh_last_error(ctx), "tap callback") != nullptr, "message: '%s'", llama_nh_last_error(ctx));
    NH_CHECK(std::all_of(acc.begin(), acc.end(), [](double v) { return v == 0.0; }), "a failed ubatch added to the accumulator");
    taps.fail = false;
    rc = run(ctx, tokens, false);
    NH_CHECK(rc == 0, "decode after the failing callback: %d %s", rc, llama_nh_last_error(ctx));
    expect_cleared(ctx, "a successful decode after a failed one");
    NH_CHECK(std::any_of(acc.begin(), acc.end(), [](double v) { return v != 0.0; }), "the good decode reduced");

    llama_free(ctx);
    llama_model_free(model);
}

// ---------------------------------------------------------------- faults

struct fault_case { const char * env; const char * message; };

void test_faults(const device_run & dev) {
    model_spec spec;
    model_file file(spec, "faults");
    llama_model * model = load_model(file.path, dev);
    const auto tokens = prompt(N_TOKENS, spec.n_vocab);
    const auto w = token_weights(N_TOKENS);
    const size_t acc_len = (size_t) spec.n_layer * N_COLUMNS * spec.n_ff;

    // every kind of hook: reductions (fused and gate-count), an intervention, a tap
    struct configured {
        std::vector<double> sum, count;
        aligned_floats mask;
        tap_store taps;
        explicit configured(const model_spec & s, size_t n) : sum(n, 0.0), count(n, 0.0), mask(s.n_ff, 1.0f) {
            mask[1] = 0.0f;
        }
    };
    auto configure = [&](llama_context * ctx, configured & c) {
        c.taps.n_batch = N_TOKENS;
        NH_CHECK(llama_nh_set_columns(ctx, N_COLUMNS) == LLAMA_NH_OK, "columns");
        NH_CHECK(llama_nh_set_token_weights(ctx, w.data(), N_TOKENS) == LLAMA_NH_OK, "weights");
        NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_OUT, LLAMA_NH_STAT_SUM, c.sum.data(), (int64_t) c.sum.size(), 0.0f) == LLAMA_NH_OK, "sum");
        NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT, c.count.data(), (int64_t) c.count.size(), 0.0f) == LLAMA_NH_OK, "count");
        NH_CHECK(llama_nh_set_intervention(ctx, LLAMA_NH_FFN_OUT, 1, c.mask.p, nullptr) == LLAMA_NH_OK, "intervention");
        NH_CHECK(llama_nh_set_tap_callback(ctx, on_tap, &c.taps) == LLAMA_NH_OK, "callback");
        NH_CHECK(llama_nh_set_tap(ctx, LLAMA_NH_RESID_POST, 2, true) == LLAMA_NH_OK, "tap");
    };

    configured ref(spec, acc_len);
    std::vector<float> ref_logits;
    {
        llama_context * ctx = new_context(model);
        configure(ctx, ref);
        NH_REQUIRE(run(ctx, tokens, true, &ref_logits) == 0, "reference decode: %s", llama_nh_last_error(ctx));
        llama_free(ctx);
    }

    const fault_case cases[] = {
        { "build",  "while building the graph" },
        { "before", "before the graph compute" },
        { "after",  "after the graph compute" },
        { "input",  "while setting the token weights" },
    };
    for (const auto & f : cases) {
        llama_context * ctx = new_context(model);
        configured c(spec, acc_len);
        configure(ctx, c);
        // a good decode first, so that the fault also meets a graph that could be reused
        std::vector<float> logits;
        NH_REQUIRE(run(ctx, tokens, true, &logits) == 0, "decode before the fault: %s", llama_nh_last_error(ctx));
        std::fill(c.sum.begin(), c.sum.end(), 0.0);
        std::fill(c.count.begin(), c.count.end(), 0.0);

        setenv("LLAMA_NH_FAULT", f.env, 1);
        const int32_t rc = run(ctx, tokens, true);
        unsetenv("LLAMA_NH_FAULT");
        NH_CHECK(rc == -3, "%s: fault %s: llama_decode returned %d, expected -3", dev.name.c_str(), f.env, rc);
        const char * msg = llama_nh_last_error(ctx);
        NH_CHECK(std::strstr(msg, "std::bad_alloc") && std::strstr(msg, f.message), "fault %s: message '%s'", f.env, msg);
        printf("  %s: LLAMA_NH_FAULT=%s: llama_decode %d, \"%s\"\n", dev.name.c_str(), f.env, rc, msg);
        NH_CHECK(std::all_of(c.sum.begin(), c.sum.end(), [](double v) { return v == 0.0; }) &&
                 std::all_of(c.count.begin(), c.count.end(), [](double v) { return v == 0.0; }),
                 "fault %s: the failed decode added to the accumulators", f.env);

        // the next call clears the message
        NH_CHECK(llama_nh_set_portable_reductions(ctx, false) == LLAMA_NH_OK, "a good call");
        expect_cleared(ctx, "a call after the fault");

        // and the next decode is right
        const int32_t rc2 = run(ctx, tokens, true, &logits);
        NH_CHECK(rc2 == 0, "fault %s: the next decode failed: %d %s", f.env, rc2, llama_nh_last_error(ctx));
        expect_cleared(ctx, "the decode after the fault");
        const bool same = dev.exact ? bit_identical(logits, ref_logits) && c.sum == ref.sum && c.count == ref.count
                                    : max_abs_diff(logits, ref_logits) <= 1e-4;
        NH_CHECK(same, "fault %s: the decode after the fault differs from a clean one (logits %g)", f.env, max_abs_diff(logits, ref_logits));

        // a fault again, after a failure: still no abort, and a decode with the fault cleared is fine
        setenv("LLAMA_NH_FAULT", f.env, 1);
        NH_CHECK(run(ctx, tokens, false) == -3, "fault %s again", f.env);
        unsetenv("LLAMA_NH_FAULT");
        NH_CHECK(run(ctx, tokens, false) == 0, "fault %s: decode after the second fault: %s", f.env, llama_nh_last_error(ctx));
        llama_free(ctx);
    }

    // an unknown value is no fault
    {
        llama_context * ctx = new_context(model);
        configured c(spec, acc_len);
        configure(ctx, c);
        setenv("LLAMA_NH_FAULT", "nothing", 1);
        NH_CHECK(run(ctx, tokens, true) == 0, "LLAMA_NH_FAULT=nothing must not fail");
        unsetenv("LLAMA_NH_FAULT");
        llama_free(ctx);
    }
    llama_model_free(model);
}


// ---------------------------------------------------------------- logit lens

struct lens_row {
    std::vector<int32_t> ids;
    std::vector<float>   probs;
    float entropy = NAN;
    float target  = NAN;
    int   seen    = 0;
};

struct lens_store {
    std::map<std::pair<int, int>, lens_row> rows; // (layer, batch entry)
    bool fail = false;
};

bool on_lens(void * ud, int32_t layer, int64_t n_rows, int32_t k, const int32_t * ids, const float * probs, const float * entropy,
             const float * target, const int32_t * batch_index) {
    auto * s = (lens_store *) ud;
    if (s->fail) {
        return false;
    }
    for (int64_t i = 0; i < n_rows; ++i) {
        auto & r = s->rows[{ layer, batch_index[i] }];
        r.ids.assign(ids + i * k, ids + (i + 1) * k);
        r.probs.assign(probs + i * k, probs + (i + 1) * k);
        r.entropy = entropy[i];
        r.target = target ? target[i] : NAN;
        r.seen++;
    }
    return true;
}

// The brute force: softmax of logits (double), its entropy, its top k (descending, ties by id).
struct distribution {
    std::vector<double> p;
    double entropy = 0.0;
    std::vector<int32_t> top(int k) const {
        std::vector<int32_t> idx(p.size());
        for (size_t i = 0; i < idx.size(); ++i) {
            idx[i] = (int32_t) i;
        }
        std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
        idx.resize(k);
        return idx;
    }
};

distribution softmax_of(const float * logits, int n) {
    distribution d;
    double m = -INFINITY;
    for (int i = 0; i < n; ++i) {
        m = std::max(m, (double) logits[i]);
    }
    double z = 0.0;
    d.p.resize(n);
    for (int i = 0; i < n; ++i) {
        d.p[i] = std::exp((double) logits[i] - m);
        z += d.p[i];
    }
    for (int i = 0; i < n; ++i) {
        d.p[i] /= z;
        if (d.p[i] > 0) {
            d.entropy -= d.p[i] * std::log(d.p[i]);
        }
    }
    return d;
}

// The weights the lens uses, read back from the GGUF file (F32): output_norm, output.
struct head_weights {
    std::vector<float> norm, output; // [n_embd], [n_vocab][n_embd]
};

head_weights read_head(const std::string & path) {
    head_weights h;
    ggml_context * data = nullptr;
    gguf_init_params ip = { /*.no_alloc =*/ false, /*.ctx =*/ &data };
    gguf_context * g = gguf_init_from_file(path.c_str(), ip);
    if (!g) {
        return h;
    }
    const ggml_tensor * n = ggml_get_tensor(data, "output_norm.weight");
    const ggml_tensor * o = ggml_get_tensor(data, "output.weight");
    h.norm.assign((const float *) n->data, (const float *) n->data + ggml_nelements(n));
    h.output.assign((const float *) o->data, (const float *) o->data + ggml_nelements(o));
    gguf_free(g);
    ggml_free(data);
    return h;
}

// The lens of a resid.post row by brute force: RMS norm (llama's eps 1e-5), norm weight, unembedding.
distribution brute_lens(const head_weights & h, const float * x, int n_embd, int n_vocab) {
    double ss = 0.0;
    for (int i = 0; i < n_embd; ++i) {
        ss += (double) x[i] * x[i];
    }
    const double scale = 1.0 / std::sqrt(ss / n_embd + 1e-5);
    std::vector<float> logits(n_vocab);
    for (int v = 0; v < n_vocab; ++v) {
        double acc = 0.0;
        for (int i = 0; i < n_embd; ++i) {
            acc += (double) h.output[(size_t) v * n_embd + i] * (x[i] * scale * h.norm[i]);
        }
        logits[v] = (float) acc;
    }
    return softmax_of(logits.data(), n_vocab);
}

void test_lens(const device_run & dev) {
    model_spec spec;
    model_file file(spec, "lens");
    const head_weights head = read_head(file.path);
    NH_REQUIRE(!head.norm.empty() && head.output.size() == (size_t) spec.n_vocab * spec.n_embd, "read the head weights");
    llama_model * model = load_model(file.path, dev);
    const auto tokens = prompt(N_TOKENS, spec.n_vocab);
    const auto w = token_weights(N_TOKENS);
    const int K = 10, TARGET = 5;
    const double tol = dev.exact ? 2e-5 : 1e-4;

    for (bool all_logits : { true, false }) {
        std::vector<float> base;
        {
            llama_context * ctx = new_context(model);
            NH_REQUIRE(run(ctx, tokens, true, &base) == 0, "baseline");
            llama_free(ctx);
        }
        llama_context * ctx = new_context(model);
        lens_store lens;
        tap_store taps;
        taps.n_batch = N_TOKENS;
        std::vector<double> ent_acc((size_t) spec.n_layer * N_COLUMNS, 0.0), tgt_acc(ent_acc.size(), 0.0), wgt_acc(ent_acc.size(), 0.0);
        NH_CHECK(llama_nh_set_lens_layer(ctx, -1, true) == LLAMA_NH_OK, "lens layers: %s", llama_nh_last_error(ctx));
        NH_CHECK(llama_nh_set_lens_params(ctx, K, TARGET) == LLAMA_NH_OK, "lens params: %s", llama_nh_last_error(ctx));
        NH_CHECK(llama_nh_set_lens_callback(ctx, on_lens, &lens) == LLAMA_NH_OK, "lens callback");
        llama_nh_set_columns(ctx, N_COLUMNS);
        llama_nh_set_token_weights(ctx, w.data(), N_TOKENS);
        NH_CHECK(llama_nh_set_lens_groups(ctx, ent_acc.data(), tgt_acc.data(), wgt_acc.data(), (int64_t) ent_acc.size()) == LLAMA_NH_OK,
                 "lens groups: %s", llama_nh_last_error(ctx));
        llama_nh_set_tap_callback(ctx, on_tap, &taps);
        llama_nh_set_tap(ctx, LLAMA_NH_RESID_POST, -1, true);
        std::vector<float> logits;
        const int32_t rc = run(ctx, tokens, all_logits, &logits);
        NH_REQUIRE(rc == 0, "lens decode: %d %s", rc, llama_nh_last_error(ctx));

        // the model's own logits are unchanged by the lens
        if (all_logits) {
            NH_CHECK(max_abs_diff(logits, base) <= 1e-5, "%s: logits with the lens differ from without: %g", dev.name.c_str(),
                     max_abs_diff(logits, base));
        }
        double worst_last = 0.0, worst_brute = 0.0, worst_h = 0.0;
        for (int il = 0; il < spec.n_layer; ++il) {
            const auto & x = taps.rows[{ LLAMA_NH_RESID_POST, il }];
            for (int b = 0; b < N_TOKENS; ++b) {
                const auto it = lens.rows.find({ il, b });
                NH_REQUIRE(it != lens.rows.end() && it->second.seen == 1, "%s: lens of layer %d token %d delivered %d times",
                           dev.name.c_str(), il, b, it == lens.rows.end() ? 0 : it->second.seen);
                const lens_row & r = it->second;
                NH_REQUIRE((int) r.ids.size() == K, "top-k size %zu", r.ids.size());
                // oracle 1: at the last layer, the softmax of llama.cpp's own logits
                if (il == spec.n_layer - 1) {
                    const distribution d = softmax_of(base.data() + (size_t) b * spec.n_vocab, spec.n_vocab);
                    const auto top = d.top(K);
                    for (int j = 0; j < K; ++j) {
                        NH_CHECK(r.ids[j] == top[j] || std::fabs(d.p[r.ids[j]] - d.p[top[j]]) < 1e-6,
                                 "%s: last layer token %d rank %d: lens id %d, logits' id %d", dev.name.c_str(), b, j, r.ids[j], top[j]);
                        worst_last = std::max(worst_last, std::fabs(r.probs[j] - d.p[r.ids[j]]));
                    }
                    worst_last = std::max(worst_last, std::fabs(r.entropy - d.entropy));
                    worst_last = std::max(worst_last, std::fabs(r.target - d.p[TARGET]));
                }
                // oracle 2: the brute force over the tap, with the weights read from the file
                const distribution d = brute_lens(head, x.data() + (size_t) b * spec.n_embd, spec.n_embd, spec.n_vocab);
                const auto top = d.top(K);
                for (int j = 0; j < K; ++j) {
                    NH_CHECK(r.ids[j] == top[j] || std::fabs(d.p[r.ids[j]] - d.p[top[j]]) < 1e-6,
                             "%s: layer %d token %d rank %d: lens id %d, brute force %d", dev.name.c_str(), il, b, j, r.ids[j], top[j]);
                    worst_brute = std::max(worst_brute, std::fabs(r.probs[j] - d.p[r.ids[j]]));
                    NH_CHECK(j == 0 || r.probs[j] <= r.probs[j - 1], "top-k not in descending order");
                }
                worst_brute = std::max(worst_brute, std::fabs(r.target - d.p[TARGET]));
                worst_h = std::max(worst_h, std::fabs(r.entropy - d.entropy));
            }
            // oracle 3: group sums against the per-token results
            for (int c = 0; c < N_COLUMNS; ++c) {
                double he = 0.0, ht = 0.0, hw = 0.0;
                for (int b = 0; b < N_TOKENS; ++b) {
                    const auto & r = lens.rows[{ il, b }];
                    he += w[b * N_COLUMNS + c] * r.entropy;
                    ht += w[b * N_COLUMNS + c] * r.target;
                    hw += w[b * N_COLUMNS + c];
                }
                NH_CHECK(wgt_acc[(size_t) il * N_COLUMNS + c] == hw, "%s: layer %d column %d: weight sum %g, expected %g",
                         dev.name.c_str(), il, c, wgt_acc[(size_t) il * N_COLUMNS + c], hw);
                const double ge = ent_acc[(size_t) il * N_COLUMNS + c], gt = tgt_acc[(size_t) il * N_COLUMNS + c];
                NH_CHECK(std::fabs(ge - he) <= 1e-4 * std::max(1.0, std::fabs(he)), "%s: layer %d column %d: entropy sum %g, per token %g",
                         dev.name.c_str(), il, c, ge, he);
                NH_CHECK(std::fabs(gt - ht) <= 1e-5 * std::max(1.0, std::fabs(ht)), "%s: layer %d column %d: target sum %g, per token %g",
                         dev.name.c_str(), il, c, gt, ht);
            }
        }
        NH_CHECK(worst_last <= tol, "%s: last layer lens vs llama.cpp's logits: max |diff| %g", dev.name.c_str(), worst_last);
        NH_CHECK(worst_brute <= tol, "%s: lens probabilities vs brute force: max |diff| %g", dev.name.c_str(), worst_brute);
        NH_CHECK(worst_h <= 1e-4, "%s: lens entropy vs brute force: max |diff| %g", dev.name.c_str(), worst_h);
        printf("  %s (%s logits): lens vs own logits %.2g, vs brute force %.2g (entropy %.2g)\n", dev.name.c_str(),
               all_logits ? "all" : "last", worst_last, worst_brute, worst_h);

        // the selection: the last token only, one row per layer per decode, same values
        std::vector<int8_t> sel(N_TOKENS, 0);
        sel[N_TOKENS - 1] = 1;
        const auto full = lens.rows;
        lens.rows.clear();
        llama_nh_set_lens_groups(ctx, nullptr, nullptr, nullptr, 0);
        llama_nh_set_tap(ctx, LLAMA_NH_RESID_POST, -1, false);
        NH_CHECK(llama_nh_set_lens_selection(ctx, sel.data(), N_TOKENS) == LLAMA_NH_OK, "selection: %s", llama_nh_last_error(ctx));
        std::vector<float> sel_logits;
        NH_REQUIRE(run(ctx, tokens, all_logits, &sel_logits) == 0, "selected decode: %s", llama_nh_last_error(ctx));
        NH_CHECK(lens.rows.size() == (size_t) spec.n_layer, "%s: selection of one token gave %zu rows", dev.name.c_str(), lens.rows.size());
        if (!all_logits && dev.exact) {
            // the lens of output tokens only keeps llama.cpp's pruned last layer: its logits are untouched
            std::vector<float> ref;
            llama_context * plain = new_context(model);
            NH_REQUIRE(run(plain, tokens, false, &ref) == 0, "plain decode");
            llama_free(plain);
            NH_CHECK(bit_identical(sel_logits, ref), "%s: lens of the last token changed the logits (max |diff| %g)", dev.name.c_str(),
                     max_abs_diff(sel_logits, ref));
        }
        for (int il = 0; il < spec.n_layer; ++il) {
            const auto & a = lens.rows[{ il, N_TOKENS - 1 }];
            const auto & f = full.at({ il, N_TOKENS - 1 });
            NH_CHECK(a.ids == f.ids && std::fabs(a.entropy - f.entropy) < 1e-5, "%s: selected lens of layer %d differs", dev.name.c_str(), il);
        }
        // a selection that moves (same count): graph reused, other rows
        sel[N_TOKENS - 1] = 0;
        sel[3] = 1;
        lens.rows.clear();
        NH_REQUIRE(run(ctx, tokens, all_logits) == 0, "moved selection: %s", llama_nh_last_error(ctx));
        NH_CHECK(lens.rows.size() == (size_t) spec.n_layer && lens.rows.count(std::make_pair(0, 3)) == 1, "moved selection: rows");
        for (int il = 0; il < spec.n_layer; ++il) {
            NH_CHECK(lens.rows[std::make_pair(il, 3)].ids == full.at(std::make_pair(il, 3)).ids, "moved selection: layer %d", il);
        }
        // one layer only
        lens.rows.clear();
        llama_nh_set_lens_layer(ctx, -1, false);
        llama_nh_set_lens_layer(ctx, 1, true);
        NH_REQUIRE(run(ctx, tokens, all_logits) == 0, "one layer: %s", llama_nh_last_error(ctx));
        NH_CHECK(lens.rows.size() == 1 && lens.rows.count(std::make_pair(1, 3)) == 1, "one layer: %zu rows", lens.rows.size());

        // a failing callback fails the decode, with a message
        lens.fail = true;
        NH_CHECK(run(ctx, tokens, all_logits) != 0, "a failing lens callback must fail the decode");
        NH_CHECK(std::strstr(llama_nh_last_error(ctx), "lens") != nullptr, "message: %s", llama_nh_last_error(ctx));
        lens.fail = false;

        // cleared: the graph is llama.cpp's again
        llama_nh_clear(ctx);
        llama_nh_set_columns(ctx, 0);
        std::vector<float> after;
        NH_REQUIRE(run(ctx, tokens, true, &after) == 0, "cleared");
        if (dev.exact) {
            NH_CHECK(bit_identical(after, base), "%s: cleared lens: logits not bit-identical", dev.name.c_str());
        }
        llama_free(ctx);
    }

    // bad arguments
    llama_context * ctx = new_context(model);
    expect_error(ctx, llama_nh_set_lens_layer(ctx, spec.n_layer, true), LLAMA_NH_ERR_ARGUMENT, "lens layer out of range");
    expect_error(ctx, llama_nh_set_lens_params(ctx, spec.n_vocab + 1, -1), LLAMA_NH_ERR_ARGUMENT, "top_k above the vocabulary");
    expect_error(ctx, llama_nh_set_lens_params(ctx, 5, spec.n_vocab), LLAMA_NH_ERR_ARGUMENT, "target outside the vocabulary");
    std::vector<double> acc((size_t) spec.n_layer);
    expect_error(ctx, llama_nh_set_lens_groups(ctx, acc.data(), nullptr, nullptr, (int64_t) acc.size()), LLAMA_NH_ERR_ARGUMENT, "groups without columns");
    llama_nh_set_columns(ctx, 1);
    expect_error(ctx, llama_nh_set_lens_groups(ctx, acc.data(), acc.data(), nullptr, (int64_t) acc.size()), LLAMA_NH_ERR_ARGUMENT, "target sums without target");
    expect_error(ctx, llama_nh_set_lens_groups(ctx, acc.data(), nullptr, nullptr, 1), LLAMA_NH_ERR_ARGUMENT, "wrong length");
    expect_error(ctx, llama_nh_set_lens_selection(ctx, nullptr, 3), LLAMA_NH_ERR_ARGUMENT, "selection NULL with tokens");
    llama_free(ctx);
    llama_model_free(model);
}

// ---------------------------------------------------------------- graph reuse

// Generation decodes one token at a time; llama.cpp reuses the previous step's graph when its
// topology is unchanged (llm_graph_result::can_reuse). The hooks keep that: their inputs (token
// weights, masks) are graph inputs, and nh_generation changes only when the hooks change the graph.
// Oracle: the same steps with reuse disabled (LLAMA_GRAPH_REUSE_DISABLE, read at context creation)
// give the same logits and the same reductions; reuse must actually happen, and a hook added
// mid-generation must take effect on the next step (a stale graph would miss it).
void test_reuse(const device_run & dev) {
    model_spec spec;
    model_file file(spec, "reuse");
    llama_model * model = load_model(file.path, dev);
    const auto tokens = prompt(40, spec.n_vocab); // 16 prompt tokens, then 24 one-token steps
    constexpr int N_PROMPT = 16;
    constexpr int N_SWITCH = 28;                  // from this step on, a mask deactivates neurons
    const float one = 1.0f;

    struct result {
        std::vector<float>  logits; // last logits of every decode
        std::vector<double> count, sum;
        int32_t             reused = 0;
    };
    auto generate = [&](bool reuse, int switch_at) -> result {
        if (!reuse) {
            setenv("LLAMA_GRAPH_REUSE_DISABLE", "1", 1);
        }
        llama_context * ctx = new_context(model);
        unsetenv("LLAMA_GRAPH_REUSE_DISABLE");
        result r;
        r.count.assign((size_t) spec.n_layer * spec.n_ff, 0.0);
        r.sum.assign(r.count.size(), 0.0);
        std::vector<float> w(N_PROMPT, 1.0f);
        NH_CHECK(llama_nh_set_columns(ctx, 1) == LLAMA_NH_OK, "columns");
        NH_CHECK(llama_nh_set_token_weights(ctx, w.data(), N_PROMPT) == LLAMA_NH_OK, "weights");
        NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_ACT, LLAMA_NH_STAT_COUNT, r.count.data(), (int64_t) r.count.size(), 0.0f) == LLAMA_NH_OK, "count");
        NH_CHECK(llama_nh_set_reduce(ctx, LLAMA_NH_FFN_OUT, LLAMA_NH_STAT_SUM, r.sum.data(), (int64_t) r.sum.size(), 0.0f) == LLAMA_NH_OK, "sum");
        aligned_floats mask(spec.n_ff, 1.0f);
        for (int n = 0; n < spec.n_ff; n += 3) {
            mask.p[n] = 0.0f;
        }
        const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
        llama_batch b = llama_batch_init(N_PROMPT, 0, 1);
        for (int pos = 0; pos < (int) tokens.size();) {
            const int n = pos == 0 ? N_PROMPT : 1;
            if (pos == switch_at) {
                NH_CHECK(llama_nh_set_intervention(ctx, LLAMA_NH_FFN_ACT, 1, mask.p, nullptr) == LLAMA_NH_OK, "mask");
            }
            if (pos == N_PROMPT) {
                NH_CHECK(llama_nh_set_token_weights(ctx, &one, 1) == LLAMA_NH_OK, "weights of a step");
            }
            for (int i = 0; i < n; ++i) {
                b.token[i] = tokens[pos + i];
                b.pos[i] = pos + i;
                b.n_seq_id[i] = 1;
                b.seq_id[i][0] = 0;
                b.logits[i] = i + 1 == n;
            }
            b.n_tokens = n;
            const int32_t rc = llama_decode(ctx, b);
            NH_CHECK(rc == 0, "%s: step at %d: %d %s", dev.name.c_str(), pos, rc, llama_nh_last_error(ctx));
            if (rc != 0) {
                break;
            }
            const float * l = llama_get_logits_ith(ctx, n - 1);
            r.logits.insert(r.logits.end(), l, l + n_vocab);
            pos += n;
        }
        llama_batch_free(b);
        r.reused = llama_perf_context(ctx).n_reused;
        llama_free(ctx);
        return r;
    };
    const result with = generate(true, N_SWITCH);
    const result without = generate(false, N_SWITCH);
    const result unmasked = generate(true, -1);
    printf("  %s: graphs reused over %d steps: %d (with reuse disabled: %d)\n", dev.name.c_str(),
           (int) tokens.size() - N_PROMPT, with.reused, without.reused);
    NH_CHECK(without.reused == 0, "reuse disabled, yet %d graphs reused", without.reused);
    // every step after the first reuses the previous graph, except where the KV window grows past a
    // multiple of 256 cells (not within 40 tokens) and at the step that adds the mask
    NH_CHECK(with.reused >= (int) tokens.size() - N_PROMPT - 3, "only %d of %d steps reused the graph", with.reused,
             (int) tokens.size() - N_PROMPT);
    const double tol = dev.exact ? 0.0 : 1e-4;
    NH_CHECK(max_abs_diff(with.logits, without.logits) <= tol, "logits differ with graph reuse: %g", max_abs_diff(with.logits, without.logits));
    NH_CHECK(with.count == without.count, "count(act > 0) differs with graph reuse");
    double worst = 0.0;
    for (size_t i = 0; i < with.sum.size(); ++i) {
        worst = std::max(worst, std::fabs(with.sum[i] - without.sum[i]));
    }
    NH_CHECK(worst <= (dev.exact ? 0.0 : 1e-3), "sum(ffn.post) differs with graph reuse: %g", worst);
    // the mask took effect at its step, not before: decode d is the one of position N_PROMPT - 1 + d
    const size_t n_vocab = (size_t) llama_vocab_n_tokens(llama_model_get_vocab(model));
    const size_t first_masked = (size_t) (N_SWITCH - N_PROMPT + 1) * n_vocab;
    const std::vector<float> before_a(with.logits.begin(), with.logits.begin() + first_masked);
    const std::vector<float> before_b(unmasked.logits.begin(), unmasked.logits.begin() + first_masked);
    const std::vector<float> after_a(with.logits.begin() + first_masked, with.logits.begin() + first_masked + n_vocab);
    const std::vector<float> after_b(unmasked.logits.begin() + first_masked, unmasked.logits.begin() + first_masked + n_vocab);
    NH_CHECK(bit_identical(before_a, before_b) || (!dev.exact && max_abs_diff(before_a, before_b) <= 1e-4),
             "steps before the mask differ from the unmasked run: %g", max_abs_diff(before_a, before_b));
    NH_CHECK(max_abs_diff(after_a, after_b) > 1e-3, "the mask added mid-generation had no effect on its step (a stale graph?)");
    llama_model_free(model);
}

} // namespace

int main(int argc, char ** argv) {
    const std::string which = argc > 1 ? argv[1] : "all";
    const std::map<std::string, void (*)(const device_run &)> tests = {
        { "reductions", test_reductions }, { "interventions", test_interventions }, { "identity", test_identity },
        { "attention", test_attention },   { "errors", test_errors },               { "faults", test_faults },
        { "lens", test_lens },             { "reuse", test_reuse },
    };
    if (which != "all" && tests.find(which) == tests.end()) {
        fprintf(stderr, "usage: %s <reductions|interventions|identity|attention|errors|faults|lens|reuse|all>\n", argv[0]);
        return 2;
    }
    init_backends();
    for (const auto & dev : device_runs()) {
        for (const auto & t : tests) {
            if (which == "all" || which == t.first) {
                printf("%s on %s\n", t.first.c_str(), dev.name.c_str());
                fflush(stdout);
                const int before = failures();
                t.second(dev);
                printf("%s on %s: %s\n", t.first.c_str(), dev.name.c_str(), failures() == before ? "ok" : "FAILED");
                fflush(stdout);
            }
        }
    }
    llama_backend_free();
    return failures() == 0 ? 0 : 1;
}
