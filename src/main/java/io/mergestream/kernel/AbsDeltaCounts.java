package io.mergestream.kernel;

/**
 * The counting passes of the exact magnitude selection (TIES trim, see method.MagnitudeSelection), shared by every kernel: they run once
 * or twice per tensor and are bound by memory, so one plain loop serves all.
 */
public final class AbsDeltaCounts {
    private AbsDeltaCounts() {}

    /** floatToRawIntBits(|x - b|) with the sign cleared: for non-negative floats, int order is value order. */
    public static int absDeltaBits(TensorView base, TensorView model, long i) {
        float d = model.get(i) - base.get(i);
        return Float.floatToRawIntBits(d) & 0x7FFFFFFF;
    }

    public static void histogramHigh(TensorView base, TensorView model, long start, int count, long[] histogram) {
        check(base, model, start, count);
        checkBins(histogram);
        for (long i = start, end = start + count; i < end; i++) {
            histogram[absDeltaBits(base, model, i) >>> 16]++;
        }
    }

    public static void histogramLow(TensorView base, TensorView model, int high, long start, int count,
                                    long[] histogram) {
        check(base, model, start, count);
        checkBins(histogram);
        for (long i = start, end = start + count; i < end; i++) {
            int a = absDeltaBits(base, model, i);
            if (a >>> 16 == high) histogram[a & 0xFFFF]++;
        }
    }

    public static long countEqual(TensorView base, TensorView model, int bits, long start, int count) {
        check(base, model, start, count);
        long n = 0;
        for (long i = start, end = start + count; i < end; i++) {
            if (absDeltaBits(base, model, i) == bits) n++;
        }
        return n;
    }

    public static long indexOfNthEqual(TensorView base, TensorView model, int bits, long n, long start, int count) {
        check(base, model, start, count);
        if (n < 1) throw new IllegalArgumentException("n is 1-based, got " + n);
        long seen = 0;
        for (long i = start, end = start + count; i < end; i++) {
            if (absDeltaBits(base, model, i) == bits && ++seen == n) return i;
        }
        return -1;
    }

    private static void check(TensorView base, TensorView model, long start, int count) {
        Views.checkMergeable(base, "base", start, count);
        Views.checkMergeable(model, "model", start, count);
    }

    private static void checkBins(long[] histogram) {
        if (histogram.length != 65536) {
            throw new IllegalArgumentException("the histogram needs 65536 bins, got " + histogram.length);
        }
    }
}
