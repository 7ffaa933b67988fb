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
    private final int[] counts = new int[256];

    RowRanks(int n) {
        keys = new int[n];
        columns = new int[n];
        keys2 = new int[n];
        columns2 = new int[n];
        rank = new int[n];
    }

    /** rank[c] = the 0-based rank of column c (its returned array is reused by the next call). */
    int[] rank(float[] d) {
        int n = rank.length;
        int[] k = keys, c = columns, k2 = keys2, c2 = columns2;
        for (int i = 0; i < n; i++) {
            k[i] = Float.floatToRawIntBits(d[i]) & 0x7FFFFFFF;
            c[i] = i;
        }
        for (int shift = 0; shift < 31; shift += 8) {
            java.util.Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++) counts[(k[i] >>> shift) & 0xFF]++;
            if (n == 0 || counts[(k[0] >>> shift) & 0xFF] == n) continue; // one digit everywhere: already in order
            for (int b = 0, sum = 0; b < 256; b++) {
                int x = counts[b];
                counts[b] = sum;
                sum += x;
            }
            for (int i = 0; i < n; i++) {
                int at = counts[(k[i] >>> shift) & 0xFF]++;
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
