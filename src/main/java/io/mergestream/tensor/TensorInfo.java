package io.mergestream.tensor;

import java.util.Arrays;

/**
 * One tensor as a safetensors header describes it: name, dtype, shape and its byte range
 * {@code [begin, end)} relative to the start of the file's data section.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = Shapes.canonical(shape);
    }

    /**
     * One shared, never-written array per distinct shape. A model's 100,000 tensors have a few dozen shapes
     * (every expert of an MoE layer has the same), so sharing them saves an array per tensor (24 to 40 bytes)
     * on a heap that holds every tensor of every input at once. The record never hands its array out
     * ({@link #shape()} copies), so sharing is invisible.
     */
    private static final class Shapes {
        private static final int MAX_CACHED = 4096;
        private static final java.util.concurrent.ConcurrentHashMap<Key, long[]> CACHE = new java.util.concurrent.ConcurrentHashMap<>();

        private record Key(long[] dims) {
            @Override
            public boolean equals(Object o) {
                return o instanceof Key k && Arrays.equals(dims, k.dims);
            }

            @Override
            public int hashCode() {
                return Arrays.hashCode(dims);
            }
        }

        static long[] canonical(long[] shape) {
            long[] cached = CACHE.get(new Key(shape));
            if (cached != null) return cached;
            long[] copy = shape.clone();
            if (CACHE.size() >= MAX_CACHED) return copy; // odd inputs with endless distinct shapes: no sharing
            long[] raced = CACHE.putIfAbsent(new Key(copy), copy);
            return raced != null ? raced : copy;
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The one shared array of {@code shape}'s dimensions (see Shapes): for compact tables of many tensors (a
     * header's columns, the output layout) that hold a shape per tensor. Callers never write it.
     */
    public static long[] sharedShape(long[] shape) {
        return Shapes.canonical(shape);
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
