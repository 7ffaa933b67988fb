package io.mergestream.kernel;

/**
 * One fine-tune's sparsifier for one tensor that is not a {@link Sparsifier} record (breadcrumbs' outlier band,
 * DELLA's ranks), prepared by its method (every reduction done) and called by
 * {@link MergeKernel#taskArithmetic(ResolvedTaskArithmetic, ComputedSparsifier[], TensorView, TensorView[], TensorView,
 * long, int)} on runs of deltas the kernel has decoded: the kernel does the decoding, the combination and the
 * encoding on its lanes, the method only the keep decision.
 */
@FunctionalInterface
public interface ComputedSparsifier {

    /**
     * {@code s[o]} = the sparsified delta of flat element {@code start + o}, given {@code d[o]} = model - base
     * (f32) for {@code o} in {@code [0, count)}: the kept (maybe rescaled) value or +0. Any range may be asked,
     * in any order and on any thread; {@code d} and {@code s} are the caller's.
     */
    void apply(long start, int count, float[] d, float[] s);
}
