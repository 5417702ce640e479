package org.neuronscope.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The partition files' commit and clean-up, and the ranges, without Spark. */
class PartitionsTest {
    @Test
    void aCommitRemovesWhatKilledAttemptsLeftAndKeepsTheFirstCommittedFile(@TempDir Path out) throws Exception {
        Files.createDirectories(Partitions.dir(out));
        Path target = Partitions.of(out, 1);
        Path killedDir = Partitions.attemptPath(target, 11); // a statistics attempt: a directory
        Files.createDirectories(killedDir);
        Files.write(killedDir.resolve("half-written"), new byte[10]);
        Path killedFile = Partitions.attemptPath(target, 12);
        Files.write(killedFile, new byte[3]);
        Path otherPartition = Partitions.attemptPath(Partitions.of(out, 2), 13);
        Files.write(otherPartition, new byte[1]);

        Partitions.commit(target, 20, tmp -> Files.write(tmp, new byte[] {1, 2}));
        assertArrayEquals(new byte[] {1, 2}, Files.readAllBytes(target));
        assertFalse(Files.exists(killedDir));
        assertFalse(Files.exists(killedFile));
        assertTrue(Files.exists(otherPartition), "another partition's attempt may still be running");
        // a later attempt of a committed partition leaves the committed file and its own nothing behind
        Partitions.commit(target, 21, tmp -> Files.write(tmp, new byte[] {9}));
        assertArrayEquals(new byte[] {1, 2}, Files.readAllBytes(target));
        assertFalse(Files.exists(Partitions.attemptPath(target, 21)));
        // a directory partition: the second commit finds it written and removes its own copy
        Path dirTarget = Partitions.of(out, 3);
        Partitions.commit(dirTarget, 30, tmp -> Files.write(Files.createDirectories(tmp).resolve("f"), new byte[] {5}));
        Partitions.commit(dirTarget, 31, tmp -> Files.write(Files.createDirectories(tmp).resolve("f"), new byte[] {6}));
        assertArrayEquals(new byte[] {5}, Files.readAllBytes(dirTarget.resolve("f")));
        assertFalse(Files.exists(Partitions.attemptPath(dirTarget, 31)));
        // at job start every attempt left goes
        assertEquals(1, Partitions.removeAllAttempts(out));
        assertFalse(Files.exists(otherPartition));
        // a failed write leaves nothing
        assertThrows(java.io.IOException.class, () -> Partitions.commit(Partitions.of(out, 4), 40, tmp -> {
            Files.write(tmp, new byte[1]);
            throw new java.io.IOException("disk full");
        }));
        try (var s = Files.list(Partitions.dir(out))) {
            assertEquals(List.of("part-00001", "part-00003"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void rangesCoverTheSamplesInOrderAndCutAtUnits() {
        for (int unit : new int[] {1, 2, 3}) {
            for (int n = 1; n <= 23; n++) {
                int maxParts = (n + unit - 1) / unit;
                for (int parts = 1; parts <= Math.min(maxParts, 7); parts++) {
                    Partitions.Ranges r = new Partitions.Ranges(parts, n, unit);
                    List<Integer> of = new ArrayList<>();
                    for (long i = 0; i < n; i++) {
                        of.add(r.getPartition(i));
                    }
                    assertEquals(0L, r.start(0));
                    assertEquals(n, r.start(parts));
                    for (int p = 0; p < parts; p++) {
                        assertTrue(r.start(p + 1) > r.start(p), "empty partition " + p + " of " + n + "/" + parts + "/" + unit);
                        assertTrue(p == 0 || r.start(p) % unit == 0);
                        for (long i = r.start(p); i < r.start(p + 1); i++) {
                            assertEquals(p, of.get((int) i));
                        }
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new Partitions.Ranges(5, 7, 2)); // 4 units of 2 for 5 partitions
    }
}
