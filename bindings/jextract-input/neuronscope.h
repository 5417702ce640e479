// The C API NeuronScope binds: llama.cpp, its neuron-hook extension (the project's patch),
// multimodal (mtmd) and the few ggml backend-registry calls the runtime needs.
#include "ggml-backend.h"
#include "llama.h"
#include "llama-neuron-hooks.h"
#include "mtmd.h"
#include "mtmd-helper.h"
#include "mtmd-neuron-hooks.h"
