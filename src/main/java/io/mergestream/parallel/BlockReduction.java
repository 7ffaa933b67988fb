package io.mergestream.parallel;

import java.util.List;
import java.util.function.Supplier;

/**
 * Floating-point sums over a whole tensor (norms, dot products, statistics) that come out bit-identical
 * whatever the thread count and chunk size: each fixed block of elements is summed on its own (in double, in
 * element order), and the block partials are added in block order. Anything that combines exactly (integer
 * counts, maxima, histograms) can go into per-thread states alongside.
 */
public final class BlockReduction {

    /** Elements per block by default: fixed, so that the grouping of additions never depends on how work is split. */
    public static final int BLOCK = 1 << 14;

    /** Adds the block's contributions into {@code acc[0 .. width)} (zeroed before each block). */
    @FunctionalInterface
    public interface BlockSum {
        void accumulate(long start, int count, double[] acc);
    }

    /** As {@link BlockSum}, also accumulating exact figures into the running thread's {@code state}. */
    @FunctionalInterface
    public interface StatefulBlockSum<S> {
        void accumulate(S state, long start, int count, double[] acc);
    }

    /** The per-thread states (for the caller to combine) and the block-ordered totals. */
    public record Result<S>(List<S> states, double[] totals) {}

    private BlockReduction() {}

    /** Sums {@code width} quantities over {@code [0, elements)} in blocks of {@link #BLOCK}. */
    public static double[] sum(ChunkRunner runner, long elements, int width, BlockSum f) {
        return run(runner, elements, BLOCK, width, () -> null, (state, start, count, acc) -> f.accumulate(start, count, acc))
                .totals();
    }

    /** Sums {@code width} quantities over {@code [0, elements)} in blocks of {@code block}, with per-thread states. */
    public static <S> Result<S> run(ChunkRunner runner, long elements, int block, int width, Supplier<S> newState,
                                    StatefulBlockSum<S> f) {
        long blocks = (elements + block - 1) / block;
        if (blocks * width > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor too large for one reduction");
        double[] partials = new double[(int) (blocks * width)];
        List<S> states = runner.reduce(elements, block, newState, (state, start, count) -> {
            double[] acc = new double[width];
            f.accumulate(state, start, count, acc);
            System.arraycopy(acc, 0, partials, (int) (start / block) * width, width);
        });
        double[] total = new double[width];
        for (long b = 0; b < blocks; b++) {
            for (int w = 0; w < width; w++) total[w] += partials[(int) (b * width + w)];
        }
        return new Result<>(states, total);
    }
}
