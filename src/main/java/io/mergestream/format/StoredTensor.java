package io.mergestream.format;

import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/**
 * A tensor of a checkpoint: its descriptor and the file (safetensors or torch .bin) that holds it. The mapped
 * {@link TensorSource}.
 */
public record StoredTensor(TensorInfo info, TensorFile shard) implements TensorSource {

    @Override
    public String name() {
        return info.name();
    }

    @Override
    public long bytesRead() {
        return info.byteSize();
    }

    @Override
    public MemorySegment mapped() {
        return data();
    }

    @Override
    public void fill(long start, int count, MemorySegment dst) {
        long size = info.dtype().byteSize();
        MemorySegment.copy(data(), start * size, dst, 0, count * size);
    }

    @Override
    public void prefetch() {
        shard.prefetch(info);
    }

    /**
     * Tells the OS this tensor has been read: its pages leave the resident set, and with {@code evict} the
     * page cache too (for inputs larger than memory).
     */
    @Override
    public void doneReading(boolean evict) {
        shard.doneReading(info, evict);
    }

    /**
     * Throws {@link FormatException} (naming file and tensor) if {@link #data} cannot serve this tensor, e.g. a
     * non-contiguous view in a {@code .bin}; call it while planning, before any output exists.
     */
    public void checkReadable() {
        shard.checkReadable(info);
    }

    /** The tensor's bytes: a slice of the shard's mapping, never a copy (an inflated zip entry excepted). */
    public MemorySegment data() {
        return shard.data(info);
    }
}
