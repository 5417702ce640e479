/**
 * The running model: llama.cpp models and sessions, the in-graph neuron hooks (reduce, intervene,
 * tap), multimodal input through mtmd, and the collectors that turn decodes into statistics.
 * {@code org.neuronscope.internal} (native loading, handles, the bindings' use) is not exported.
 */
module org.neuronscope.runtime {
    requires transitive org.neuronscope.analysis;
    requires org.neuronscope.bindings;
    requires org.slf4j;
    requires jdk.management; // physical memory size, to bound KV caches before allocating

    exports org.neuronscope.model;
    exports org.neuronscope.hooks;
    exports org.neuronscope.media;
    exports org.neuronscope.collect;
}
