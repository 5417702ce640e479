package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The model-hash cache: the SHA-256 of the file, taken from the cache while size and modification time stay. */
class RunFingerprintCacheTest {
    @Test
    void hashIsTheFilesAndIsKeptWhileSizeAndTimeStay(@TempDir Path dir) throws Exception {
        String before = System.getProperty(RunFingerprint.HASH_CACHE_PROPERTY);
        System.setProperty(RunFingerprint.HASH_CACHE_PROPERTY, dir.resolve("cache").toString());
        try {
            Path f = dir.resolve("model.gguf");
            Files.write(f, new byte[] {1, 2, 3, 4});
            FileTime t = FileTime.fromMillis(1_700_000_000_000L);
            Files.setLastModifiedTime(f, t);
            String direct = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
            assertEquals(direct, RunFingerprint.fileHash(f));
            // same size and time, other bytes: the cached hash (the trust a resume places in size and time)
            Files.write(f, new byte[] {9, 9, 9, 9});
            Files.setLastModifiedTime(f, t);
            assertEquals(direct, RunFingerprint.fileHash(f));
            // a new modification time: hashed again
            Files.setLastModifiedTime(f, FileTime.fromMillis(1_700_000_060_000L));
            String now = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(new byte[] {9, 9, 9, 9}));
            assertEquals(now, RunFingerprint.fileHash(f));
            assertNotEquals(direct, now);
        } finally {
            if (before == null) {
                System.clearProperty(RunFingerprint.HASH_CACHE_PROPERTY);
            } else {
                System.setProperty(RunFingerprint.HASH_CACHE_PROPERTY, before);
            }
        }
    }
}
