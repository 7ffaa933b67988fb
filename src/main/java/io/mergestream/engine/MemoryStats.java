package io.mergestream.engine;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak memory of this process: resident set (VmHWM, which includes touched pages of mapped files), the
 * anonymous part of the current RSS (heap, direct and native memory) and the heap's peak use.
 */
public record MemoryStats(long peakRssBytes, long rssAnonBytes, long peakHeapBytes) {

    public static MemoryStats now() {
        long peakHeap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) peakHeap += pool.getPeakUsage().getUsed();
        }
        return new MemoryStats(procStatus("VmHWM:"), procStatus("RssAnon:"), peakHeap);
    }

    /** A kB field of /proc/self/status in bytes, or -1 where there is no such file (not Linux). */
    private static long procStatus(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
