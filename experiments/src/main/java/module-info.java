/** Experiments over datasets (statistics, MINER collection, ablation) with checkpoints and reports. */
module org.neuronscope.experiments {
    requires transitive org.neuronscope.runtime;
    requires org.slf4j;
    requires com.fasterxml.jackson.databind;
    requires java.desktop;
    // ModelOptions is a picocli mixin of the command line and the Spark entry points; the library needs no picocli
    requires static info.picocli;

    exports org.neuronscope.experiments;
    opens org.neuronscope.experiments to info.picocli;
}
