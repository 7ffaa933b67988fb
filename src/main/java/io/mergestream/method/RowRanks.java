package io.mergestream.method;

/**
 * The ranks of one row's |delta| (DELLA's MagPrune): ascending by the bits of |delta| (sign cleared; for
 * non-negative floats int order is value order), equal values by ascending column. A least-significant-digit radix
 * sort of the 31 value bits, 8 bits a pass, is stable, so columns that start in order stay in order among equal
 * values: exactly the order of sorting (bits, column) pairs, in O(n) per row instead of a comparison sort's
 * O(n log n) (which was most of a DELLA merge's time). A pass whose digit is the same in every element (the high
 * exponent bits usually are) is skipped. Scratch is reused row after row; one instance per thread.
 */
final class RowRanks {

    private final int[] keys, columns, keys2, columns2, rank;
    /** The digit counts of all four passes, counted in one read of the keys (pass p at 256 * p). */
    private final int[] counts = new int[4 * 256];

    RowRanks(int n) {
        keys = new int[n];
        columns = new int[n];
        keys2 = new int[n];
        columns2 = new int[n];
        rank = new int[n];
    }

    /** The array the last {@link #rank} call returned, as it returned it. */
    int[] last() {
        return rank;
    }

    /** rank[c] = the 0-based rank of column c (its returned array is reused by the next call). */
    int[] rank(float[] d) {
        int n = rank.length;
        int[] k = keys, c = columns, k2 = keys2, c2 = columns2;
        java.util.Arrays.fill(counts, 0);
        // a pass permutes the keys but never changes which digits occur, so every pass's counts are known up front
        for (int i = 0; i < n; i++) {
            int key = Float.floatToRawIntBits(d[i]) & 0x7FFFFFFF;
            k[i] = key;
            c[i] = i;
            counts[key & 0xFF]++;
            counts[256 + ((key >>> 8) & 0xFF)]++;
            counts[512 + ((key >>> 16) & 0xFF)]++;
            counts[768 + (key >>> 24)]++;
        }
        for (int shift = 0, at0 = 0; shift < 31; shift += 8, at0 += 256) {
            final int base = at0;
            if (n == 0 || counts[base + ((k[0] >>> shift) & 0xFF)] == n) continue; // one digit everywhere: in order
            for (int b = 0, sum = 0; b < 256; b++) {
                int x = counts[base + b];
                counts[base + b] = sum;
                sum += x;
            }
            for (int i = 0; i < n; i++) {
                int at = counts[base + ((k[i] >>> shift) & 0xFF)]++;
                k2[at] = k[i];
                c2[at] = c[i];
            }
            int[] t = k; k = k2; k2 = t;
            t = c; c = c2; c2 = t;
        }
        for (int r = 0; r < n; r++) rank[c[r]] = r;
        return rank;
    }
}
