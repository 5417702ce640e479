package org.neuronscope.media;

import org.junit.jupiter.api.Test;
import org.neuronscope.testkit.ChildJvm;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fuzz campaign ({@link FuzzMain}) in a child JVM, so that an input that kills the JVM fails
 * this test instead of the build, with the input saved under {@code target/fuzz-crash/}. Seeded and
 * bounded: {@code -Dneuronscope.fuzz.seed=N} (default 20261203), {@code -Dneuronscope.fuzz.seconds=S}
 * (default 40; the run before a release uses 1800, see docs/RELIABILITY.md).
 */
class FuzzTest {
    @Test
    void noInputKillsOrHangsTheJvm() throws Exception {
        long seed = Long.getLong("neuronscope.fuzz.seed", 20261203L);
        double seconds = Double.parseDouble(System.getProperty("neuronscope.fuzz.seconds", "40"));
        Path work = Path.of("target", "fuzz-work-" + seed).toAbsolutePath();
        // the budget plus model loading; past it the child counts as hung
        ChildJvm.Result r = ChildJvm.run(FuzzMain.class, (long) seconds + 120, Long.toString(seed), Double.toString(seconds), work.toString());
        String summary = r.output().lines().filter(l -> l.startsWith("FUZZ ")).findFirst().orElse("");
        LoggerFactory.getLogger(FuzzTest.class).info("seed {}: {}", seed, summary);
        if (r.crashed() || r.exitStatus() != 0) {
            Path saved = Files.createDirectories(Path.of("target", "fuzz-crash").toAbsolutePath());
            String input = Files.exists(work.resolve("current.txt")) ? Files.readString(work.resolve("current.txt")).strip() : "(unknown)";
            try (Stream<Path> files = Files.list(work)) {
                for (Path f : files.filter(p -> p.getFileName().toString().startsWith("current")).toList()) {
                    if (Files.isRegularFile(f)) {
                        Files.copy(f, saved.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            fail("the fuzzer's JVM " + (r.timedOut() ? "hung" : "died with exit status " + r.exitStatus()) + " (seed " + seed + ") on the input: "
                    + input + " — saved under " + saved + "\n" + tail(r.output()));
        }
        assertTrue(summary.contains(" unexpected=0"), summary + "\n" + tail(r.output()));
        assertTrue(summary.matches("FUZZ tried=\\d{2,}.*"), "the campaign ran: " + summary);
    }

    private static String tail(String s) {
        return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
    }
}
