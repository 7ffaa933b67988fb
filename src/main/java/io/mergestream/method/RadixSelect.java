package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import java.util.List;

/**
 * Exact top-k over non-negative float bit patterns (for non-negative floats, int order is value order), with
 * ties going to the lowest flat index, by a radix select that never sorts or copies: pass 1 counts the high
 * 16 bits, pass 2 the low 16 bits inside the bin that holds the k-th largest, and pass 3, only when some
 * equal values are cut, finds by position where the kept ties end. Every pass streams in parallel chunks
 * with exact integer counts, so the result is independent of the thread count and chunk size. The values
 * come from a {@link Bits} source: |delta| through the kernels ({@link MagnitudeSelection}) or any per-element
 * score ({@link ScoreSelection}).
 */
final class RadixSelect {

    private static final int BINS = 1 << 16;

    /** The value bits of elements {@code [0, n)}, chunk by chunk. */
    interface Bits {
        /** Adds 1 to {@code histogram[bits >>> 16]} for each element of the range. */
        void histogramHigh(long start, int count, long[] histogram);

        /** Adds 1 to {@code histogram[bits & 0xFFFF]} for the elements of the range whose high bits are {@code high}. */
        void histogramLow(int high, long start, int count, long[] histogram);

        /** How many elements of the range have exactly {@code bits}. */
        long countEqual(int bits, long start, int count);

        /** The flat index of the {@code nth} (1-based) element of the range with exactly {@code bits}, or -1. */
        long indexOfNthEqual(int bits, long nth, long start, int count);
    }

    /** Kept iff {@code bits > thresholdBits || (bits == thresholdBits && i < tieCutoff)}. */
    record Threshold(int thresholdBits, long tieCutoff) {
        static final Threshold NONE = new Threshold(Integer.MAX_VALUE, 0);
        static final Threshold ALL = new Threshold(0, Long.MAX_VALUE);

        boolean keeps(int bits, long i) {
            return bits > thresholdBits || (bits == thresholdBits && i < tieCutoff);
        }
    }

    private RadixSelect() {}

    /** The test keeping exactly the {@code k} largest of the {@code n} values. */
    static Threshold topK(ChunkRunner runner, long n, long k, Bits bits) {
        if (k <= 0) return Threshold.NONE;
        if (k >= n) return Threshold.ALL;
        return topK(runner, n, k, bits, highHistogram(runner, n, bits));
    }

    /** Pass 1 alone: the counts of the high 16 bits over {@code [0, n)}. */
    static long[] highHistogram(ChunkRunner runner, long n, Bits bits) {
        return sum(runner.reduce(n, () -> new long[BINS], (h, s, c) -> bits.histogramHigh(s, c, h)));
    }

    /** As {@link #topK(ChunkRunner, long, long, Bits)}, with pass 1's histogram already counted. */
    static Threshold topK(ChunkRunner runner, long n, long k, Bits bits, long[] high) {
        if (k <= 0) return Threshold.NONE;
        if (k >= n) return Threshold.ALL;
        int hBin = BINS - 1;
        long above = 0;
        while (above + high[hBin] < k) above += high[hBin--];

        final int hSel = hBin;
        long[] low = sum(runner.reduce(n, () -> new long[BINS], (h, s, c) -> bits.histogramLow(hSel, s, c, h)));
        int lBin = BINS - 1;
        while (above + low[lBin] < k) above += low[lBin--];

        int threshold = (hSel << 16) | lBin;
        long tiesKept = k - above;
        if (tiesKept == low[lBin]) return new Threshold(threshold, Long.MAX_VALUE);
        return new Threshold(threshold, tieCutoff(runner, n, bits, threshold, tiesKept));
    }

    /** One past the flat index of the {@code nth} element (1-based) whose bits equal {@code value}. */
    private static long tieCutoff(ChunkRunner runner, long n, Bits bits, int value, long nth) {
        int chunk = runner.chunkElements();
        long chunks = (n + chunk - 1) / chunk;
        // Counts per chunk, in chunk order: the cutoff must be found by position, not by thread.
        long[] perChunk = new long[Math.toIntExact(chunks)];
        runner.forEachChunk(n, (s, c) -> perChunk[(int) (s / chunk)] = bits.countEqual(value, s, c));
        long seen = 0;
        for (int c = 0; c < chunks; c++) {
            if (seen + perChunk[c] >= nth) {
                long start = (long) c * chunk;
                int count = (int) Math.min(chunk, n - start);
                return bits.indexOfNthEqual(value, nth - seen, start, count) + 1;
            }
            seen += perChunk[c];
        }
        throw new IllegalStateException("the count of equal values changed between passes");
    }

    private static long[] sum(List<long[]> parts) {
        long[] total = parts.get(0);
        for (int i = 1; i < parts.size(); i++) {
            long[] p = parts.get(i);
            for (int b = 0; b < BINS; b++) total[b] += p[b];
        }
        return total;
    }
}
