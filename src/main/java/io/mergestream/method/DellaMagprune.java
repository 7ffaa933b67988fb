package io.mergestream.method;

import io.mergestream.kernel.DareMask;
import java.util.Arrays;

/**
 * DELLA's {@code della_magprune} sparsifier (merge-semantics.md): within each row (the last dimension; a 1-D
 * tensor is one row) of n elements, rank r = 1..n by ascending |delta|, equal |delta| by ascending index;
 * keep element i with probability {@code p_r = (ρ−ε) + ((2ε)·(r−1))/(n−1)} (in double, in that order), drawn with the
 * DARE hash of spec/dare-mask.md: kept iff {@code u(i) < floor(p_r·2^32)}. Kept values are
 * {@code delta / (float) p_r} with {@code rescale: inverse}, else delta ({@code rescale: true}, the L1 rule, is
 * applied to the whole tensor afterwards by {@link TaskArithmeticFamily}). A row of one element keeps with p = ρ.
 *
 * <p>Streaming: a call ranks only the rows its elements lie in, one row at a time (|delta| of one row is
 * read from the mapped tensors and sorted as packed (bits, index) longs), never the whole tensor.
 */
final class DellaMagprune implements DeltaSparsifier {

    private final MergeInputs in;
    private final int model;
    private final int k0, k1;
    private final double density, epsilon;
    /** rescale: inverse: kept values divided by their keep probability. */
    private final boolean inverse;
    private final long rowLength;

    DellaMagprune(MergeInputs in, int model, long streamKey, double density, double epsilon, boolean inverse) {
        this.in = in;
        this.model = model;
        this.k0 = DareMask.k0(streamKey);
        this.k1 = DareMask.k1(streamKey);
        this.density = density;
        this.epsilon = epsilon;
        this.inverse = inverse;
        this.rowLength = in.rowLength();
        if (rowLength > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("a row of " + rowLength + " elements is too long to rank");
    }

    /** The keep probability of rank r (1-based) in a row of n. */
    static double probability(double density, double epsilon, long r, long n) {
        if (n <= 1) return density;
        return (density - epsilon) + 2 * epsilon * (double) (r - 1) / (double) (n - 1);
    }

    @Override
    public void apply(long start, int count, float[] d, float[] s) {
        int n = (int) rowLength;
        long[] keys = new long[n];
        int[] rank = new int[n];
        long end = start + count;
        for (long rowStart = start / n * n; rowStart < end; rowStart += n) {
            rank(rowStart, n, keys, rank);
            long from = Math.max(start, rowStart), to = Math.min(end, rowStart + n);
            for (long i = from; i < to; i++) {
                int o = (int) (i - start);
                double p = probability(density, epsilon, rank[(int) (i - rowStart)], n);
                boolean kept = Integer.toUnsignedLong(DareMask.u(i, k0, k1)) < DareMask.threshold(p);
                s[o] = !kept ? 0f : inverse ? d[o] / (float) p : d[o];
            }
        }
    }

    /** rank[c] = 1-based rank of column c of the row by (|delta| bits, column), ascending. */
    private void rank(long rowStart, int n, long[] keys, int[] rank) {
        for (int c = 0; c < n; c++) {
            long i = rowStart + c;
            float d = (in.modelAt(model, i)).get(i) - in.base().get(i);
            keys[c] = (long) (Float.floatToRawIntBits(d) & 0x7FFFFFFF) << 32 | c;
        }
        Arrays.sort(keys, 0, n);
        for (int r = 0; r < n; r++) rank[(int) keys[r]] = r + 1;
    }
}
