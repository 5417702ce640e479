package org.neuronscope.spark;

/** What every Spark job of this module checks first. */
public final class SparkSupport {
    /** The oldest Java that Spark 4.2 runs on among Java 25 releases. */
    public static final Runtime.Version MINIMUM = Runtime.Version.parse("25.0.3");

    private SparkSupport() {
    }

    /** Throws, saying what to install, when this JVM is older than {@link #MINIMUM}. */
    public static void checkJdk() {
        checkJdk(Runtime.version());
    }

    static void checkJdk(Runtime.Version v) {
        if (v.compareToIgnoreOptional(MINIMUM) < 0) {
            throw new IllegalStateException("NeuronScope on Spark needs Java " + MINIMUM + " or newer (Spark 4.2 runs on Java 25 from 25.0.3); this JVM is "
                    + v + " (" + System.getProperty("java.home") + "): point JAVA_HOME of the driver and of every executor "
                    + "(spark.executorEnv.JAVA_HOME) at a newer JDK");
        }
    }
}
