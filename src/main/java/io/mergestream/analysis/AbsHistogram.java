package io.mergestream.analysis;

/**
 * An exact integer histogram of |x| over log-spaced bins taken from the f32 bit pattern: the bin of a
 * non-negative float is its top 16 bits (sign, 8 exponent bits, the top 7 mantissa bits), so every power of
 * two is split into 128 bins of equal width and a bin's upper edge is at most {@code 1 + 2^-7} times its
 * lower edge. Exponents are kept from 2^-40 up to 2^24: bin 0 holds every |x| below 2^-40 (zero included),
 * the last bin everything from 2^24 up (inf, NaN). 8194 bins, 64 KB.
 *
 * <p>Quantiles are nearest-rank (the smallest value with at least {@code ceil(q n)} values at or below it)
 * and reported as the midpoint of the bin holding that value, clamped to the exact maximum: the error is at
 * most half a bin, i.e. {@value #RELATIVE_ERROR} times the true value (or 2^-40 absolute in bin 0). Counts
 * are integers, so adding histograms in any order gives the same result: the statistics do not depend on
 * the thread count or the chunk size.
 */
public final class AbsHistogram {

    /** Biased f32 exponent of 2^-40, the lowest exponent with bins of its own. */
    static final int MIN_EXPONENT = 127 - 40;
    static final int EXPONENTS = 64;
    static final int SUB_BINS = 128;
    public static final int BINS = 2 + EXPONENTS * SUB_BINS;
    /** The largest quantile error relative to the true value: half a bin, 2^-8. */
    public static final double RELATIVE_ERROR = 1.0 / 256;
    /** Values below this share bin 0 (reported as 0). */
    public static final double TINY = 0x1p-40;

    final long[] counts = new long[BINS];

    /** The bin of {@code absBits = floatToRawIntBits(|x|)} (sign cleared). */
    public static int bin(int absBits) {
        int key = absBits >>> 16;
        int e = key >>> 7;
        if (e < MIN_EXPONENT) return 0;
        if (e >= MIN_EXPONENT + EXPONENTS) return BINS - 1;
        return 1 + key - (MIN_EXPONENT << 7);
    }

    /** Lower edge of a bin (0 for bin 0). */
    public static double lower(int bin) {
        if (bin == 0) return 0;
        return Float.intBitsToFloat((bin - 1 + (MIN_EXPONENT << 7)) << 16);
    }

    /** Upper edge of a bin (infinity for the last). */
    public static double upper(int bin) {
        if (bin == BINS - 1) return Double.POSITIVE_INFINITY;
        if (bin == 0) return TINY;
        return Float.intBitsToFloat((bin + (MIN_EXPONENT << 7)) << 16);
    }

    public void add(int absBits) {
        counts[bin(absBits)]++;
    }

    public void add(AbsHistogram other) {
        for (int i = 0; i < BINS; i++) counts[i] += other.counts[i];
    }

    public long count(int bin) {
        return counts[bin];
    }

    public long total() {
        long n = 0;
        for (long c : counts) n += c;
        return n;
    }

    /**
     * The nearest-rank q-quantile estimate (see the class comment), never above {@code max}; NaN when empty.
     */
    public double quantile(double q, double max) {
        long n = total();
        if (n == 0) return Double.NaN;
        long rank = Math.max(1, (long) Math.ceil(q * n));
        long seen = 0;
        for (int b = 0; b < BINS; b++) {
            seen += counts[b];
            if (seen >= rank) {
                if (b == 0) return 0;
                if (b == BINS - 1) return max;
                return Math.min((lower(b) + upper(b)) / 2, max);
            }
        }
        return max;
    }
}
