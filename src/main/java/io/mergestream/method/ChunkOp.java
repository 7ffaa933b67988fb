package io.mergestream.method;

import io.mergestream.kernel.MergeKernel;

/** The map step of one prepared tensor: computes output elements {@code [start, start + count)}. */
@FunctionalInterface
public interface ChunkOp {
    void run(MergeKernel kernel, long start, int count);
}
