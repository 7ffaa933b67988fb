package io.mergestream.kernel;

import io.mergestream.tensor.DType;
import io.mergestream.tensor.Elements;
import java.lang.foreign.MemorySegment;

/**
 * Elements of a tensor and their type: the bytes of flat (row-major) elements {@code [origin, end())}.
 * Element i lives at byte offset {@code (i - origin) * dtype.byteSize()} of {@code data}; kernels read it
 * little-endian and unaligned, as safetensors stores it.
 *
 * <p>An input is usually the whole tensor (a slice of a memory-mapped shard, origin 0). The origin lets a
 * view be a window onto one chunk, e.g. a per-thread output buffer that is then written to the file at the
 * chunk's position, while the kernels keep using the element's flat index in the tensor, which the DARE
 * mask hashes and the magnitude selection's tie cut-off compares.
 */
public record TensorView(MemorySegment data, DType dtype, long origin) {

    public TensorView {
        if (origin < 0) throw new IllegalArgumentException("origin " + origin + " < 0");
    }

    /** The whole tensor: element 0 at byte 0. */
    public TensorView(MemorySegment data, DType dtype) {
        this(data, dtype, 0);
    }

    /** How many elements {@code data} holds. */
    public long elements() {
        return data.byteSize() / dtype.byteSize();
    }

    /** One past the last element held: {@code origin + elements()}. */
    public long end() {
        return origin + elements();
    }

    /** Flat element {@code i}, exactly widened to f32 (the codec of {@link Elements}). */
    public float get(long i) {
        return Elements.decode(data, dtype, i - origin);
    }

    /** Writes flat element {@code i}, rounded to nearest even; NaN becomes the type's canonical NaN. */
    public void set(long i, float value) {
        Elements.encode(data, dtype, i - origin, value);
    }

    /** Byte offset of flat element {@code i} in {@code data}. */
    public long offsetOf(long i) {
        return (i - origin) * dtype.byteSize();
    }
}
