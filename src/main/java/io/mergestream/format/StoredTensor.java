package io.mergestream.format;

import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/** A tensor of a checkpoint: its descriptor and the shard that holds it. The mapped {@link TensorSource}. */
public record StoredTensor(TensorInfo info, SafetensorsFile shard) implements TensorSource {

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

    /**
     * Tells the OS this tensor has been read: its pages leave the resident set, and with {@code evict} the
     * page cache too (for inputs larger than memory).
     */
    @Override
    public void doneReading(boolean evict) {
        MappedPages.release(data());
        if (evict) MappedPages.evict(shard.path(), shard.fileOffset(info), info.byteSize());
    }

    /** The tensor's bytes: a slice of the shard's mapping, never a copy. */
    public MemorySegment data() {
        return shard.data(info);
    }
}
