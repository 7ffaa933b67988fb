package io.mergestream.format;

import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/** A tensor of a checkpoint: its descriptor and the shard that holds it. */
public record StoredTensor(TensorInfo info, SafetensorsFile shard) {

    public String name() {
        return info.name();
    }

    /** The tensor's bytes: a slice of the shard's mapping, never a copy. */
    public MemorySegment data() {
        return shard.data(info);
    }
}
