package org.neuronscope.internal;

import org.neuronscope.NeuronScopeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Finds, extracts and loads llama.cpp's shared libraries, once per JVM.
 *
 * <p>Where they come from, first match wins:
 * <ol>
 *   <li>the directory named by the system property {@value #DIR_PROPERTY} (libraries as built);</li>
 *   <li>the class path: the jar {@code neuronscope-native-<version>-cuda-linux-x86_64.jar} (GPU) and
 *       {@code neuronscope-native-<version>-linux-x86_64.jar} (CPU), each listing its libraries with
 *       their SHA-256 in {@code org/neuronscope/native/<platform>/.libraries}. They are extracted once
 *       into a private cache directory keyed by those hashes ({@value #CACHE_PROPERTY}, default
 *       {@code ~/.cache/neuronscope/natives}), the GPU jar's next to the CPU jar's.</li>
 * </ol>
 * The core libraries are loaded by their real file names in dependency order; ggml's backend
 * registry then loads the backends (CUDA if present and usable, and the best CPU variant for this
 * processor) from {@link #backendDirectory}, so every library is seen exactly once. Without a usable
 * GPU, the CUDA backend fails to load and the CPU backend serves alone.
 *
 * <p>The CPU variant with AMX kernels ({@code sapphirerapids}) is left out unless
 * {@code -D}{@value #AMX_PROPERTY}{@code =true}: on a virtual machine whose processor reports AMX
 * (seen on this project's 2-core build machine, a Sapphire Rapids guest), llama.cpp's AMX matrix
 * kernels die with SIGILL on their first tile instruction, in any process (a plain C program too),
 * so without this every Q8_0 or Q4 model would crash the JVM there. The next best variant (AVX-512
 * with VNNI and BF16) serves such processors instead.
 */
public final class NativeLibraries {
    public static final String DIR_PROPERTY = "neuronscope.native.dir";
    public static final String CACHE_PROPERTY = "neuronscope.native.cache";
    public static final String AMX_PROPERTY = "neuronscope.cpu.amx";
    /** CPU variants whose kernels use AMX tiles (ggml's GGML_CPU_ALL_VARIANTS list). */
    static final List<String> AMX_VARIANTS = List.of("libggml-cpu-sapphirerapids.so");

    private static final Logger LOG = LoggerFactory.getLogger(NativeLibraries.class);
    private static final String RESOURCE_ROOT = "org/neuronscope/native/";
    private static final String INDEX = ".libraries";
    /** The libraries the bindings call into, in dependency order (prefixes of their SONAMEs). */
    private static final List<String> CORE_LIBRARIES = List.of("libggml-base.so", "libggml.so", "libllama.so", "libmtmd.so");

    private static Path loadedFrom;

    private NativeLibraries() {
    }

    /** The platform classifier of this JVM, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String osName = os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.contains("win") ? "windows" : os;
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osName + "-" + archName;
    }

    /**
     * Loads the core libraries (idempotent) and returns the directory they were loaded from, which
     * also holds the ggml backends. Callers then initialise ggml's backend registry from it.
     */
    public static synchronized Path load() {
        if (loadedFrom != null) {
            return loadedFrom;
        }
        Path dir = locate();
        for (String prefix : CORE_LIBRARIES) {
            Path lib = findLibrary(dir, prefix);
            LOG.debug("loading {}", lib);
            try {
                System.load(lib.toString());
            } catch (UnsatisfiedLinkError e) {
                throw new NeuronScopeException("cannot load native library " + lib + ": " + e.getMessage(), e);
            }
        }
        loadedFrom = dir;
        LOG.info("native libraries loaded from {}", dir);
        return dir;
    }

    /**
     * The directory ggml's registry should load the backends from: the libraries' directory, or, when
     * it holds an AMX variant that is not allowed ({@value #AMX_PROPERTY}), a {@code backends}
     * directory in the extraction cache with links to every backend but that one (a directory given
     * with {@value #DIR_PROPERTY} is never written to). Call after {@link #load}.
     */
    public static synchronized Path backendDirectory() {
        return backendDirectory(load(), Boolean.getBoolean(AMX_PROPERTY));
    }

    static Path backendDirectory(Path dir, boolean allowAmx) {
        List<Path> backends = new ArrayList<>();
        boolean hasAmx = false;
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (name.startsWith("libggml-") && !name.startsWith("libggml-base.") && Files.isRegularFile(p)) {
                    boolean amx = AMX_VARIANTS.contains(name);
                    hasAmx |= amx;
                    if (!amx) {
                        backends.add(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new NeuronScopeException("cannot list " + dir, e);
        }
        if (allowAmx || !hasAmx) {
            return dir;
        }
        Path root = cacheRoot();
        Path out = dir.startsWith(root) ? dir.resolve("backends")
                : root.resolve("backends-" + sha256(dir.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8)).substring(0, 16));
        try {
            Files.createDirectories(out);
            for (Path lib : backends) {
                Path link = out.resolve(lib.getFileName());
                if (!Files.exists(link)) {
                    linkOrCopy(lib, link);
                }
            }
        } catch (IOException e) {
            throw new NeuronScopeException("cannot prepare the backend directory " + out + ": " + e.getMessage(), e);
        }
        LOG.debug("CPU variants with AMX left out (-D{}=true allows them); backends from {}", AMX_PROPERTY, out);
        return out;
    }

    /** A hard link (or, across file systems, a copy) written beside and moved: never half there. */
    private static void linkOrCopy(Path lib, Path link) throws IOException {
        Path tmp = link.resolveSibling(link.getFileName() + "." + ProcessHandle.current().pid() + ".part");
        Files.deleteIfExists(tmp);
        try {
            Files.createLink(tmp, lib);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(lib, tmp);
        }
        try {
            Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static Path locate() {
        String explicit = System.getProperty(DIR_PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            Path dir = Path.of(explicit);
            if (!Files.isDirectory(dir)) {
                throw new NeuronScopeException("-D" + DIR_PROPERTY + "=" + explicit + " is not a directory");
            }
            return dir;
        }
        String platform = platform();
        Map<String, String> cpu = readIndex(platform);
        if (cpu == null) {
            throw new NeuronScopeException("no native libraries for " + platform + " on the class path: add the dependency "
                    + "org.neuronscope:neuronscope-native:<version>:" + platform + " (or set -D" + DIR_PROPERTY + ")");
        }
        Map<String, String> gpu = readIndex("cuda-" + platform);
        Map<String, Map<String, String>> sources = new LinkedHashMap<>();
        sources.put(platform, cpu);
        if (gpu != null) {
            sources.put("cuda-" + platform, gpu);
        }
        return extract(sources);
    }

    /** Reads {@code .libraries} ("sha256  name" per line) of one platform directory, or null. */
    private static Map<String, String> readIndex(String platformDir) {
        try (InputStream in = resource(platformDir + "/" + INDEX)) {
            if (in == null) {
                return null;
            }
            Map<String, String> index = new LinkedHashMap<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] parts = line.trim().split("\\s+", 2);
                if (parts.length == 2) {
                    index.put(parts[1].replace("*", ""), parts[0]);
                }
            }
            return index;
        } catch (IOException e) {
            throw new NeuronScopeException("cannot read the native library index of " + platformDir, e);
        }
    }

    private static InputStream resource(String path) {
        return NativeLibraries.class.getClassLoader().getResourceAsStream(RESOURCE_ROOT + path);
    }

    private static Path extract(Map<String, Map<String, String>> sources) {
        StringBuilder identity = new StringBuilder();
        sources.forEach((dir, index) -> index.forEach((name, hash) -> identity.append(dir).append('/').append(name).append('=').append(hash).append('\n')));
        String key = sha256(identity.toString().getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        Path dir = cacheRoot().resolve(key);
        try {
            Files.createDirectories(dir);
            for (var source : sources.entrySet()) {
                for (var lib : source.getValue().entrySet()) {
                    Path target = dir.resolve(lib.getKey());
                    if (Files.isRegularFile(target) && Files.size(target) > 0) {
                        continue; // extracted by an earlier run; the directory name pins the content
                    }
                    extractOne(source.getKey() + "/" + lib.getKey(), lib.getValue(), target);
                }
            }
        } catch (IOException e) {
            throw new NeuronScopeException("cannot extract native libraries into " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }

    private static Path cacheRoot() {
        return Path.of(System.getProperty(CACHE_PROPERTY, Path.of(System.getProperty("user.home"), ".cache", "neuronscope", "natives").toString()));
    }

    private static void extractOne(String resourcePath, String expectedSha256, Path target) throws IOException {
        byte[] bytes;
        try (InputStream in = resource(resourcePath)) {
            if (in == null) {
                throw new NeuronScopeException("native library index names " + resourcePath + ", which is not on the class path");
            }
            bytes = in.readAllBytes();
        }
        String actual = sha256(bytes);
        if (!actual.equals(expectedSha256)) {
            throw new NeuronScopeException("native library " + resourcePath + " is corrupt: SHA-256 " + actual + ", expected " + expectedSha256);
        }
        // write beside, then move: a concurrent JVM never sees a half-written library
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
        Files.write(tmp, bytes);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        LOG.debug("extracted {} to {}", resourcePath, target);
    }

    private static Path findLibrary(Path dir, String prefix) {
        List<Path> matches = new ArrayList<>();
        try (var files = Files.list(dir)) {
            files.filter(p -> {
                String name = p.getFileName().toString();
                return name.equals(prefix) || name.startsWith(prefix + ".");
            }).forEach(matches::add);
        } catch (IOException e) {
            throw new NeuronScopeException("cannot list " + dir, e);
        }
        if (matches.isEmpty()) {
            throw new NeuronScopeException("native library " + prefix + " not found in " + dir);
        }
        // the SONAME (shortest name) is what the other libraries' DT_NEEDED entries ask for
        matches.sort((a, b) -> Integer.compare(a.getFileName().toString().length(), b.getFileName().toString().length()));
        return matches.getFirst();
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
