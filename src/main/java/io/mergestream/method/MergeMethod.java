package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

/**
 * One merge method. {@link #prepare} sees a whole tensor before any output element is written: methods
 * that need a reduction over the tensor (a top-k, a norm) run it there, on the runner's threads, and
 * return the map step that the engine then runs chunk by chunk.
 */
public interface MergeMethod {

    /** The name recipes use, e.g. {@code dare_ties}. */
    String name();

    ChunkOp prepare(String tensor, TensorParams params, MergeInputs inputs, MergeKernel kernel, ChunkRunner runner);

    /**
     * Whether it drops delta elements with the DARE keep-mask of docs/dare-mask.md (dare_linear, dare_ties): then a
     * delta pack drawn with the same density, seed and model ordinal is read as its kept delta, not dropped twice.
     */
    default boolean drawsDareMask() {
        return false;
    }

    /**
     * True when every pass of this tensor's merge reads its inputs one chunk at a time, through
     * {@link MergeInputs#forEachPiece} or {@link MergeInputs#windows} only: computed inputs (LoRA products, remapped
     * vocabularies, decoded F64/FP8) are then filled chunk by chunk into per-thread buffers and memory stays flat.
     * False (the default) when some pass reads whole tensors (top-k, norms, per-row or per-column passes): computed
     * inputs are materialised for the tensor first (see {@link MergeInputs}).
     */
    default boolean streamsInputs(TensorParams params) {
        return false;
    }
}
