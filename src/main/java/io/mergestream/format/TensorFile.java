package io.mergestream.format;

import io.mergestream.tensor.TensorInfo;
import java.nio.file.Path;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One mapped file that holds tensors: a safetensors file or a PyTorch {@code .bin} (torch.save's zip). Its
 * tensors are read as slices of the file's mapping (a compressed zip entry excepted, see {@code TorchZipFile}).
 * {@link TensorInfo#begin()} and {@link TensorInfo#end()} are format-specific positions; only
 * {@link TensorInfo#byteSize()} means the same for every format.
 */
public interface TensorFile extends AutoCloseable {

    Path path();

    /** Tensors in file order (header order, or the state dict's order). */
    List<TensorInfo> tensors();

    /** The name of {@code tensors().get(i)}; a reader that makes its TensorInfos on access gives it without one. */
    default String tensorName(int i) {
        return tensors().get(i).name();
    }

    /** Size of the whole file in bytes. */
    long fileSize();

    /**
     * The tensor's bytes, row-major, read-only; throws {@link FormatException} for a tensor this reader cannot
     * present that way (see {@link #checkReadable}).
     */
    MemorySegment data(TensorInfo t);

    /** Where the tensor's first byte lies in the file (for page-cache advice). */
    long fileOffset(TensorInfo t);

    /**
     * Throws {@link FormatException} (one line naming file and tensor) when {@link #data} cannot serve the
     * tensor, e.g. a non-contiguous view in a {@code .bin}: planners call it before any output is written, so
     * a model holding such a tensor stays inspectable and is refused only when that tensor is used.
     */
    default void checkReadable(TensorInfo t) {}

    /**
     * The tensor will be read soon: its pages are read in and mapped now ({@link MappedPages#prefetch}, which
     * waits for the disk). Only for a tensor the reader serves as a slice of its mapping; any other
     * (an inflated zip entry) is left alone, so that nothing is computed or allocated ahead of its turn.
     */
    default void prefetch(TensorInfo t) {
        MappedPages.prefetch(data(t));
    }

    /**
     * Tells the OS the tensor has been read: its pages leave the resident set, and with {@code evict} the
     * page cache too (inputs larger than memory).
     */
    default void doneReading(TensorInfo t, boolean evict) {
        MappedPages.release(data(t));
        if (evict) MappedPages.evict(path(), fileOffset(t), t.byteSize());
    }

    @Override
    void close();
}
