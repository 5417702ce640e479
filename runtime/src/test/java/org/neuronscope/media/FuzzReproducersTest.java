package org.neuronscope.media;

import org.junit.jupiter.api.Test;
import org.neuronscope.testkit.ChildJvm;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The inputs the fuzz campaigns found killing the JVM, replayed in a child JVM: each must now be a refusal. */
class FuzzReproducersTest {
    @Test
    void audioOfOneSampleIsRefusedNotAborted() throws Exception {
        ChildJvm.Result r = ChildJvm.run(AudioProbe.class, 180, Path.of("target", "audio-probe").toAbsolutePath().toString());
        assertEquals(0, r.exitStatus(), "the child JVM survived:\n" + r.output());
        assertTrue(r.output().contains("REFUSED audio (1 samples)"), r.output());
        assertTrue(r.output().contains("REFUSED audio file") && r.output().contains("three-data-bytes.wav"), r.output());
        assertTrue(r.output().lines().anyMatch(l -> l.startsWith("ACCEPTED audio (2 samples)") || l.startsWith("REFUSED audio (2 samples)")),
                "two samples end in a result, not an abort: " + r.output());
    }
}
