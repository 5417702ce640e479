/** jextract's output for llama.h, mtmd.h, mtmd-helper.h and the neuron hooks' C API (generated, committed). */
module org.neuronscope.bindings {
    exports org.neuronscope.bindings to org.neuronscope.runtime;
}
