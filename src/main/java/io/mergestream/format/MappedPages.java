package io.mergestream.format;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import io.mergestream.Names;
import java.nio.file.Path;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * Advice to the operating system about mapped checkpoint pages, through the FFM linker (Linux):
 * <ul>
 *   <li>{@link #sequential}: inputs are read front to back, so read ahead aggressively;</li>
 *   <li>{@link #prefetch}: a tensor about to be read is read in and mapped now (MADV_POPULATE_READ), so that
 *       a background thread keeps the disk busy while the workers compute;</li>
 *   <li>{@link #release}: a finished tensor's pages leave this process's resident set (MADV_DONTNEED). The
 *       data stays in the page cache — for shared file mappings this drops page-table entries only, dirty
 *       output pages included, which the kernel still writes back — so RSS stays flat whatever the model size;</li>
 *   <li>{@link #evict}: a finished input range leaves the page cache too (POSIX_FADV_DONTNEED), used when the
 *       inputs are larger than memory, so that pages already merged do not crowd out the ones ahead;</li>
 *   <li>{@link #startWriteback}: a file's dirty pages start going to disk now (sync_file_range), without
 *       waiting, so that the output's final fsync finds little left to write.</li>
 * </ul>
 * Advice is best effort: where the calls are unavailable (another OS, a libc without them, native access
 * not enabled for this module) every method does nothing; once they are loaded, a call that throws is a bug
 * and is not hidden. Loading catches only what a missing call throws: {@link NoSuchElementException} (a libc
 * without the symbol), {@link UnsupportedOperationException} (a platform the linker does not support) and
 * {@link IllegalCallerException} (native access denied). Native access is checked first
 * ({@link Module#isNativeAccessEnabled()}), so that a program embedding mergestream without
 * {@code --enable-native-access} gets no JVM warning about restricted methods, only no advice.
 *
 * <p>The system property {@value #DISABLE_PROPERTY}{@code =true} (read once, at class load) turns advice off
 * as on a platform without the calls: the tests use it to show that a merge writes the same bytes without it.
 */
public final class MappedPages {

    /**
     * The whole of {@code path} mapped read-only into {@code arena}: how every reader of tensor files (safetensors,
     * torch zip, delta packs) maps its file. A missing file is bad input naming it; any other failure to map is I/O.
     */
    public static MemorySegment mapReadOnly(Path path, Arena arena) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (NoSuchFileException e) {
            throw new FormatException(path, "file not found");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + Names.printable(path) + ": " + e.getMessage(), e);
        }
    }

    private static final int MADV_SEQUENTIAL = 2;
    private static final int MADV_POPULATE_READ = 22;
    private static final int MADV_DONTNEED = 4;
    private static final int POSIX_FADV_DONTNEED = 4;
    private static final int O_RDONLY = 0;
    private static final int SYNC_FILE_RANGE_WRITE = 2;

    /** Set to {@code true} to give no advice, as where the calls do not exist (a test knob). */
    public static final String DISABLE_PROPERTY = "mergestream.noPageAdvice";

    private static final Calls CALLS = Calls.load().orElse(null);

    private record Calls(MethodHandle madvise, MethodHandle fadvise, MethodHandle syncFileRange, MethodHandle open,
                         MethodHandle close, long pageSize) {
        @SuppressWarnings("restricted") // linking libc's advice calls is the point of this class
        static Optional<Calls> load() {
            if (Boolean.getBoolean(DISABLE_PROPERTY)
                    || !System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")
                    || !MappedPages.class.getModule().isNativeAccessEnabled()) {
                return Optional.empty();
            }
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                MethodHandle madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                MethodHandle fadvise = linker.downcallHandle(libc.find("posix_fadvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                MethodHandle syncFileRange = linker.downcallHandle(libc.find("sync_file_range").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                MethodHandle open = linker.downcallHandle(libc.find("open").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
                MethodHandle close = linker.downcallHandle(libc.find("close").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                MethodHandle getpagesize = linker.downcallHandle(libc.find("getpagesize").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT));
                long page = (int) getpagesize.invokeExact();
                return Optional.of(new Calls(madvise, fadvise, syncFileRange, open, close, page));
            } catch (NoSuchElementException | UnsupportedOperationException | IllegalCallerException e) {
                // a libc without the symbol, a platform the linker does not support, or native access denied
                // (--illegal-native-access=deny): advice is optional, so none is given
                return Optional.empty();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new AssertionError("getpagesize threw", e); // a downcall throws nothing checked
            }
        }
    }

    private MappedPages() {}

    public static boolean available() {
        return CALLS != null;
    }

    /** Hints that the mapping will be read sequentially. */
    public static void sequential(MemorySegment mapping) {
        madvise(mapping, MADV_SEQUENTIAL);
    }

    /**
     * Bytes per MADV_POPULATE_READ call in {@link #prefetch}: small enough that a call returns within milliseconds
     * on a cold disk, large enough that the calls cost nothing next to the reads.
     */
    static final long PREFETCH_STEP_BYTES = 4L << 20;

    /**
     * Reads the pages of {@code slice} into the page cache and maps them (MADV_POPULATE_READ, Linux 5.14+), step by
     * step, and returns when they are in: the calling thread waits for the disk, so call it from one that does not
     * compute. The pages are read as a worker's fault would read them (the mapping's sequential readahead, large
     * folios), only earlier; the workers then find them mapped and do not fault.
     *
     * <p>Not MADV_WILLNEED (or posix_fadvise, readahead(2)): on Linux 6.x these go through force_page_cache_ra,
     * which reads at most one readahead window per call and only in single pages, where the fault path reads large
     * folios: measured on a 16 GB merge, the page-by-page cache cost 5 s of system time to fill and 3 s more to
     * evict (bench/README.md). A kernel without the advice (EINVAL), a page past the end of a truncated file
     * (EFAULT, no signal) or a failed read: the call returns an error that is ignored here, and the worker that
     * touches the page later gets what it would have got without the prefetch.
     */
    public static void prefetch(MemorySegment slice) {
        if (CALLS == null || slice.byteSize() == 0) return;
        long page = CALLS.pageSize();
        long start = slice.address() & -page;
        long end = (slice.address() + slice.byteSize() + page - 1) & -page;
        for (long at = start; at < end; at += PREFETCH_STEP_BYTES) {
            advise(at, Math.min(end, at + PREFETCH_STEP_BYTES), MADV_POPULATE_READ);
        }
    }

    /**
     * Drops the pages of {@code slice} from this process's resident set, but the one holding its last byte
     * (unless the slice ends on a page boundary); their data is kept. That page usually holds the start of the
     * next tensor in the file, which is read next and releases it: so a tensor smaller than a page costs no
     * call at all (a model of 300,000 small tensors made 600,000 calls, each also dropping a page the next
     * tensor then faulted in again).
     */
    public static void release(MemorySegment slice) {
        if (CALLS == null || slice.byteSize() == 0) return;
        long page = CALLS.pageSize();
        long start = slice.address() & -page;
        long end = (slice.address() + slice.byteSize()) & -page;
        if (end > start) advise(start, end, MADV_DONTNEED);
    }

    /** Drops the file's byte range {@code [offset, offset + length)} from the page cache (clean pages only). */
    public static void evict(Path file, long offset, long length) {
        if (CALLS == null || length <= 0) return;
        onFile(file, "posix_fadvise", fd -> {
            int ignored = (int) CALLS.fadvise().invokeExact(fd, offset, length, POSIX_FADV_DONTNEED);
        });
    }

    /**
     * Starts writing every dirty page of {@code file} to disk and returns without waiting for it
     * (sync_file_range with SYNC_FILE_RANGE_WRITE, which, unlike fsync, flushes no device cache). A writer calls it
     * from a background thread as its output grows, so that the final fsync, which alone makes the data durable,
     * waits only for the last pages. Best effort: a file that cannot be opened, or a failed call, is ignored here
     * (a write error still reaches that fsync, which reports it).
     */
    public static void startWriteback(Path file) {
        if (CALLS == null) return;
        // offset 0, length 0: the whole file, to its end
        onFile(file, "sync_file_range", fd -> {
            int ignored = (int) CALLS.syncFileRange().invokeExact(fd, 0L, 0L, SYNC_FILE_RANGE_WRITE);
        });
    }

    /** A call on a file descriptor (a downcall: it declares Throwable, as invokeExact does). */
    private interface FdCall {
        void run(int fd) throws Throwable;
    }

    /**
     * Runs {@code call} on a read-only descriptor of {@code file}, opened and closed here (the advice calls take a
     * descriptor, and the Java channels do not give theirs); a file that cannot be opened gets no advice.
     */
    private static void onFile(Path file, String what, FdCall call) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) CALLS.open().invokeExact(arena.allocateFrom(file.toString()), O_RDONLY);
            if (fd < 0) return;
            try {
                call.run(fd);
            } finally {
                int ignored = (int) CALLS.close().invokeExact(fd);
            }
        } catch (RuntimeException | Error e) {
            throw e; // the calls exist (CALLS is loaded): anything thrown here is a bug, not a missing call
        } catch (Throwable e) {
            throw new AssertionError(what + " threw", e);
        }
    }

    /** Applies advice to the whole pages that the slice touches (the mapping always covers them). */
    private static void madvise(MemorySegment slice, int advice) {
        if (CALLS == null || slice.byteSize() == 0) return;
        long page = CALLS.pageSize();
        long start = slice.address() & -page;
        long end = (slice.address() + slice.byteSize() + page - 1) & -page;
        advise(start, end, advice);
    }

    /** madvise over the page-aligned addresses {@code [start, end)}. */
    private static void advise(long start, long end, int advice) {
        try {
            // the advice's result is ignored on purpose (EINVAL/ENOMEM only mean the hint is not taken)
            int ignored = (int) CALLS.madvise().invokeExact(MemorySegment.ofAddress(start), end - start, advice);
        } catch (RuntimeException | Error e) {
            throw e; // the call exists (CALLS is loaded): anything thrown here is a bug, not a missing call
        } catch (Throwable e) {
            throw new AssertionError("madvise threw", e);
        }
    }
}
