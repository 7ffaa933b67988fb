package io.mergestream.tensor;

import java.util.Arrays;

/**
 * One tensor as a safetensors header describes it: name, dtype, shape and its byte range
 * {@code [begin, end)} relative to the start of the file's data section.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements; the reader has already checked that it does not overflow. */
    public long elements() {
        return elementCount(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    public boolean sameShape(long[] other) {
        return Arrays.equals(shape, other);
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    /** Product of the dimensions; throws ArithmeticException on overflow. */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + shapeString() + " [" + begin + ", " + end + ")";
    }
}
