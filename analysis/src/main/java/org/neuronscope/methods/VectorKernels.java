package org.neuronscope.methods;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the methods' kernels may use the Vector API. It is an incubator module in every JDK this
 * library supports, so it is only there when the JVM is started with {@code --add-modules
 * jdk.incubator.vector} (the build, the benchmarks and the {@code neuronscope} launcher do so). Without
 * it, or with vectors narrower than four doubles (where the scalar code is as fast), the scalar kernels
 * run; {@code -Dneuronscope.vector=false} forces them. Both give the same results.
 */
final class VectorKernels {
    private static final Logger LOG = LoggerFactory.getLogger(VectorKernels.class);

    /** Decided once, at first use. */
    static final boolean ENABLED = decide();

    private VectorKernels() {
    }

    private static boolean decide() {
        if (!Boolean.parseBoolean(System.getProperty("neuronscope.vector", "true"))) {
            LOG.debug("vector kernels disabled by -Dneuronscope.vector=false");
            return false;
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            // the one case a user can fix, and worth fixing (the vector kernels are 1.2-2x faster): said once, at WARN
            LOG.warn("NeuronScope's selection kernels run scalar: start the JVM with --add-modules=jdk.incubator.vector "
                    + "to enable the vector ones (-Dneuronscope.vector=false silences this)");
            return false;
        }
        try {
            int lanes = EntropyVectorPass.lanes();
            LOG.debug("vector kernels: {} double lanes{}", lanes, lanes >= 4 ? "" : " (too narrow to pay off: scalar kernels)");
            return lanes >= 4;
        } catch (LinkageError e) {
            LOG.warn("NeuronScope's vector kernels are unavailable ({}); the scalar ones run instead", e.toString());
            return false;
        }
    }
}
