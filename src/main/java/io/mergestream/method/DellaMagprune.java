package io.mergestream.method;

import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.MergeKernel;

/**
 * DELLA's {@code della_magprune} sparsifier (merge-semantics.md): within each row (the last dimension; a 1-D
 * tensor is one row) of n elements, rank r = 1..n by ascending |delta|, equal |delta| by ascending index;
 * keep element i with probability {@code p_r = (ρ−ε) + ((2ε)·(r−1))/(n−1)} (in double, in that order), drawn with the
 * DARE hash of spec/dare-mask.md: kept iff {@code u(i) < floor(p_r·2^32)}. Kept values are
 * {@code delta / (float) p_r} with {@code rescale: inverse}, else delta ({@code rescale: true}, the L1 rule, is
 * applied to the whole tensor afterwards by {@link TaskArithmeticFamily}). A row of one element keeps with p = ρ.
 *
 * <p>Streaming: a call ranks only the rows its elements lie in, one row at a time (|delta| of one row is
 * decoded on the kernel's lanes and ranked by {@link RowRanks}), never the whole tensor. Under rescale: true only
 * the keep decisions matter, and {@link RowKeep} takes them ranking only the few elements whose rank could change
 * them. The keep threshold and the
 * divisor depend on the rank alone, so both are tabled once per tensor and model (n entries), not computed per
 * element.
 */
final class DellaMagprune implements DeltaSparsifier {

    private final MergeKernel kernel;
    private final MergeInputs in;
    private final int model;
    private final int k0, k1;
    /** rescale: inverse: kept values divided by their keep probability. */
    private final boolean inverse;
    private final int rowLength;
    /** Per rank r - 1: the unsigned keep threshold floor(p_r · 2^32) (2^32 keeps all) and (float) p_r. */
    private final long[] threshold;
    private final float[] divisor;
    /**
     * Whether the keep decisions come from {@link RowKeep} (no full rank of the row): under rescale: true, where only
     * the decision matters, with thresholds non-decreasing in the rank (they are for epsilon >= 0).
     */
    private final boolean bucketed;

