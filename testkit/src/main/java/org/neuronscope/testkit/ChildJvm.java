package org.neuronscope.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a main class in a child JVM with this JVM's java and class path, so that a test can observe
 * what would end a process (an abort in native code, a segmentation fault, a hang) without ending
 * itself. Core dumps are switched off for the child; the {@code neuronscope.*} system properties carry over.
 */
public final class ChildJvm {
    /** The exit status of a process ended by SIGABRT (128 + 6), as a shell reports it. */
    public static final int SIGABRT_STATUS = 134;

    private ChildJvm() {
    }

    /** How the child ended: its exit status (-1 when it was killed for running past the limit) and its output. */
    public record Result(int exitStatus, boolean timedOut, String output) {
        /** Ended by a signal (SIGABRT, SIGSEGV...) or killed after the limit, rather than by a Java exit. */
        public boolean crashed() {
            return timedOut || exitStatus > 128;
        }
    }

    /** Runs {@code mainClass} with {@code args}, killing it after {@code timeoutSeconds}. */
    public static Result run(Class<?> mainClass, long timeoutSeconds, String... args) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Xmx512m");
        cmd.add("-XX:-CreateCoredumpOnCrash");
        // the project's settings (where the llama.cpp tree and the fixtures are) carry over
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith("neuronscope.")) {
                cmd.add("-D" + key + "=" + System.getProperty(key));
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        StringBuilder line = new StringBuilder("ulimit -c 0; exec");
        for (String c : cmd) {
            line.append(" '").append(c.replace("'", "'\\''")).append('\'');
        }
        Path log = Files.createTempFile("child-jvm", ".log");
        try {
            Process p = new ProcessBuilder("bash", "-c", line.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly().waitFor();
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            return new Result(done ? p.exitValue() : -1, !done, out);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
