package org.neuronscope.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An output directory that cannot be written is a one-line {@code error:} at the start of the
 * command (before any model is loaded or sample decoded), never a stack trace at the first checkpoint.
 */
class OutputDirectoryTest {
    @TempDir
    Path dir;

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = NeuronScopeCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    private static void assertOneLineError(String[] r, String... parts) {
        assertEquals("2", r[0], r[2]);
        String err = r[2].strip();
        assertTrue(err.startsWith("error: "), err);
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertFalse(err.contains("\tat "), "no stack trace: " + err);
        for (String p : parts) {
            assertTrue(err.contains(p), p + " in " + err);
        }
    }

    @Test
    void unwritableOutputsAreOneLineErrorsAtTheStart() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Path missingModel = dir.resolve("never-read.gguf");
        Path missingData = dir.resolve("never-read.jsonl");
        // --out under a regular file: the directory cannot exist
        assertOneLineError(run("stats", "--model", missingModel.toString(), "--dataset", missingData.toString(), "--out",
                file.resolve("out").toString()), "--out", "a-file");
        // a device where no directory can be made (the kernel's "full" device)
        assertOneLineError(run("stats", "--model", missingModel.toString(), "--dataset", missingData.toString(), "--out",
                "/dev/full/out"), "--out", "/dev/full");
        assertOneLineError(run("ablate", "--model", missingModel.toString(), "--dataset", missingData.toString(), "--set",
                dir.resolve("s.json").toString(), "--out", file.resolve("out").toString()), "--out");
    }

    @Test
    void aFullDiskIsDescribedByTheSystemsReason() {
        // writing to /dev/full fails as a full disk does (ENOSPC)
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> Files.write(Path.of("/dev/full"), new byte[8192]));
        String line = CliSupport.describe(e);
        assertTrue(line.contains("No space left on device") || line.contains("/dev/full"), line);
        assertEquals(1, line.lines().count());
    }
}
