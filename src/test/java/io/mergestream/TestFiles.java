package io.mergestream;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Directory helpers for the output-safety tests: what a tree holds, committed models to copy, a dead process. */
public final class TestFiles {

    private TestFiles() {}

    /** The names in {@code dir}, sorted (hidden ones too). */
    public static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * Every path under {@code root} with its content (a directory as "dir", a link as its target), to show that a
     * tree was left exactly as it was.
     */
    public static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String rel = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) m.put(rel, "-> " + Files.readSymbolicLink(p));
                else if (Files.isDirectory(p)) m.put(rel, "dir");
                else m.put(rel, new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1));
            }
        }
        return m;
    }

    /** Copies a committed model ({@code testdata/tiny-llama/base}, say) to {@code to}, so a test may write near it. */
    public static Path copyModel(String committed, Path to) throws IOException {
        Path from = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve(committed);
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) Files.copy(p, to.resolve(p.getFileName()));
        }
        return to;
    }

    /** A process id that is certainly not running: a finished child's. */
    public static long deadPid() throws IOException {
        Process p = new ProcessBuilder("true").start();
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        assertFalse(ProcessHandle.of(p.pid()).map(ProcessHandle::isAlive).orElse(false));
        return p.pid();
    }

    /**
     * The class path for a child JVM that runs mergestream (and the test probes) on the class path, as the
     * launcher's shaded jar does: the main classes, the tests and every dependency. Under surefire the parent runs
     * on the module path (main classes and their dependencies in {@code jdk.module.path}, the tests patched into the
     * module), so {@code java.class.path} alone lacks them.
     */
    public static String childClassPath() {
        java.util.Set<String> parts = new java.util.LinkedHashSet<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            String value = System.getProperty(property, "");
            for (String part : value.split(java.io.File.pathSeparator)) {
                if (!part.isEmpty()) parts.add(part);
            }
        }
        for (Class<?> c : List.of(MergestreamException.class, TestFiles.class)) {
            try {
                parts.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
            } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        return String.join(java.io.File.pathSeparator, parts);
    }
}
