/** Experiments over datasets (statistics, MINER collection, ablation) with checkpoints and reports. */
module org.neuronscope.experiments {
    requires transitive org.neuronscope.runtime;
    requires org.slf4j;
    requires com.fasterxml.jackson.databind;
    requires java.desktop;

    exports org.neuronscope.experiments;
}
