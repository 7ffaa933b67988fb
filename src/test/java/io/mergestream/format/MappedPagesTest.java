package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MappedPagesTest {

    /**
     * On Linux the advice calls load and do what they say: a released mapping's pages leave the resident set
     * (a swallowed linkage error would have made every call a silent no-op and RSS grow with the model).
     */
    @Test
    void releaseDropsTouchedPagesFromTheResidentSet(@TempDir Path tmp) throws IOException {
        assumeLinuxAdvice();
        Path file = tmp.resolve("pages.bin");
        long size = 8L << 20;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE); Arena arena = Arena.ofConfined()) {
            ch.write(ByteBuffer.wrap(new byte[] {1}), size - 1);
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long sum = 0;
            for (long o = 0; o < size; o += 4096) sum += m.get(ValueLayout.JAVA_BYTE, o);
            assertTrue(sum >= 0);
            long before = rssKb(m);
            assertTrue(before >= 7 * 1024, "touched pages not resident: " + before + " kB");
            MappedPages.release(m);
            long after = rssKb(m);
            assertTrue(after < 1024, "released pages still resident: " + after + " kB of " + before);
        }
    }

    /**
     * prefetch reads a file's pages in and maps them without the caller touching them: the mapping's resident set
     * goes from nothing to all of it (a no-op, a wrong advice number, or MADV_WILLNEED, which maps nothing, would
     * leave it near zero). The file's pages are evicted from the page cache first, so they come from the disk.
     */
    @Test
    void prefetchMapsPagesWithoutTouchingThem(@TempDir Path tmp) throws IOException {
        assumeLinuxAdvice();
        Path file = tmp.resolve("prefetch.bin");
        int size = 16 << 20;
        byte[] data = new byte[size];
        java.util.Arrays.fill(data, (byte) 3);
        Files.write(file, data);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.force(true); // clean pages, so that the eviction below drops them
        }
        MappedPages.evict(file, 0, size);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = MappedPages.mapReadOnly(file, arena);
            long before = rssKb(m);
            assertTrue(before < 1024, "pages resident before any access: " + before + " kB");
            MappedPages.prefetch(m.asSlice(4096, size - 8192)); // page-aligned inside: all but the first and last page
            long after = rssKb(m);
            assertTrue(after >= size / 1024 - 8 - 1024 && after <= size / 1024,
                    "prefetched pages not resident: " + after + " kB of " + size / 1024);
            assertEquals(3, m.get(ValueLayout.JAVA_BYTE, size / 2)); // and the data is the file's
        }
    }

    /**
     * startWriteback sends a file's dirty page-cache pages to disk: right after it returns they are clean or under
     * writeback, no longer dirty (a no-op, e.g. a wrong flag or a call on the wrong descriptor, would leave them
     * dirty until the final fsync). Dirty is read from smaps of a mapping of the file, which counts a page whose
     * page-cache copy is dirty.
     */
    @Test
    void startWritebackLeavesNoDirtyPages(@TempDir Path tmp) throws IOException {
        assumeTrue(System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux"),
                "sync_file_range is only called on Linux");
        assumeTrue(!Files.getFileStore(tmp).type().equals("tmpfs"), "tmpfs has no writeback");
        assertTrue(MappedPages.available(), "the libc advice calls did not load on Linux");
        Path file = tmp.resolve("dirty.bin");
        int size = 16 << 20;
        byte[] data = new byte[size];
        java.util.Arrays.fill(data, (byte) 7);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE); Arena arena = Arena.ofConfined()) {
            ByteBuffer b = ByteBuffer.wrap(data);
            for (long at = 0; b.hasRemaining(); ) at += ch.write(b, at);
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long sum = 0;
            for (long o = 0; o < size; o += 4096) sum += m.get(ValueLayout.JAVA_BYTE, o);
            assertTrue(sum > 0);
            long before = smapsKb(m, "Dirty");
            // another program's sync may have written them already: then there is nothing to show
            assumeTrue(before >= 8 * 1024, "pages already written back by someone else: " + before + " kB dirty");
            MappedPages.startWriteback(file);
            long after = smapsKb(m, "Dirty");
            assertTrue(after < 1024, "pages still dirty after startWriteback: " + after + " kB of " + before);
            ch.force(true); // and the data is the same once durable
            assertTrue(java.util.Arrays.equals(Files.readAllBytes(file), data));
        }
    }

    /** The Rss line of the /proc/self/smaps entry that starts at the mapping's address. */
    private static long rssKb(MemorySegment m) throws IOException {
        return smapsKb(m, "Rss");
    }

    /** The sum of the lines ending in {@code field} (Rss; Dirty: Shared_Dirty + Private_Dirty) of the mapping's entry. */
    private static long smapsKb(MemorySegment m, String field) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        String start = Long.toHexString(m.address()) + "-";
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).startsWith(start)) continue;
            long kb = 0;
            for (int j = i + 1; j < lines.size() && !lines.get(j).startsWith("VmFlags"); j++) {
                String l = lines.get(j);
                String key = l.substring(0, Math.max(l.indexOf(':'), 0));
                if (key.equals(field) || key.endsWith("_" + field)) kb += Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
            return kb;
        }
        throw new AssertionError("mapping at " + start + " not in /proc/self/smaps");
    }

    /** These tests need the advice calls, which exist on Linux only; there they must have loaded. */
    private static void assumeLinuxAdvice() {
        assumeTrue(System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux"),
                "madvise is only called on Linux");
        assertTrue(MappedPages.available(), "the libc advice calls did not load on Linux");
    }
}
