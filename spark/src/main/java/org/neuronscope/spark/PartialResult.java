package org.neuronscope.spark;

import java.io.Serializable;

/**
 * One partition's result as a task returns it to the driver: the partition file's bytes (the
 * exact partial, in the job's binary form) and where it came from.
 *
 * @param partition  the partition
 * @param samples    its samples
 * @param reused     whether the task read a file an earlier attempt or run had written instead of decoding
 * @param pid        the process id of the executor JVM that returned it
 * @param loadsInJvm how many models that JVM had loaded when it returned it (1: every task reused the first)
 * @param bytes      the partition file's contents
 */
public record PartialResult(int partition, int samples, boolean reused, long pid, int loadsInJvm, byte[] bytes) implements Serializable {
    static PartialResult of(int partition, int samples, boolean reused, byte[] bytes) {
        return new PartialResult(partition, samples, reused, ProcessHandle.current().pid(), Workbenches.loads(), bytes);
    }
}