    DellaMagprune(MergeKernel kernel, MergeInputs in, int model, long streamKey, double density, double epsilon,
                  boolean inverse) {
        this.kernel = kernel;
        this.in = in;
        this.model = model;
        this.k0 = DareMask.k0(streamKey);
        this.k1 = DareMask.k1(streamKey);
        this.inverse = inverse;
        long row = in.rowLength();
        if (row > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("a row of " + row + " elements is too long to rank");
        this.rowLength = (int) row;
        this.threshold = new long[rowLength];
        this.divisor = new float[rowLength];
        for (int r = 1; r <= rowLength; r++) {
            double p = probability(density, epsilon, r, rowLength);
            threshold[r - 1] = DareMask.threshold(p);
            divisor[r - 1] = (float) p;
        }
        boolean ascending = true;
        for (int r = 1; r < rowLength; r++) ascending &= threshold[r - 1] <= threshold[r];
        this.bucketed = !inverse && ascending;
    }

    /** The keep probability of rank r (1-based) in a row of n. */
    static double probability(double density, double epsilon, long r, long n) {
        if (n <= 1) return density;
        return (density - epsilon) + 2 * epsilon * (double) (r - 1) / (double) (n - 1);
    }

    /**
     * The largest tensor whose keep decisions {@link #recording} tables (one bit per element: 8 MB per fine-tune);
     * larger ones are ranked again by the merge pass, so that memory stays bounded at any vocabulary size.
     */
    static final long RECORDED_ELEMENTS = 1L << 26;

    /** Whether this tensor is small enough for its keep decisions to be recorded. */
    boolean recordable() {
        return in.elements() <= RECORDED_ELEMENTS;
    }

    /**
     * {@code rescale: true}: this sparsifier for the L1 pass, which also sets bit {@code i} of {@code keep} for every
     * element it keeps, so that the merge pass ({@link #replaying}) decides from the bits instead of ranking every row
     * again (ranking was most of a DELLA merge). The L1 pass's blocks start at multiples of 64 elements, so no two
     * threads write one word; its end happens-before the merge pass.
     */
    DeltaSparsifier recording(long[] keep) {
        return (start, count, d, s) -> apply(start, count, d, s, keep);
    }

    /** The merge pass after {@link #recording}: the recorded keep bits, kept deltas as they are (dropped ones +0). */
    static DeltaSparsifier replaying(long[] keep) {
        return (start, count, d, s) -> {
            // without a branch: the bits are random (the DARE hash), so a branch mispredicted every other element
            for (int o = 0; o < count; o++) {
                long i = start + o;
                int kept = (int) (keep[(int) (i >>> 6)] >>> i) & 1;
                s[o] = Float.intBitsToFloat(Float.floatToRawIntBits(d[o]) & -kept); // d's bits, or +0's
            }
        };
    }

    /**
     * As {@link #replaying(long[])}, each value then divided by the L1 rule's q in the same loop: the ops of
     * {@code DeltaSparsifier.dividedBy(replaying(keep), q)}, the same bits, one pass over the range instead of two.
     */
    static DeltaSparsifier replaying(long[] keep, float q) {
        return (start, count, d, s) -> {
            for (int o = 0; o < count; o++) {
                long i = start + o;
                int kept = (int) (keep[(int) (i >>> 6)] >>> i) & 1;
                s[o] = Float.intBitsToFloat(Float.floatToRawIntBits(d[o]) & -kept) / q;
            }
        };
    }

    @Override
    public void apply(long start, int count, float[] d, float[] s) {
        apply(start, count, d, s, null);
    }

    /** As {@link #apply}; when {@code keep} is not null, sets its bit i for every kept element i. */
    private void apply(long start, int count, float[] d, float[] s, long[] keep) {
        int n = rowLength;
        Scratch t = SCRATCH.get();
        if (t.row.length != n) {
            t = new Scratch(n);
            SCRATCH.set(t);
        }
        long end = start + count;
        for (long rowStart = start / n * n; rowStart < end; rowStart += n) {
            int[] decided; // per column of the row: its rank, or (bucketed) its keep bit
            if (t.owner == this && t.rowStart == rowStart) {
                // the row this thread decided last, crossing into this range (L1 blocks of 2^14)
                decided = bucketed ? t.keeps.last() : t.ranks.last();
            } else {
                // a row inside the range is in d already (the same kernel deltas); one that crosses its ends is decoded
                boolean inside = rowStart >= start && rowStart + n <= end;
                if (inside) System.arraycopy(d, (int) (rowStart - start), t.row, 0, n);
                else TaskArithmeticFamily.deltas(kernel, in, model, rowStart, n, t.row);
                decided = bucketed ? t.keeps.keep(t.row, rowStart, k0, k1, threshold) : t.ranks.rank(t.row);
                t.owner = this;
                t.rowStart = rowStart;
            }
            int from = (int) (Math.max(start, rowStart) - start), to = (int) (Math.min(end, rowStart + n) - start);
            int rowAt = (int) (start - rowStart); // decided[o + rowAt] is element o's
            // without branches: the keep decisions are random (the DARE hash), a branch mispredicts every other one
            if (bucketed) {
                for (int o = from; o < to; o++) {
                    long i = start + o;
                    int kept = decided[o + rowAt];
                    s[o] = Float.intBitsToFloat(Float.floatToRawIntBits(d[o]) & -kept); // d's bits, or +0's
                    if (keep != null) keep[(int) (i >>> 6)] |= (long) kept << i;
                }
                continue;
            }
            for (int o = from; o < to; o++) {
                long i = start + o;
                int r = decided[o + rowAt];
                // u < threshold, unsigned, both in [0, 2^32]: the sign of their difference
                int kept = (int) ((Integer.toUnsignedLong(DareMask.u(i, k0, k1)) - threshold[r]) >>> 63);
                float v = inverse ? d[o] / divisor[r] : d[o];
                s[o] = Float.intBitsToFloat(Float.floatToRawIntBits(v) & -kept); // v's bits, or +0's
                if (keep != null) keep[(int) (i >>> 6)] |= (long) kept << i;
            }
        }
    }

    /** Per thread: the rank and keep scratch, one row's deltas, and which row of which sparsifier was decided last. */
    private static final class Scratch {
        final RowRanks ranks;
        final RowKeep keeps;
        final float[] row;
        DellaMagprune owner;
        long rowStart = -1;

        Scratch(int n) {
            ranks = new RowRanks(n);
            keeps = new RowKeep(n, ranks);
            row = new float[n];
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(() -> new Scratch(0));
}
