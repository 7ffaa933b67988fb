package io.mergestream.kernel;

import io.mergestream.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * A whole tensor's bytes (usually a slice of a memory-mapped shard) and their element type. Element i
 * (flat, row-major) lives at byte offset {@code i * dtype.byteSize()}; kernels read it little-endian and
 * unaligned, as safetensors stores it.
 */
public record TensorView(MemorySegment data, DType dtype) {
    public long elements() {
        return data.byteSize() / dtype.byteSize();
    }
}
