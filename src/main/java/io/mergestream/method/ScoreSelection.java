package io.mergestream.method;

import io.mergestream.engine.ChunkRunner;
import java.util.List;

/**
 * Exact top-k of a non-negative per-element score (SCE's variance across the fine-tunes) by a radix select
 * over the score's float bits, like {@link MagnitudeSelection} but for any score computed from the inputs:
 * pass 1 counts the high 16 bits, pass 2 the low 16 bits inside the threshold's bin, pass 3 (only when some
 * equal scores are cut) finds where the kept ties end. Ties go to the lowest flat index. Every pass streams
 * the tensor in parallel chunks with exact integer counts, so the result is independent of the threads.
 */
final class ScoreSelection {

    /** Writes the scores' bits ({@code floatToRawIntBits} with the sign cleared) of {@code [start, start + count)}. */
    @FunctionalInterface
    interface Scores {
        void bits(long start, int count, int[] out);
    }

    /** Kept iff {@code bits > thresholdBits || (bits == thresholdBits && i < tieCutoff)}. */
    record Threshold(int thresholdBits, long tieCutoff) {
        static final Threshold NONE = new Threshold(Integer.MAX_VALUE, 0);
        static final Threshold ALL = new Threshold(0, Long.MAX_VALUE);

        boolean keeps(int bits, long i) {
            return bits > thresholdBits || (bits == thresholdBits && i < tieCutoff);
        }
    }

    private static final int BINS = 1 << 16;

    private ScoreSelection() {}

    static Threshold topK(ChunkRunner runner, long n, long k, Scores scores) {
        if (k <= 0) return Threshold.NONE;
        if (k >= n) return Threshold.ALL;
        long[] high = sum(runner.reduce(n, () -> new long[BINS], (h, s, c) -> {
            int[] b = new int[c];
            scores.bits(s, c, b);
            for (int x : b) h[x >>> 16]++;
        }));
        int hBin = BINS - 1;
        long above = 0;
        while (above + high[hBin] < k) above += high[hBin--];
        final int hSel = hBin;
        long[] low = sum(runner.reduce(n, () -> new long[BINS], (h, s, c) -> {
            int[] b = new int[c];
            scores.bits(s, c, b);
            for (int x : b) if (x >>> 16 == hSel) h[x & 0xFFFF]++;
        }));
        int lBin = BINS - 1;
        while (above + low[lBin] < k) above += low[lBin--];
        int threshold = (hSel << 16) | lBin;
        long tiesKept = k - above;
        if (tiesKept == low[lBin]) return new Threshold(threshold, Long.MAX_VALUE);

        int chunk = runner.chunkElements();
        long chunks = (n + chunk - 1) / chunk;
        long[] perChunk = new long[(int) chunks];
        runner.forEachChunk(n, (s, c) -> {
            int[] b = new int[c];
            scores.bits(s, c, b);
            long m = 0;
            for (int x : b) if (x == threshold) m++;
            perChunk[(int) (s / chunk)] = m;
        });
        long seen = 0;
        for (int c = 0; c < chunks; c++) {
            if (seen + perChunk[c] >= tiesKept) {
                long start = (long) c * chunk;
                int count = (int) Math.min(chunk, n - start);
                int[] b = new int[count];
                scores.bits(start, count, b);
                for (int o = 0; o < count; o++) {
                    if (b[o] == threshold && ++seen == tiesKept) return new Threshold(threshold, start + o + 1);
                }
            }
            seen += perChunk[c];
        }
        throw new IllegalStateException("the tie count changed between passes");
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
