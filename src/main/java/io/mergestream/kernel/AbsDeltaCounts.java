package io.mergestream.kernel;

/**
 * The counting passes of the exact magnitude selection (TIES trim, breadcrumbs' band, see
 * method.MagnitudeSelection), shared by every kernel: each range is decoded block by block through the kernel's
 * own {@link MergeKernel#deltas} (the vector kernel's lanes, the scalar kernel's reference loop) and only the
 * counting, a scatter into 65536 bins that no vector instruction does, is this one plain loop.
 */
public final class AbsDeltaCounts {
    /** Elements decoded per block: 8 KB of f32, L1-resident while it is counted. */
    private static final int BLOCK = 2048;

    private AbsDeltaCounts() {}

    /** floatToRawIntBits(|d|) with the sign cleared: for non-negative floats, int order is value order. */
    private static int bits(float d) {
        return Float.floatToRawIntBits(d) & 0x7FFFFFFF;
    }

    /** What one pass does with each decoded block. */
    @FunctionalInterface
    private interface BlockCount {
        /** Counts elements {@code [from, from + n)} whose deltas are {@code d[0, n)}; false stops the pass. */
        boolean count(long from, float[] d, int n);
    }

    private static void forEachBlock(MergeKernel kernel, TensorView base, TensorView model, long start, int count,
                                     BlockCount f) {
        Views.checkMergeable(base, "base", start, count);
        Views.checkMergeable(model, "model", start, count);
        float[] d = new float[Math.min(count, BLOCK)];
        for (int o = 0; o < count; o += BLOCK) {
            int n = Math.min(BLOCK, count - o);
            kernel.deltas(base, model, start + o, n, d);
            if (!f.count(start + o, d, n)) return;
        }
    }

    public static void histogramHigh(MergeKernel kernel, TensorView base, TensorView model, long start, int count,
                                     long[] histogram) {
        checkBins(histogram);
        forEachBlock(kernel, base, model, start, count, (from, d, n) -> {
            for (int o = 0; o < n; o++) histogram[bits(d[o]) >>> 16]++;
            return true;
        });
    }

    public static void histogramLow(MergeKernel kernel, TensorView base, TensorView model, int high, long start,
                                    int count, long[] histogram) {
        checkBins(histogram);
        forEachBlock(kernel, base, model, start, count, (from, d, n) -> {
            for (int o = 0; o < n; o++) {
                int a = bits(d[o]);
                if (a >>> 16 == high) histogram[a & 0xFFFF]++;
            }
            return true;
        });
    }

    public static long countEqual(MergeKernel kernel, TensorView base, TensorView model, int bits, long start,
                                  int count) {
        long[] n = {0};
        forEachBlock(kernel, base, model, start, count, (from, d, c) -> {
            long m = 0;
            for (int o = 0; o < c; o++) if (bits(d[o]) == bits) m++;
            n[0] += m;
            return true;
        });
        return n[0];
    }

    public static long indexOfNthEqual(MergeKernel kernel, TensorView base, TensorView model, int bits, long n,
                                       long start, int count) {
        if (n < 1) throw new IllegalArgumentException("n is 1-based, got " + n);
        long[] seen = {0, -1};
        forEachBlock(kernel, base, model, start, count, (from, d, c) -> {
            for (int o = 0; o < c; o++) {
                if (bits(d[o]) == bits && ++seen[0] == n) {
                    seen[1] = from + o;
                    return false;
                }
            }
            return true;
        });
        return seen[1];
    }

    private static void checkBins(long[] histogram) {
        if (histogram.length != 65536) {
            throw new IllegalArgumentException("the histogram needs 65536 bins, got " + histogram.length);
        }
    }
}
