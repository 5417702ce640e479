/**
 * The analysis half of NeuronScope, in pure Java: neuron statistics as values and their files,
 * neuron sets, the methods' scoring and selection (LAPE/MMNeuron entropy, MINER, MANU), evaluation
 * metrics and datasets, and GGUF reading, validation and writing. No native code: everything here
 * works on saved statistics alone.
 */
module org.neuronscope.analysis {
    requires org.slf4j;
    requires com.fasterxml.jackson.databind;
    // LIBLINEAR's Java port for the probes; its jar names no module, so the name comes from the file name.
    requires liblinear;
    // Apache OpenNLP's maximum-entropy trainer (L-BFGS) for the multinomial probe (an automatic module).
    requires org.apache.opennlp.tools;
    // The methods' vector kernels; absent unless the JVM runs with --add-modules=jdk.incubator.vector.
    requires static jdk.incubator.vector;

    exports org.neuronscope;
    exports org.neuronscope.eval;
    exports org.neuronscope.gguf;
    exports org.neuronscope.methods;
    exports org.neuronscope.probe;
    exports org.neuronscope.stats;
}
