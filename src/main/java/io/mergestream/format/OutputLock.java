package io.mergestream.format;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An exclusive lock on one output, held from the checks before a run until its output is in place: the file
 * {@code .NAME.lock} beside the output, locked with {@link FileChannel#tryLock()} (an OS lock, so it is released
 * when the process dies, however it dies). A second run into the same output fails at once, before merging, with
 * one line naming the holder's process id, which the lock file holds.
 *
 * <p>mergestream removes the file when it is done. Removing a lock file is racy in general (a waiting process may
 * lock the unlinked file while a third creates a new one), so a run that gets the lock checks that the path still
 * names the file it locked (the same file key before opening and after locking) and otherwise tries again.
 *
 * <p>Java's file locks are POSIX record locks on Linux: closing <em>any</em> descriptor of the file in this process
 * releases them. So once locked, the file is never opened again here (identity is checked with stat, not by
 * reading it back), and a second run in the same JVM is turned away by {@link #HELD} before it opens the file.
 */
final class OutputLock implements AutoCloseable {

    private static final int ATTEMPTS = 20;

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final Object key;

    /** Lock files held by this process, to refuse a second run in the same JVM without touching the file. */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private OutputLock(Path file, FileChannel channel, FileLock lock, Object key) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.key = key;
    }

    /** The lock file of output {@code target} (an absolute path with a parent that exists). */
    static Path fileOf(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".lock");
    }

    /**
     * Locks output {@code target}, or throws an {@link UncheckedIOException} (exit code 1: nothing is wrong with
     * the input, the output is busy) saying which process holds it; {@code shown} names the output as the user
     * gave it.
     */
    static OutputLock acquire(Path target, Path shown) {
        Path file = fileOf(target);
        String pid = String.valueOf(ProcessHandle.current().pid());
        if (!HELD.add(file)) throw busy(shown, pid);
        try {
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                Object before = fileKey(file);
                FileChannel ch;
                try {
                    ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot create the lock file " + file + ": " + e.getMessage(), e);
                }
                try {
                    FileLock lock;
                    try {
                        lock = ch.tryLock();
                    } catch (OverlappingFileLockException e) {
                        lock = null; // held through another channel of this process
                    }
                    if (lock == null) throw busy(shown, holder(ch));
                    Object after = fileKey(file);
                    if (before != null && before.equals(after)) {
                        byte[] text = (pid + "\n").getBytes(StandardCharsets.US_ASCII);
                        ch.truncate(0);
                        ch.write(ByteBuffer.wrap(text), 0);
                        return new OutputLock(file, ch, lock, after);
                    }
                    // the path changed while we locked (another run removed its lock file): try the one there now
                    lock.release();
                    ch.close();
                } catch (IOException e) {
                    closeQuietly(ch);
                    throw new UncheckedIOException("cannot lock " + file + ": " + e.getMessage(), e);
                } catch (RuntimeException e) {
                    closeQuietly(ch);
                    throw e;
                }
            }
            throw busy(shown, "unknown");
        } catch (RuntimeException e) {
            HELD.remove(file);
            throw e;
        }
    }

    private static UncheckedIOException busy(Path shown, String holder) {
        String m = "another mergestream run is writing " + shown + " (pid " + holder + "); wait for it to finish";
        return new UncheckedIOException(m, new IOException(m));
    }

    /** The holder's process id as its lock file says, or "unknown" (it may not have written it yet). */
    private static String holder(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(64);
            ch.read(b, 0);
            String s = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).strip();
            String pid = s.isEmpty() ? "" : s.split("\\s+")[0];
            return pid.matches("\\d{1,19}") ? pid : "unknown";
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** The file's identity (device and inode) without opening it, or null when there is none. */
    private static Object fileKey(Path file) {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Removes the lock file (while still holding the lock, see the class comment), then releases it. */
    @Override
    public void close() {
        try {
            if (key.equals(fileKey(file))) Files.deleteIfExists(file);
        } catch (IOException e) {
            // a lock file left behind is harmless: the next run locks it again
        } finally {
            try {
                lock.release();
            } catch (IOException ignored) {
                // closing the channel releases it too
            }
            closeQuietly(channel);
            HELD.remove(file);
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing was written through it that matters
        }
    }
}
