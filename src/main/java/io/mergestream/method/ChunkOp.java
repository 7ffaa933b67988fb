package io.mergestream.method;

import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.TensorView;

/**
 * The map step of one prepared tensor: computes output elements {@code [start, start + count)} into
 * {@code out}, a window that holds exactly those elements (its origin is {@code start}: usually a per-thread
 * chunk buffer the engine then writes to the output sink). A map step writes no other element, and reads
 * nothing back from {@code out}; the window's bounds enforce the first.
 */
@FunctionalInterface
public interface ChunkOp {
    void run(MergeKernel kernel, TensorView out, long start, int count);
}
