package io.mergestream.analysis;

import io.mergestream.engine.ChunkRunner;
import java.util.List;
import java.util.function.Supplier;

/**
 * One streamed pass over a tensor's elements for the statistics commands, with results that do not depend on
 * the thread count or the chunk size: floating-point sums are taken per fixed block of {@code blockElements}
 * elements (aligned to the tensor's start, whatever chunk or thread runs it) and added in block order;
 * everything else goes into per-thread states that the caller combines exactly (integer counts, maxima).
 * The runner's chunk size must be a multiple of the block size.
 */
final class BlockPass {

    /** Processes elements {@code [start, start + count)} of one block; writes its sums into {@code sums[at..]}. */
    @FunctionalInterface
    interface Block<S> {
        void run(S state, long start, int count, double[] sums, int at);
    }

    /** The per-thread states and the block-ordered totals of the {@code doubles} sums. */
    record Result<S>(List<S> states, double[] totals) {}

    private BlockPass() {}

    static <S> Result<S> run(ChunkRunner runner, int blockElements, long n, int doubles, Supplier<S> newState,
                             Block<S> block) {
        if (runner.chunkElements() % blockElements != 0) {
            throw new IllegalArgumentException("chunk size " + runner.chunkElements()
                    + " is not a multiple of the block size " + blockElements);
        }
        long blocks = (n + blockElements - 1) / blockElements;
        if (blocks * doubles > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor too large: " + n);
        double[] sums = new double[(int) (blocks * doubles)];
        List<S> states = runner.reduce(n, newState, (state, start, count) -> {
            for (long s = start, end = start + count; s < end; s += blockElements) {
                int c = (int) Math.min(blockElements, end - s);
                block.run(state, s, c, sums, (int) (s / blockElements) * doubles);
            }
        });
        double[] totals = new double[doubles];
        for (int b = 0; b < blocks; b++) {
            for (int k = 0; k < doubles; k++) totals[k] += sums[b * doubles + k];
        }
        return new Result<>(states, totals);
    }
}
