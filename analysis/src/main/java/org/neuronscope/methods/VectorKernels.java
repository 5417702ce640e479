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
            LOG.debug("jdk.incubator.vector is not in the boot layer (--add-modules jdk.incubator.vector): scalar kernels");
            return false;
        }
        try {
            int lanes = EntropyVectorPass.lanes();
            LOG.debug("vector kernels: {} double lanes", lanes);
            return lanes >= 4;
        } catch (LinkageError e) {
            LOG.debug("vector kernels unavailable: {}", e.toString());
            return false;
        }
    }
}
