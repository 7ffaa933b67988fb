package io.mergestream.method;

import io.mergestream.kernel.ComputedSparsifier;
import io.mergestream.kernel.Sparsifier;

/**
 * One fine-tune's sparsifier for one tensor, prepared (every reduction done), applied to a run of deltas in
 * the method's own code rather than inside a kernel: for the sparsifiers that are not kernel
 * {@link Sparsifier} records (breadcrumbs' band, DELLA's ranks), and for their L1 reduction. The kernel decodes
 * the deltas and finishes each element ({@link io.mergestream.kernel.MergeKernel#taskArithmetic(
 * io.mergestream.kernel.ResolvedTaskArithmetic, ComputedSparsifier[], io.mergestream.kernel.TensorView,
 * io.mergestream.kernel.TensorView[], io.mergestream.kernel.TensorView, long, int)}).
 */
@FunctionalInterface
interface DeltaSparsifier extends ComputedSparsifier {

    DeltaSparsifier KEEP_ALL = (start, count, d, s) -> System.arraycopy(d, 0, s, 0, count);

    /** {@code rescale: true / l1}, and breadcrumbs' {@code inverse}: kept values divided by q (dropped ones stay +0). */
    static DeltaSparsifier dividedBy(DeltaSparsifier inner, float q) {
        return (start, count, d, s) -> {
            inner.apply(start, count, d, s);
            for (int o = 0; o < count; o++) s[o] = s[o] / q;
        };
    }
}
