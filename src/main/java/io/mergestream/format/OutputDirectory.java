package io.mergestream.format;

import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An output model directory that appears all at once, written only where that cannot destroy anything mergestream
 * did not write.
 *
 * <p>Everything is written into a hidden sibling ({@code .NAME.partial-PID}); {@link #commit()} syncs it, adds the
 * manifest ({@link OutputManifest}: every file with its size) and moves it into place. A failed or interrupted run
 * leaves no directory that looks like a finished model: the sibling is removed on failure and on Ctrl-C, and one
 * left by a killed run is removed by the next run into the same output.
 *
 * <p>What may be the output:
 * <ul>
 * <li>a new path, or an empty directory;
 * <li>with {@code force}, a directory holding a mergestream manifest: only the files it lists are replaced or
 *     removed (and only while unchanged: same size, still regular files); any other file in it stays, as
 *     mergekit leaves files it did not write, and a warning names them;
 * <li>never anything else: a non-empty directory without a manifest, the filesystem root, the home directory,
 *     the current directory, a directory holding one of those, a dangling symbolic link, or a path that is,
 *     holds or lies inside something the run reads (resolved through symbolic links).
 * </ul>
 * Two runs into one output exclude each other ({@link OutputLock}); the second fails before merging.
 */
public final class OutputDirectory implements AutoCloseable {

    /** The manifest's name inside every output mergestream writes. */
    public static final String MANIFEST = OutputManifest.FILE;

    private enum Kind {
        /** Nothing at the target: the staging directory is renamed into place. */
        NEW,
        /** An empty directory: renamed over (rename(2) replaces an empty directory atomically), else filled. */
        EMPTY,
        /** A directory with a manifest: its listed files are replaced, the others stay. */
        REPLACE
    }

    private final Path target;
    private final Path shown;
    private final Path staging;
    private final Kind kind;
    private final OutputManifest previous;
    private final OutputLock outputLock;
    /** Guards the race between commit and an interrupt (Ctrl-C runs the hook while the merge goes on). */
    private final Object guard = new Object();
    private boolean committed;
    private boolean aborted;
    private boolean released;

    private OutputDirectory(Path target, Path shown, Path staging, Kind kind, OutputManifest previous, OutputLock lock) {
        this.target = target;
        this.shown = shown;
        this.staging = staging;
        this.kind = kind;
        this.previous = previous;
        this.outputLock = lock;
        LiveStagings.add(this);
    }

    /**
     * The staging directories of every output not yet committed or closed, and the one shutdown hook (registered
     * once per process, on the first output) that removes them when the JVM exits under a run (Ctrl-C). One hook
     * for all runs, not one per run: a program that merges hundreds of times must not grow the JVM's hook list.
     */
    private static final class LiveStagings {
        private static final java.util.Set<OutputDirectory> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(OutputDirectory::abort),
                    "mergestream-cleanup"));
        }

        static void add(OutputDirectory d) {
            LIVE.add(d);
        }

        static void remove(OutputDirectory d) {
            LIVE.remove(d);
        }
    }

    /**
     * Checks the target, locks it, removes what killed runs left beside it and creates the staging directory.
     * {@code inputs} are every file and directory the run reads (models, tokenizer and config sources, the
     * recipe): the output must not be, hold or lie inside any of them. Every refusal is one line, given before
     * anything is written. Refusals of the path itself come before anything is created; those of an existing
     * directory's content come after the output's parent directories exist, the lock is taken and what killed
     * runs left beside it is removed (those are mergestream's own, and the check must see the directory as it is
     * under the lock).
     */
    public static OutputDirectory prepare(Path target, boolean force, List<Path> inputs) {
        Path real = checkPath(target, inputs);
        Path parent = real.getParent();
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + parent + ": " + e.getMessage(), e);
        }
        OutputLock lock = OutputLock.acquire(real, target);
        Path staging = sibling(real, "partial");
        try {
            removeStale(real, target);
            Kind kind;
            OutputManifest previous = OutputManifest.empty();
            if (!Files.exists(real, LinkOption.NOFOLLOW_LINKS)) {
                kind = Kind.NEW;
            } else if (isEmpty(real)) {
                kind = Kind.EMPTY;
            } else {
                previous = previousOutput(real, target, force);
                kind = Kind.REPLACE;
            }
            deleteTree(staging);
            Files.createDirectory(staging);
            return new OutputDirectory(real, target, staging, kind, previous, lock);
        } catch (IOException e) {
            lock.close();
            throw new UncheckedIOException("cannot create " + staging + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /**
     * The rules {@link #prepare} enforces, without locking anything or leaving anything behind (a dry run calls this,
     * so that it fails exactly when the run would): the path rules of {@link #checkPath}, an existing non-empty
     * directory must be an earlier mergestream output, replaced only with {@code force}, and what the run creates
     * first can be created.
     */
    public static void check(Path target, boolean force, List<Path> inputs) {
        Path real = checkPath(target, inputs);
        if (Files.exists(real, LinkOption.NOFOLLOW_LINKS) && !isEmpty(real)) previousOutput(real, target, force);
        probeCreatable(real);
    }

    /**
     * That the first thing {@link #prepare} creates can be created: the missing parent directories, else the lock
     * file in the parent. A hidden probe entry is made in the nearest existing ancestor and removed at once, since
     * asking is not enough: access(2) says writable to root for /proc, where nothing can be created. Refused in the
     * words the run would use.
     */
    private static void probeCreatable(Path real) {
        Path parent = real.getParent();
        if (parent == null) return;
        Path ancestor = parent;
        while (ancestor != null && !Files.exists(ancestor)) ancestor = ancestor.getParent();
        if (ancestor == null) return;
        boolean parentMissing = !ancestor.equals(parent);
        Path probe = null;
        try {
            String prefix = "." + real.getFileName() + ".check-";
            probe = parentMissing ? Files.createTempDirectory(ancestor, prefix) : Files.createTempFile(ancestor, prefix, null);
        } catch (IOException e) {
            String what = parentMissing ? parent.toString() : "the lock file " + OutputLock.fileOf(real);
            throw new UncheckedIOException("cannot create " + what + ": " + io.mergestream.IoErrors.reason(e), e);
        } finally {
            if (probe != null) {
                try {
                    Files.deleteIfExists(probe);
                } catch (IOException e) {
                    io.mergestream.Warnings.warn("could not remove the probe " + probe + ": " + e.getMessage());
                }
            }
        }
    }

    /**
     * The rules on the output path itself, checked before anything is created: no dangling link, never a
     * protected directory (/, home, the current one), never an input or near one, a directory if it exists,
     * and a nearest existing ancestor that is a writable directory (the staging sibling is created there).
     * Returns the target with symbolic links resolved.
     */
    private static Path checkPath(Path target, List<Path> inputs) {
        Path abs = target.toAbsolutePath().normalize();
        refuseDanglingLink(target, abs);
        Path real = realOrAbsolute(abs);
        String why = protectedReason(real);
        if (why != null) {
            throw new MergestreamException(target + ": " + why + ", which mergestream never writes into"
                    + " (give a new directory for the output)");
        }
        refuseInputs(target, real, inputs);
        if (Files.exists(real) && !Files.isDirectory(real)) {
            throw new MergestreamException(target + ": exists and is not a directory");
        }
        Path ancestor = real.getParent();
        while (ancestor != null && !Files.exists(ancestor)) ancestor = ancestor.getParent();
        if (ancestor != null && !Files.isDirectory(ancestor)) {
            throw new MergestreamException(target + ": cannot be created: " + ancestor + " is not a directory");
        }
        if (ancestor != null && !Files.isWritable(ancestor)) {
            throw new UncheckedIOException(target + ": cannot be created: " + ancestor + " is not writable",
                    new java.nio.file.AccessDeniedException(ancestor.toString()));
        }
        return real;
    }

    /** Where files are written until {@link #commit()}. */
    public Path staging() {
        return staging;
    }

    /** The output directory (absolute, symbolic links resolved). */
    public Path target() {
        return target;
    }

    /**
     * Syncs every staged file, writes the manifest and moves the output into place: by renaming the staging
     * directory (a new target, an empty one, or an earlier output holding only its own files: the old one is
     * renamed aside first and deleted after), or file by file into a directory that also holds other files.
     */
    public void commit() {
        try {
            OutputManifest next = OutputManifest.of(staging);
            syncTree(staging);
            Path manifest = staging.resolve(MANIFEST);
            next.write(manifest);
            sync(manifest);
            sync(staging);
            List<String> kept = List.of();
            synchronized (guard) {
                if (aborted) throw new IllegalStateException("interrupted: " + shown + " was not written");
                switch (kind) {
                    // a sibling on the same file system: the rename is atomic (and fails if a non-empty
                    // directory appeared there meanwhile)
                    case NEW -> Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
                    case EMPTY -> replaceEmpty(next);
                    case REPLACE -> kept = replace(next);
                }
                committed = true;
            }
            sync(target.getParent());
            if (!kept.isEmpty()) {
                Warnings.warn(shown + ": kept " + kept.size() + (kept.size() == 1 ? " file" : " files")
                        + " mergestream did not write (" + OutputManifest.shortList(kept) + "); only the files "
                        + MANIFEST + " listed were replaced");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move the finished output into " + shown + ": " + e.getMessage(), e);
        } finally {
            removeHook();
            // after a failure the lock is kept until close() has removed the staging directory
            if (committed) release();
        }
    }

    /** On interrupt: no commit may follow, and the staging directory goes. */
    private void abort() {
        synchronized (guard) {
            if (committed) return;
            aborted = true;
        }
        deleteTree(staging);
        release();
    }

    private void release() {
        synchronized (guard) {
            if (released) return;
            released = true;
        }
        outputLock.close();
    }

    private void removeHook() {
        // during shutdown the hook may be iterating: a concurrent set, and abort() is idempotent
        LiveStagings.remove(this);
    }

    /** Removes the staging directory unless the output was committed, and releases the output's lock. */
    @Override
    public void close() {
        if (!committed) {
            abort();
            removeHook();
        }
        release();
    }

    // ---- what may be the output ---------------------------------------------------------------------------

    /**
     * A path that is, or goes through, a symbolic link to nothing: writing through it would create whatever the
     * link names, which may be anywhere.
     */
    private static void refuseDanglingLink(Path shown, Path abs) {
        for (Path p = abs; p != null; p = p.getParent()) {
            if (Files.isSymbolicLink(p) && !Files.exists(p)) {
                String to;
                try {
                    to = String.valueOf(Files.readSymbolicLink(p));
                } catch (IOException e) {
                    to = "?";
                }
                throw new MergestreamException(shown + ": " + (p.equals(abs) ? "is" : "goes through " + p + ",")
                        + " a symbolic link to " + to + ", which does not exist (remove the link or give another"
                        + " directory)");
            }
        }
    }

    /**
     * Why {@code real} (absolute, links resolved) is never an output, or null: the filesystem root, the home
     * directory and the current directory, and every directory holding one of them. Replacing one would take the
     * user's files (or the shell's working directory) with it.
     */
    static String protectedReason(Path real) {
        if (real.getParent() == null || real.getFileName() == null) return "is the filesystem root";
        Path cwd = realOrAbsolute(Path.of("").toAbsolutePath());
        if (real.equals(cwd)) return "is the current directory";
        if (cwd.startsWith(real)) return "holds the current directory";
        String homeProperty = System.getProperty("user.home");
        if (homeProperty != null && !homeProperty.isBlank() && !homeProperty.equals("?")) {
            Path home = realOrAbsolute(Path.of(homeProperty));
            if (real.equals(home)) return "is the home directory";
            if (home.startsWith(real)) return "holds the home directory";
        }
        return null;
    }

    private static void refuseInputs(Path shown, Path real, List<Path> inputs) {
        for (Path in : inputs) {
            Path input = realOrAbsolute(in);
            String how = real.equals(input) ? "is " : input.startsWith(real) ? "holds " : real.startsWith(input)
                    ? "lies inside " : null;
            if (how != null) {
                throw new MergestreamException(shown + ": " + how + in + ", which this run reads; write the output"
                        + " somewhere else");
            }
        }
    }

    /** The manifest of the earlier output at {@code real}, checked; or the one-line refusal. */
    private static OutputManifest previousOutput(Path real, Path shown, boolean force) {
        Path file = real.resolve(MANIFEST);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new MergestreamException(shown + ": exists, is not empty and is not a mergestream output (it has"
                    + " no " + MANIFEST + "); mergestream writes into a new or empty directory, and --force replaces"
                    + " only an output mergestream wrote");
        }
        OutputManifest m;
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new OutputManifest.Invalid("is not a regular file");
            }
            m = OutputManifest.read(file);
        } catch (OutputManifest.Invalid e) {
            throw new MergestreamException(shown.resolve(MANIFEST) + ": " + e.getMessage() + ", so " + shown
                    + " is not taken for a mergestream output and stays as it is (give another directory)");
        }
        if (!force) {
            throw new MergestreamException(shown + ": holds an earlier mergestream output" + (m.complete() ? ""
                    : " (unfinished: a run was stopped while replacing it)") + "; --force replaces the " + m.size()
                    + " files its " + MANIFEST + " lists and leaves any other file");
        }
        for (String rel : m.paths()) {
            String why = m.changed(real, rel);
            if (why != null) {
                throw new MergestreamException(shown.resolve(rel) + ": " + why + " (changed since mergestream wrote"
                        + " it), so --force will not delete it; move it out of " + shown + " first");
            }
        }
        return m;
    }

    // ---- commit ---------------------------------------------------------------------------------------------

    /** Renames the staging directory over the empty target; else (a mount point, say) fills it file by file. */
    private void replaceEmpty(OutputManifest next) throws IOException {
        try {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            return;
        } catch (IOException e) {
            if (!isEmpty(target)) {
                throw new IOException("files appeared in it during the run; it was left as it is", e);
            }
        }
        replaceInPlace(next);
    }

    /**
     * Replaces the earlier output; returns the files kept that mergestream did not write. When the target holds
     * only the listed files, the directories are swapped by two renames; otherwise the files are replaced one by
     * one ({@link #replaceInPlace}).
     */
    private List<String> replace(OutputManifest next) throws IOException {
        for (String rel : previous.paths()) {
            String why = previous.changed(target, rel);
            if (why != null) {
                throw new MergestreamException(shown.resolve(rel) + ": " + why + " (changed during the run), so"
                        + " --force will not delete it; the new output was not written");
            }
        }
        List<String> foreign = previous.unlisted(target);
        if (foreign.isEmpty() && swap()) return List.of();
        replaceInPlace(next);
        return foreign;
    }

    /**
     * Moves the old output aside ({@code .NAME.old-PID}) and the new one into place, then deletes the old
     * one's listed files. False when the first rename fails (nothing changed then). A run killed between the two
     * renames leaves no output but the old one aside, complete with its manifest: the next run puts it back.
     */
    private boolean swap() throws IOException {
        Path old = sibling(target, "old");
        deleteTree(old);
        try {
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            return false;
        }
        try {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException back) {
                e.addSuppressed(back);
            }
            throw e;
        }
        // the new output is in place: what follows only tidies up, and a failure there is a warning
        try {
            removeListed(old, previous);
            // a file created in the old output between the check and the rename is not ours: it goes back
            List<Path> left;
            try (Stream<Path> s = Files.list(old)) {
                left = s.toList();
            }
            boolean allBack = true;
            for (Path p : left) {
                Path dest = target.resolve(p.getFileName().toString());
                if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
                    allBack = false;
                } else {
                    Files.move(p, dest, StandardCopyOption.ATOMIC_MOVE);
                }
            }
            if (allBack) {
                Files.deleteIfExists(old);
            } else {
                Warnings.warn(old + ": kept, it holds files that appeared in " + shown + " while it was replaced");
            }
        } catch (IOException e) {
            Warnings.warn(old + ": the earlier output could not be removed (" + e.getMessage() + ")");
        }
        return true;
    }

    /**
     * Replaces the earlier output's files inside a directory that also holds other files, which must stay. First
     * a journal manifest listing the old and the new files (so a crash in the middle leaves a directory a later
     * {@code --force} can still clean, and whose manifest says it is unfinished); then the old files move aside,
     * the new ones move in (config.json last: without it the directory does not load as a model), and the new
     * manifest replaces the journal. On an I/O error the moves are undone.
     */
    private void replaceInPlace(OutputManifest next) throws IOException {
        for (String rel : next.paths()) {
            String blocker = blocker(rel);
            if (blocker != null) {
                throw new MergestreamException(shown.resolve(blocker) + ": mergestream did not write it, and the new"
                        + " output has a file there; move it away and run again");
            }
        }
        Path old = sibling(target, "old");
        deleteTree(old);
        long pid = ProcessHandle.current().pid();
        Path manifest = target.resolve(MANIFEST);
        Path tmp = target.resolve(MANIFEST + ".tmp-" + pid);
        OutputManifest.union(previous, next).write(tmp);
        sync(tmp);
        moveFile(tmp, manifest);
        List<String> movedOut = new ArrayList<>();
        List<String> movedIn = new ArrayList<>();
        try {
            for (String rel : previous.paths()) {
                Path src = target.resolve(rel);
                if (!Files.exists(src, LinkOption.NOFOLLOW_LINKS)) continue;
                Path dest = old.resolve(rel);
                Files.createDirectories(dest.getParent());
                moveFile(src, dest);
                movedOut.add(rel);
            }
            pruneEmptyDirectories(target, previous.paths());
            List<String> order = new ArrayList<>(next.paths());
            order.sort(Comparator.comparingInt(OutputDirectory::loadOrder));
            for (String rel : order) {
                Path dest = target.resolve(rel);
                Files.createDirectories(dest.getParent());
                moveFile(staging.resolve(rel), dest);
                movedIn.add(rel);
            }
            moveFile(staging.resolve(MANIFEST), manifest);
        } catch (IOException e) {
            try {
                for (String rel : movedIn.reversed()) moveFile(target.resolve(rel), staging.resolve(rel));
                for (String rel : movedOut) {
                    Files.createDirectories(target.resolve(rel).getParent());
                    moveFile(old.resolve(rel), target.resolve(rel));
                }
                if (kind == Kind.EMPTY) {
                    Files.deleteIfExists(manifest);
                } else {
                    previous.write(tmp);
                    moveFile(tmp, manifest);
                }
            } catch (IOException undo) {
                e.addSuppressed(undo);
                throw new IOException(e.getMessage() + "; undoing it failed too (" + undo.getMessage() + "): "
                        + MANIFEST + " lists every file mergestream put there, run again with --force", e);
            }
            throw e;
        }
        deleteTree(old);
        deleteTree(staging); // emptied by the moves (directories only)
    }

    /** Where a new file {@code rel} would land on something mergestream did not write: that path, or null. */
    private String blocker(String rel) {
        String[] segments = rel.split("/");
        Path p = target;
        StringBuilder sofar = new StringBuilder();
        for (int i = 0; i < segments.length; i++) {
            p = p.resolve(segments[i]);
            sofar.append(i == 0 ? "" : "/").append(segments[i]);
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return null;
            String here = sofar.toString();
            if (previous.paths().contains(here)) return null; // the old output's file, replaced
            boolean last = i == segments.length - 1;
            if (last || Files.isSymbolicLink(p) || !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) return here;
        }
        return null;
    }

    /** Shards first, then the index, config.json last: a crash midway leaves a directory that does not load. */
    private static int loadOrder(String rel) {
        if (rel.equals(ModelFiles.CONFIG)) return 2;
        if (rel.endsWith(".index.json")) return 1;
        return 0;
    }

    /** Deletes {@code m}'s listed files (unchanged ones only) and its manifest, then the directories emptied. */
    private static void removeListed(Path dir, OutputManifest m) throws IOException {
        for (String rel : m.paths()) {
            Path p = dir.resolve(rel);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && m.changed(dir, rel) == null) Files.delete(p);
        }
        Files.deleteIfExists(dir.resolve(MANIFEST));
        pruneEmptyDirectories(dir, m.paths());
    }

    /** Removes the directories of listed files that are now empty, deepest first; never {@code dir} itself. */
    private static void pruneEmptyDirectories(Path dir, Collection<String> listed) throws IOException {
        List<Path> dirs = new ArrayList<>();
        for (String rel : listed) {
            for (Path p = dir.resolve(rel).getParent(); p != null && !p.equals(dir) && p.startsWith(dir); p = p.getParent()) {
                if (!dirs.contains(p)) dirs.add(p);
            }
        }
        dirs.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        for (Path d : dirs) {
            if (Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS) && isEmpty(d)) Files.delete(d);
        }
    }

    // ---- what killed runs left ------------------------------------------------------------------------------

    private static final Pattern LEFTOVER = Pattern.compile("(partial|old)-(\\d{1,18})");

    /**
     * Removes the staging ({@code .NAME.partial-PID}) and set-aside ({@code .NAME.old-PID}) directories beside the
     * output, and journal temporaries inside it, whose process is gone; those of a live process are left alone.
     * Runs under the output's lock, so no live run into this output can own them. A set-aside old output with
     * no output in its place (a run killed mid-swap) is put back instead.
     */
    private static void removeStale(Path real, Path shown) throws IOException {
        String prefix = "." + real.getFileName() + ".";
        long self = ProcessHandle.current().pid();
        List<Path> siblings;
        try (Stream<Path> s = Files.list(real.getParent())) {
            siblings = s.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
        }
        for (Path p : siblings) {
            Matcher m = LEFTOVER.matcher(p.getFileName().toString().substring(prefix.length()));
            if (!m.matches()) continue;
            long pid = Long.parseLong(m.group(2));
            if (pid == self || isAlive(pid)) continue;
            if (m.group(1).equals("old") && !Files.exists(real, LinkOption.NOFOLLOW_LINKS) && isOutput(p)) {
                Files.move(p, real, StandardCopyOption.ATOMIC_MOVE);
                Warnings.warn(shown + ": put back the earlier output from " + p.getFileName() + ", which a run (pid "
                        + pid + ") killed while replacing it had moved aside");
                continue;
            }
            deleteTree(p);
            Warnings.warn(p + ": removed, left by a mergestream run (pid " + pid + ") that was killed");
        }
        if (Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS)) {
            Pattern tmp = Pattern.compile(Pattern.quote(MANIFEST) + "\\.tmp-(\\d{1,18})");
            try (Stream<Path> s = Files.list(real)) {
                for (Path p : s.toList()) {
                    Matcher m = tmp.matcher(p.getFileName().toString());
                    if (m.matches() && Long.parseLong(m.group(1)) != self && !isAlive(Long.parseLong(m.group(1)))) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }

    private static boolean isAlive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static boolean isOutput(Path dir) {
        try {
            return OutputManifest.read(dir.resolve(MANIFEST)).complete();
        } catch (OutputManifest.Invalid e) {
            return false;
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static Path sibling(Path target, String what) {
        return target.resolveSibling("." + target.getFileName() + "." + what + "-" + ProcessHandle.current().pid());
    }

    /** Renames a file onto {@code to} (replacing it); copies across file systems (a target that is a mount point). */
    private static void moveFile(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void syncTree(Path root) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) {
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                sync(p);
            }
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
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The absolute path with symbolic links resolved as far as it exists (the rest appended as given). */
    static Path realOrAbsolute(Path p) {
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

    /** Deletes a tree mergestream wrote (never following symbolic links out of it). */
    static void deleteTree(Path root) {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            Warnings.warn(root + ": could not be removed (" + e.getMessage() + ")");
        }
    }
}
