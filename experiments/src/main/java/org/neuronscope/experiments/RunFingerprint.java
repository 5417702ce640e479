package org.neuronscope.experiments;

import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a checkpoint was computed from, as content hashes (SHA-256): the dataset (its file's bytes, or
 * its samples when it has no file, and every media file its samples name), the model files (model
 * and projector) and the run's parameters. A resume compares them all and refuses any change,
 * saying what changed. (Comparing path and sample count alone let a dataset edited in place between
 * a kill and the resume mix two versions.)
 *
 * <p>A model file's hash is recomputed only when its size or modification time differ from what the
 * checkpoint recorded: hashing gigabytes on every resume would cost more than the work resumed. A
 * fresh run takes it from a per-user cache keyed by path, size and modification time
 * ({@link #fileHash}), so that a 1 GB model is not read and hashed at every start (about 2 s here).
 */
final class RunFingerprint {
    static final String DATASET = "fingerprint.dataset";
    static final String MODEL = "fingerprint.model";
    static final String PARAMS = "fingerprint.params";
    /** size:mtime of the model files when {@link #MODEL} was computed. */
    static final String MODEL_STAMP = "fingerprint.model_stamp";

    private RunFingerprint() {
    }

    /**
     * The fingerprint of this run. The model files are hashed unless {@code recorded} (a checkpoint's
     * metadata, or null) holds a hash taken when they had the same size and modification time.
     */
    static Map<String, String> of(Dataset data, Workbench.Setup setup, String params, Map<String, String> recorded) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(DATASET, datasetHash(data));
        String stamp = stamp(setup);
        m.put(MODEL_STAMP, stamp);
        boolean unchanged = recorded != null && stamp.equals(recorded.get(MODEL_STAMP)) && recorded.containsKey(MODEL);
        m.put(MODEL, unchanged ? recorded.get(MODEL) : modelHash(setup));
        m.put(PARAMS, sha256(params.getBytes(StandardCharsets.UTF_8)));
        return m;
    }

    /**
     * Throws if {@code recorded} (a checkpoint's metadata) was computed from anything else than
     * {@code current}, naming what changed. A checkpoint without fingerprints (written by an older
     * version) is left to the older checks.
     */
    static void check(Map<String, String> recorded, Map<String, String> current, Dataset data, Workbench.Setup setup, String params,
                      Path checkpoint) {
        if (!recorded.containsKey(DATASET)) {
            return;
        }
        String changed = null;
        if (!recorded.get(DATASET).equals(current.get(DATASET))) {
            changed = "the dataset " + (data.path() != null ? data.path() : data.name()) + " (or a media file it names) changed since";
        } else if (!current.get(PARAMS).equals(recorded.get(PARAMS))) {
            changed = "the parameters changed (now " + params + ") since";
        } else if (!current.get(MODEL).equals(recorded.get(MODEL))) {
            changed = "the model file " + setup.model().getFileName() + (setup.projector() != null ? " or projector " + setup.projector().getFileName() : "")
                    + " changed since";
        }
        if (changed != null) {
            throw new IllegalArgumentException("cannot resume " + checkpoint + ": " + changed
                    + " it was written; remove the checkpoint or use another output directory");
        }
    }

    static String datasetHash(Dataset data) {
        MessageDigest d = digest();
        if (data.path() != null) {
            update(d, data.path());
        } else {
            for (Sample s : data.samples()) {
                d.update(s.toString().getBytes(StandardCharsets.UTF_8));
                d.update((byte) '\n');
            }
        }
        for (Sample s : data.samples()) {
            for (var files : java.util.List.of(s.images(), s.audio(), s.video())) {
                for (Path f : files) {
                    d.update(f.toString().getBytes(StandardCharsets.UTF_8));
                    if (Files.isRegularFile(f)) {
                        update(d, f);
                    }
                }
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static String modelHash(Workbench.Setup setup) {
        String h = fileHash(setup.model());
        // one file: its hash; with a projector, the hash of both hashes
        return setup.projector() == null ? h : sha256((h + "," + fileHash(setup.projector())).getBytes(StandardCharsets.UTF_8));
    }

    /** Where a model file's hash is kept between runs ({@value #HASH_CACHE_PROPERTY}, default ~/.cache/neuronscope/fingerprints). */
    static final String HASH_CACHE_PROPERTY = "neuronscope.fingerprint.cache";

    /**
     * The SHA-256 of a model file, kept between runs under its absolute path with its size and
     * modification time: a model of gigabytes is read and hashed once, not at every start (the same
     * trust in size and modification time as a resume's). A cache that cannot be read or written is
     * left alone and the file hashed.
     */
    static String fileHash(Path f) {
        String stamp = stamp(f);
        Path cache = Path.of(System.getProperty(HASH_CACHE_PROPERTY,
                Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "fingerprints").toString()));
        Path entry = cache.resolve(sha256(f.toAbsolutePath().normalize().toString().getBytes(StandardCharsets.UTF_8)).substring(0, 32) + ".txt");
        try {
            if (Files.isRegularFile(entry)) {
                String[] kept = Files.readString(entry, StandardCharsets.UTF_8).trim().split(" ");
                if (kept.length == 2 && kept[0].equals(stamp) && kept[1].length() == 64) {
                    return kept[1];
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // unreadable: hash the file
        }
        MessageDigest d = digest();
        update(d, f);
        String hash = HexFormat.of().formatHex(d.digest());
        try {
            Files.createDirectories(cache);
            Path tmp = Files.createTempFile(cache, "entry", ".part");
            Files.writeString(tmp, stamp + " " + hash + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, entry, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UnsupportedOperationException e) {
            // a read-only home: the next run hashes again
        }
        return hash;
    }

    private static String stamp(Workbench.Setup setup) {
        return stamp(setup.model()) + (setup.projector() != null ? "," + stamp(setup.projector()) : "");
    }

    private static String stamp(Path f) {
        try {
            return Files.size(f) + ":" + Files.getLastModifiedTime(f).toMillis();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
        }
    }

    private static void update(MessageDigest d, Path f) {
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(f)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                d.update(buf, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
        }
    }

    private static String sha256(byte[] b) {
        return HexFormat.of().formatHex(digest().digest(b));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
