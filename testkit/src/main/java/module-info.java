/**
 * Synthetic and planted GGUF models (real tokenizers, random or planted weights), synthetic
 * projectors and media: what the tests, the benchmarks and the demo run on. Not part of the library.
 */
module org.neuronscope.testkit {
    requires transitive org.neuronscope.analysis;
    requires org.junit.jupiter.api;
    requires org.slf4j;
    requires java.desktop;

    exports org.neuronscope.testkit;
}
