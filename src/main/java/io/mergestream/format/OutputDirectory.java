package io.mergestream.format;

import io.mergestream.MergestreamException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * An output model directory that appears all at once. Everything is written into a hidden temporary
 * sibling ({@code .NAME.partial-PID}); {@link #commit()} syncs every file and renames the sibling into
 * place. A failed or interrupted run leaves no directory that looks like a finished model: the
 * temporary sibling is removed on failure and on Ctrl-C.
 */
public final class OutputDirectory implements AutoCloseable {

    private final Path target;
    private final Path staging;
    private final boolean replace;
    private final Thread cleanupOnExit;
    /** Guards the race between commit and an interrupt (Ctrl-C runs the hook while the merge goes on). */
    private final Object lock = new Object();
    private boolean committed;
    private boolean aborted;

    private OutputDirectory(Path target, Path staging, boolean replace) {
        this.target = target;
        this.staging = staging;
        this.replace = replace;
        this.cleanupOnExit = new Thread(this::abort, "mergestream-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupOnExit);
    }

    /**
     * Checks the target and creates the staging directory. Refuses a non-empty existing target unless
     * {@code force}, and a target that is, contains or lies inside one of {@code inputs}.
     */
    public static OutputDirectory prepare(Path target, boolean force, List<Path> inputs) {
        check(target, force, inputs);
        Path abs = target.toAbsolutePath().normalize();
        boolean exists = Files.exists(abs);
        Path parent = abs.getParent();
        Path staging = parent.resolve("." + abs.getFileName() + ".partial-" + ProcessHandle.current().pid());
        try {
            Files.createDirectories(parent);
            deleteTree(staging);
            Files.createDirectory(staging);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + staging + ": " + e.getMessage(), e);
        }
        return new OutputDirectory(abs, staging, exists);
    }

    /**
     * The rules {@link #prepare} enforces, without writing anything (a dry run calls this, so that it fails
     * exactly when the run would): the target is not, does not contain and does not lie inside an input; it is a
     * directory if it exists; it is empty unless {@code force}; and its parent can be created and written.
     */
    public static void check(Path target, boolean force, List<Path> inputs) {
        Path abs = target.toAbsolutePath().normalize();
        for (Path in : inputs) {
            Path input = realOrAbsolute(in);
            Path out = realOrAbsolute(abs);
            if (out.startsWith(input) || input.startsWith(out)) {
                throw new MergestreamException(target + ": the output must not be, contain or lie inside the input model " + in);
            }
        }
        boolean exists = Files.exists(abs);
        if (exists && !Files.isDirectory(abs)) {
            throw new MergestreamException(target + ": exists and is not a directory");
        }
        if (exists && !force && !isEmpty(abs)) {
            throw new MergestreamException(target + ": exists and is not empty (use --force to replace it)");
        }
        // the staging sibling is created next to the target: its nearest existing ancestor must take it
        Path ancestor = abs.getParent();
        while (ancestor != null && !Files.exists(ancestor)) ancestor = ancestor.getParent();
        if (ancestor != null && !Files.isDirectory(ancestor)) {
            throw new MergestreamException(target + ": cannot be created: " + ancestor + " is not a directory");
        }
        if (ancestor != null && !Files.isWritable(ancestor)) {
            throw new UncheckedIOException(target + ": cannot be created: " + ancestor + " is not writable",
                    new java.nio.file.AccessDeniedException(ancestor.toString()));
        }
    }

    /** Where files are written until {@link #commit()}. */
    public Path staging() {
        return staging;
    }

    public Path target() {
        return target;
    }

    /** Syncs every staged file and moves the staging directory into place. */
    public void commit() {
        try {
            try (Stream<Path> files = Files.list(staging)) {
                for (Path f : files.toList()) {
                    if (Files.isRegularFile(f)) sync(f);
                }
            }
            sync(staging);
            Path old = null;
            synchronized (lock) {
                if (aborted) throw new IllegalStateException("interrupted: " + target + " was not written");
                if (replace && Files.exists(target)) {
                    old = target.resolveSibling("." + target.getFileName() + ".old-" + ProcessHandle.current().pid());
                    move(target, old);
                }
                move(staging, target);
                committed = true;
            }
            sync(target.getParent());
            if (old != null) deleteTree(old);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move the finished output into " + target + ": " + e.getMessage(), e);
        } finally {
            removeHook();
        }
    }

    /** On interrupt: no commit may follow, and the staging directory goes. */
    private void abort() {
        synchronized (lock) {
            if (committed) return;
            aborted = true;
        }
        deleteTree(staging);
    }

    private void removeHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
        } catch (IllegalStateException ignored) {
            // already shutting down: the hook runs (and finds the work committed or aborts it)
        }
    }

    /** Removes the staging directory unless the output was committed. */
    @Override
    public void close() {
        if (!committed) {
            abort();
            removeHook();
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void sync(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path realOrAbsolute(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (IOException e) {
            return abs;
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) return;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            System.err.println("mergestream: could not remove " + root + ": " + e.getMessage());
        }
    }
}
