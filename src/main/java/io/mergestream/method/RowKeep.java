package io.mergestream.method;

import io.mergestream.kernel.DareMask;

/**
 * DELLA's keep decisions of one row without ranking every element: exactly {@code u(i) < threshold[rank(i)]} with
 * rank(i) as {@link RowRanks} defines it, for a {@code threshold} table that is non-decreasing in the rank (what
 * {@code rescale: true} needs; {@code rescale: inverse} divides by the rank's probability and needs every rank).
 *
 * <p>Why this is enough: one histogram of the |delta| bits in about n buckets of equal key width bounds each
 * element's rank to its bucket's interval [lo, hi] (every element of a lower bucket has a smaller key, of a higher
 * one a larger key). As the thresholds only grow with the rank, {@code u < threshold[lo]} keeps and
 * {@code u >= threshold[hi]} drops whatever the exact rank; only elements whose u falls inside the bucket's slice of
 * the 2ε keep band are undecided (about a dozen of 896 on a bf16 family), and only those are ranked exactly: the
 * number of elements that precede them in (key, column) order, counted over the row. When more than
 * {@link #FULL_RANK} elements are undecided (say a row of a few distinct values), the row is ranked in full instead:
 * the same decisions by the other route. Scratch is reused row after row; one instance per thread.
 */
final class RowKeep {

    /**
     * The next power of two above n buckets, at least 2^10 and at most 2^20: few enough to clear and prefix-sum per
     * row, enough that a bucket's rank span, and so the share of undecided elements, stays narrow.
     */
    private static int logBuckets(int n) {
        return Math.clamp(32 - Integer.numberOfLeadingZeros(n), 10, 20);
    }

    private final int[] keys, kept, undecided, draws;
    /**
     * The undecided elements of a row above which it is ranked in full: one exact rank by counting (a pass over the
     * keys) measured about 1/80 of the row's radix sort (rows of 896), and both grow linearly with the row.
     */
    static final int FULL_RANK = 64;

    private final int logBuckets;
    /** Bucket starts (prefix sums) at 0..buckets. */
    private final int[] counts;
    private final RowRanks ranks;

    /** Scratch for rows of n elements; {@code ranks} (rows of n too) ranks the rows of many undecided elements. */
    RowKeep(int n, RowRanks ranks) {
        keys = new int[n];
        kept = new int[n];
        undecided = new int[n];
        draws = new int[n];
        this.ranks = ranks;
        logBuckets = logBuckets(n);
        counts = new int[(1 << logBuckets) + 1];
    }

    /** The array the last {@link #keep} call returned, as it returned it. */
    int[] last() {
        return kept;
    }

    /**
     * kept[c] = 1 if column c of the row at flat index {@code rowStart} is kept ({@code u(rowStart + c) <
     * threshold[rank(c)]}, unsigned), else 0 (its returned array is reused by the next call).
     */
    int[] keep(float[] d, long rowStart, int k0, int k1, long[] threshold) {
        int n = kept.length;
        if (n == 0) return kept;
        int[] k = keys;
        int min = Integer.MAX_VALUE, max = 0;
        for (int i = 0; i < n; i++) {
            int key = Float.floatToRawIntBits(d[i]) & 0x7FFFFFFF;
            k[i] = key;
            min = Math.min(min, key);
            max = Math.max(max, key);
        }
        int range = max - min; // both in [0, 2^31 - 1]: no overflow
        int shift = Math.max(0, 32 - Integer.numberOfLeadingZeros(range) - logBuckets);
        int buckets = (range >>> shift) + 1;
        int[] at = counts;
        java.util.Arrays.fill(at, 0, buckets + 1, 0);
        for (int i = 0; i < n; i++) at[((k[i] - min) >>> shift) + 1]++;
        for (int b = 0; b < buckets; b++) at[b + 1] += at[b]; // at[b] = the number of elements below bucket b
        // the sure decisions, without branches (u is random: a branch would mispredict); the rest listed
        int[] uu = draws;
        // the draws in a loop of their own, apart from the gathers below: measured faster
        for (int i = 0; i < n; i++) uu[i] = DareMask.u(rowStart + i, k0, k1);
        int[] und = undecided;
        int nu = 0;
        for (int i = 0; i < n; i++) {
            int b = (k[i] - min) >>> shift;
            int lo = at[b], hi = at[b + 1] - 1;
            long u = Integer.toUnsignedLong(uu[i]);
            int keepSure = (int) ((u - threshold[lo]) >>> 63);     // u < threshold[lo] <= threshold[rank]
            int dropSure = (int) ~((u - threshold[hi]) >>> 63) & 1; // u >= threshold[hi] >= threshold[rank]
            int open = 1 - keepSure - dropSure;                     // the two exclude each other: lo <= hi
            kept[i] = keepSure;
            und[nu] = i;
            nu += open;
        }
        if (nu == 0) return kept;
        if (nu > FULL_RANK) { // too many to rank one by one: rank the row (RowRanks), decide from the exact ranks
            int[] rank = ranks.rank(d);
            for (int x = 0; x < nu; x++) {
                int i = und[x];
                kept[i] = (int) ((Integer.toUnsignedLong(uu[i]) - threshold[rank[i]]) >>> 63);
            }
            return kept;
        }
        for (int x = 0; x < nu; x++) {
            int i = und[x], key = k[i], rank = 0;
            // (key, column) order: the columns before i count if their key is <=, those after if it is <; the keys
            // are in [0, 2^31): the differences do not overflow, their sign bit is the comparison (the loops vectorize)
            for (int j = 0; j < i; j++) rank += (k[j] - key - 1) >>> 31;
            for (int j = i + 1; j < n; j++) rank += (k[j] - key) >>> 31;
            kept[i] = (int) ((Integer.toUnsignedLong(uu[i]) - threshold[rank]) >>> 63);
        }
        return kept;
    }
}
