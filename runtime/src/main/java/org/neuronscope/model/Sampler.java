package org.neuronscope.model;

import org.neuronscope.internal.NativeHandle;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_sampler_chain_params;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.internal.LlamaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * llama.cpp's sampler chain: greedy, or top-k / top-p / min-p / temperature with a seeded random
 * draw. The same seed, prompt and model give the same tokens.
 */
public final class Sampler implements AutoCloseable {
    private final NativeHandle handle;
    private final SamplerParams params;

    private Sampler(SamplerParams params, int vocabularySize) {
        LlamaRuntime.init();
        this.params = params;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cp = neuronscope_h.llama_sampler_chain_default_params(arena);
            llama_sampler_chain_params.no_perf(cp, true);
            MemorySegment chain = neuronscope_h.llama_sampler_chain_init(cp);
            this.handle = NativeHandle.create(this, "sampler", chain, neuronscope_h::llama_sampler_free);
        }
        MemorySegment chain = handle.get();
        if (params.greedy()) {
            neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_greedy());
            return;
        }
        if (params.repeatPenalty() != 1.0f) {
            neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_penalties(vocabularySize, 64, params.repeatPenalty(), 0.0f, 0.0f));
        }
        if (params.topK() > 0) {
            neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_top_k(params.topK()));
        }
        if (params.topP() < 1.0f) {
            neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_top_p(params.topP(), 1));
        }
        if (params.minP() > 0.0f) {
            neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_min_p(params.minP(), 1));
        }
        neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_temp(params.temperature()));
        neuronscope_h.llama_sampler_chain_add(chain, neuronscope_h.llama_sampler_init_dist((int) params.seed()));
    }

    public static Sampler greedy() {
        return new Sampler(SamplerParams.GREEDY, 0);
    }

    /** A sampler for {@code model}'s vocabulary. */
    public static Sampler create(Model model, SamplerParams params) {
        if (params == null || model == null) {
            throw new IllegalArgumentException("model and params must not be null");
        }
        return new Sampler(params, model.vocabularySize());
    }

    public SamplerParams params() {
        return params;
    }

    /** Picks the next token from the logits of batch entry {@code batchIndex} of the session's last decode. */
    public int sample(Session session, int batchIndex) {
        // a sampler chain has state (the random stream, penalties): one thread at a time; a close waits.
        // The index is checked under the same use of the session as the sampling, so no decode comes between.
        return handle.exclusive("sample", smpl -> NativeHandle.of(session).shared(ctx -> {
            session.logits(batchIndex); // validates the index: llama.cpp would abort on a bad one
            return neuronscope_h.llama_sampler_sample(smpl, ctx, batchIndex);
        }));
    }

    /** Tells stateful samplers (penalties) that a token was chosen. {@link #sample} does this already. */
    public void accept(int token) {
        if (token < 0) {
            throw new IllegalArgumentException("token " + token + " is negative");
        }
        handle.exclusive("accept a token", smpl -> {
            neuronscope_h.llama_sampler_accept(smpl, token);
            return null;
        });
    }

    /** Forgets accepted tokens (and restarts the random stream). */
    public void reset() {
        handle.exclusive("reset", smpl -> {
            neuronscope_h.llama_sampler_reset(smpl);
            return null;
        });
    }

    @Override
    public void close() {
        handle.close();
    }

    /**
     * Sampling parameters. {@code greedy} ignores the others.
     *
     * @param seed the random seed (same seed, same tokens)
     */
    public record SamplerParams(boolean greedy, int topK, float topP, float minP, float temperature, float repeatPenalty, long seed) {
        public static final SamplerParams GREEDY = new SamplerParams(true, 0, 1.0f, 0.0f, 0.0f, 1.0f, 0);

        public SamplerParams {
            if (topK < 0 || topP <= 0 || topP > 1 || minP < 0 || minP >= 1 || temperature < 0 || repeatPenalty <= 0) {
                throw new IllegalArgumentException("bad sampler parameters: topK >= 0, 0 < topP <= 1, 0 <= minP < 1, temperature >= 0, repeatPenalty > 0");
            }
            if (seed < 0 || seed > 0xFFFFFFFFL) {
                throw new IllegalArgumentException("seed must fit in 32 unsigned bits, got " + seed);
            }
        }

        /** Temperature sampling with top-k 40, top-p 0.95, min-p 0.05. */
        public static SamplerParams random(float temperature, long seed) {
            return new SamplerParams(false, 40, 0.95f, 0.05f, temperature, 1.0f, seed);
        }
    }
}
