package io.mergestream.format;

import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/**
 * One input tensor as the merge reads it: either its bytes, mapped from a file as they are (zero-copy, the common
 * case: a {@link StoredTensor}), or elements computed on request into a buffer the reader owns (a LoRA product
 * {@code W + s·B·A}, a vocabulary-remapped embedding, an F64 or FP8 tensor decoded to f32). The planner chooses the
 * source for every input; the readers (method.MergeInputs, the engine's copies, delta-stats) turn any source into
 * kernel views in one place and never ask what kind it is beyond {@link #mapped()}.
 *
 * <p>It sits in format/ because it is what a format gives the rest of the program (it knows dtypes and bytes,
 * nothing of kernels or methods): plan/ chooses among sources, method/ and engine/ read them.
 */
public interface TensorSource {

    /**
     * Name, dtype and shape of the elements this source gives, as the merge sees them (a computed source's dtype
     * is the one it fills in, e.g. F32 for a decoded F64 tensor). Only a stored tensor's {@code begin/end} are
     * file offsets; a computed source's span {@code [0, elements × dtype size)}.
     */
    TensorInfo info();

    default String name() {
        return info().name();
    }

    /** Bytes read from the input files to give the whole tensor (progress and the dry run count these). */
    long bytesRead();

    /**
     * The whole tensor's bytes in {@link #info()}'s dtype, as a slice of a mapping, or null when this source
     * computes its elements (then only {@link #fill} gives them).
     */
    MemorySegment mapped();

    /**
     * Writes elements {@code [start, start + count)} (flat, row-major) in {@link #info()}'s dtype, little-endian, to
     * {@code dst} from byte 0. Thread-safe: any thread may fill any range, each into its own buffer.
     */
    void fill(long start, int count, MemorySegment dst);

    /**
     * For a source that holds only the kept elements of a sparsified delta, the others being the base's (a delta
     * pack's kept view, format.pack), the L1 norm {@code Σ|model − base|} of the whole delta it was drawn from, summed
     * as the L1 rescale sums it (its blocks in double): what {@code rescale: true} needs and the kept elements no
     * longer tell. NaN for every other source.
     */
    default double deltaL1() {
        return Double.NaN;
    }

    /**
     * The tensor will be read soon: a stored tensor's pages are read in and mapped now
     * ({@link TensorFile#prefetch}); a computed source does nothing (its inputs are read when it computes).
     * Safe from any thread; it waits for the disk, so the merge calls it from a thread of its own.
     */
    default void prefetch() {}

    /** The tensor has been read: its pages may leave the resident set (and the page cache with {@code evict}). */
    void doneReading(boolean evict);
}
