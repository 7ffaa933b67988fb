package io.mergestream.format;

import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/** A tensor of a checkpoint: its descriptor and the shard that holds it. */
public record StoredTensor(TensorInfo info, SafetensorsFile shard) {

    public String name() {
        return info.name();
    }

    /**
     * Tells the OS this tensor has been read: its pages leave the resident set, and with {@code evict} the
     * page cache too (for inputs larger than memory).
     */
    public void doneReading(boolean evict) {
        MappedPages.release(data());
        if (evict) MappedPages.evict(shard.path(), shard.fileOffset(info), info.byteSize());
    }

    /** The tensor's bytes: a slice of the shard's mapping, never a copy. */
    public MemorySegment data() {
        return shard.data(info);
    }
}
