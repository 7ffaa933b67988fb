package io.mergestream.method;

import io.mergestream.engine.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.TensorParams;

/**
 * One merge method. {@link #prepare} sees a whole tensor before any output element is written: methods
 * that need a reduction over the tensor (a top-k, a norm) run it there, on the runner's threads, and
 * return the map step that the engine then runs chunk by chunk.
 */
public interface MergeMethod {

    /** The name recipes use, e.g. {@code dare_ties}. */
    String name();

    ChunkOp prepare(String tensor, TensorParams params, MergeInputs inputs, MergeKernel kernel, ChunkRunner runner);
}
