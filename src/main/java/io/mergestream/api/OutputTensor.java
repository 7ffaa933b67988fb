package io.mergestream.api;

import java.lang.foreign.MemorySegment;

/**
 * One finished output tensor, as a {@link TensorSink} receives it: little-endian elements in row-major order, as
 * a safetensors file holds them.
 *
 * @param name  the tensor's name
 * @param dtype its dtype as safetensors spells it ({@code BF16}, {@code F16}, {@code F32}, {@code I64}, ...)
 * @param shape its shape (the caller's copy)
 * @param data  its bytes, read-only; valid only during the call that hands it over, unless the owner says
 *              otherwise ({@link InMemoryModel#tensor(String)}: until the model is closed)
 */
public record OutputTensor(String name, String dtype, long[] shape, MemorySegment data) {

    /**
     * A tensor as a sink receives it.
     *
     * @param name  the name
     * @param dtype the dtype
     * @param shape the shape (copied)
     * @param data  the bytes
     */
    public OutputTensor {
        shape = shape.clone();
    }

    /**
     * A copy of the shape.
     *
     * @return a copy of the shape
     */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The number of elements.
     *
     * @return the number of elements
     */
    public long elements() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }
}
