package org.neuronscope.spark;

import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Spark's {@code local-cluster[N,1,1024]} master from the test class path: a standalone master and N
 * workers inside this JVM, each worker starting one executor process. Spark's launcher wants a
 * SPARK_HOME: a stand-in with an empty {@code jars/} and the {@code launcher/target/scala-2.13}
 * directory it reads the Scala version from, given as {@code spark.test.home} (which the local
 * cluster's workers read only under {@code spark.testing}); the executors get the test's class path as
 * {@code spark.executor.extraClassPath} and the project's JVM flags.
 */
final class LocalCluster {
    private LocalCluster() {
    }

    static SparkSession start(Path home, int executors, String name) throws IOException {
        Files.createDirectories(home.resolve("jars"));
        Files.createDirectories(home.resolve("launcher/target/scala-2.13"));
        System.setProperty("spark.testing", "true");
        System.setProperty("spark.test.home", home.toString());
        return SparkSession.builder().master("local-cluster[" + executors + ",1,1024]").appName(name)
                .config("spark.ui.enabled", "false")
                .config("spark.executor.extraClassPath", absoluteClassPath())
                .config("spark.executor.extraJavaOptions", System.getProperty("neuronscope.spark.test.jvm.args", ""))
                .config("spark.executorEnv.SPARK_SCALA_VERSION", "2.13")
                .getOrCreate();
    }

    /** This JVM's class path with absolute entries (the executors start in their own work directories). */
    private static String absoluteClassPath() {
        return java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(e -> Path.of(e).toAbsolutePath().toString()).collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }

    static void clear() {
        System.clearProperty("spark.test.home");
        System.clearProperty("spark.testing");
    }
}
