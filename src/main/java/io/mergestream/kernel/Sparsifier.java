package io.mergestream.kernel;

/**
 * What one model's delta keeps in one tensor, fully resolved (no per-element decisions left but the test).
 * Kept values are {@code delta / density} when {@code rescale}, else {@code delta}; dropped ones are 0.
 * {@code density} is the per-model divisor of kept values: the density itself for {@code rescale: inverse} (the
 * DARE paper's rule), or {@code (float) (Σ|kept| / Σ|delta|)} over the whole tensor for {@code rescale: true}
 * (mergekit's L1 rule, computed by a reduction pass before the map pass), so one kernel stage serves both.
 */
public sealed interface Sparsifier {

    /** mergekit's tolerance below which an L1 norm is treated as zero and nothing is rescaled. */
    double L1_EPS = 1e-7;

    /**
     * The L1 rule's divisor of kept values, {@code (float) (kept / total)} from the two sums over the whole tensor,
     * or NaN when either is below {@link #L1_EPS} (nothing is rescaled, as mergekit does).
     */
    static float l1Divisor(double total, double kept) {
        if (total < L1_EPS || kept < L1_EPS) return Float.NaN;
        return (float) (kept / total);
    }

    /** Keeps every element unchanged (density 1, or a method without sparsification). */
    record None() implements Sparsifier {}

    /**
     * DARE: element i is kept iff {@code DareMask.u(i, k0, k1) < threshold} (unsigned 32-bit compare,
     * threshold up to 2^32), see spec/dare-mask.md.
     */
    record Random(long threshold, int k0, int k1, float density, boolean rescale) implements Sparsifier {}

    /**
     * Magnitude (TIES trim): with {@code a = floatToRawIntBits(|delta|)} (sign cleared), element i is kept iff
     * {@code a > thresholdBits || (a == thresholdBits && i < tieCutoff)}. Keeping nothing is
     * thresholdBits = Integer.MAX_VALUE, tieCutoff = 0.
     */
    record Magnitude(int thresholdBits, long tieCutoff, float density, boolean rescale) implements Sparsifier {}
}
