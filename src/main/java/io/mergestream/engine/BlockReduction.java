package io.mergestream.engine;

/**
 * Floating-point sums over a whole tensor (norms, dot products) that come out bit-identical whatever the
 * thread count and chunk size: each fixed block of {@link #BLOCK} elements is summed on its own (in double,
 * in element order), and the block partials are added in block order. Integer counts need none of this.
 */
public final class BlockReduction {

    /** Elements per block: fixed, so that the grouping of additions never depends on how work is split. */
    public static final int BLOCK = 1 << 14;

    /** Adds the block's contributions into {@code acc[0 .. width)} (zeroed before each block). */
    @FunctionalInterface
    public interface BlockSum {
        void accumulate(long start, int count, double[] acc);
    }

    private BlockReduction() {}

    /** Sums {@code width} quantities over {@code [0, elements)}; returns them in a fresh array. */
    public static double[] sum(ChunkRunner runner, long elements, int width, BlockSum f) {
        long blocks = (elements + BLOCK - 1) / BLOCK;
        if (blocks * width > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large for one reduction");
        double[] partials = new double[(int) (blocks * width)];
        runner.forEachChunk(elements, BLOCK, (start, count) -> {
            double[] acc = new double[width];
            f.accumulate(start, count, acc);
            System.arraycopy(acc, 0, partials, (int) (start / BLOCK) * width, width);
        });
        double[] total = new double[width];
        for (long b = 0; b < blocks; b++) {
            for (int w = 0; w < width; w++) total[w] += partials[(int) (b * width + w)];
        }
        return total;
    }
}
