package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;

/**
 * Exact top-k of a non-negative per-element score computed from the inputs (SCE's variance across the
 * fine-tunes): {@link RadixSelect} over the score's float bits, ties to the lowest flat index.
 */
final class ScoreSelection {

    /** Writes the scores' bits ({@code floatToRawIntBits} with the sign cleared) of {@code [start, start + count)}. */
    @FunctionalInterface
    interface Scores {
        void bits(long start, int count, int[] out);
    }

    private ScoreSelection() {}

    /** The test keeping the {@code k} largest scores of {@code [0, n)}, ties to the lowest index. */
    static RadixSelect.Threshold topK(ChunkRunner runner, long n, long k, Scores scores) {
        return RadixSelect.topK(runner, n, k, bits(scores));
    }

    /**
     * The test keeping the {@code floor(fraction · z)} largest scores of {@code [0, n)}, where z counts the non-zero
     * scores (SCE's {@code select_topk}): z is counted in the same pass as the high-bits histogram (every score with
     * bits 0 is in bin 0), so the selection reads the inputs once less than counting first would.
     */
    static RadixSelect.Threshold topOfNonzero(ChunkRunner runner, long n, double fraction, Scores scores) {
        RadixSelect.Bits bits = bits(scores);
        java.util.List<long[]> parts = runner.reduce(n, () -> new long[BINS + 1], (h, start, count) -> {
            int[] b = new int[count];
            scores.bits(start, count, b);
            long z = 0;
            for (int x : b) {
                h[x >>> 16]++;
                if (x == 0) z++;
            }
            h[BINS] += z;
        });
        long[] high = new long[BINS];
        long zeros = 0;
        for (long[] part : parts) {
            for (int i = 0; i < BINS; i++) high[i] += part[i];
            zeros += part[BINS];
        }
        long k = (long) Math.floor(fraction * (n - zeros));
        return RadixSelect.topK(runner, n, k, bits, high);
    }

    private static final int BINS = 1 << 16;

    private static RadixSelect.Bits bits(Scores scores) {
        return new RadixSelect.Bits() {
            @Override
            public void histogramHigh(long start, int count, long[] h) {
                for (int x : bits(start, count)) h[x >>> 16]++;
            }

            @Override
            public void histogramLow(int high, long start, int count, long[] h) {
                for (int x : bits(start, count)) if (x >>> 16 == high) h[x & 0xFFFF]++;
            }

            @Override
            public long countEqual(int value, long start, int count) {
                long m = 0;
                for (int x : bits(start, count)) if (x == value) m++;
                return m;
            }

            @Override
            public long indexOfNthEqual(int value, long nth, long start, int count) {
                int[] b = bits(start, count);
                long seen = 0;
                for (int o = 0; o < count; o++) if (b[o] == value && ++seen == nth) return start + o;
                return -1;
            }

            private int[] bits(long start, int count) {
                int[] b = new int[count];
                scores.bits(start, count, b);
                return b;
            }
        };
    }
}
