package io.mergestream.method;

/**
 * How a tensor's flat elements split into the vectors a spherical method works on: element {@code e} of
 * vector {@code v} is flat index {@code v * vectorStride + e * elementStride}.
 *
 * @param count          how many vectors
 * @param length         elements per vector
 * @param vectorStride   flat distance between the first elements of consecutive vectors
 * @param elementStride  flat distance between consecutive elements of a vector
 */
public record VectorLayout(long count, long length, long vectorStride, long elementStride) {

    /** The whole tensor as one vector. */
    public static VectorLayout whole(long elements) {
        return new VectorLayout(1, elements, 0, 1);
    }

    /** One vector per slice along the last dimension (each row of a matrix; a 1-D tensor is one row). */
    public static VectorLayout rows(long elements, long[] shape) {
        long row = shape.length == 0 ? 1 : shape[shape.length - 1];
        return row == 0 || row == elements ? whole(elements) : new VectorLayout(elements / row, row, row, 1);
    }

    /** One vector along the first dimension per position in the others (each column of a matrix). */
    public static VectorLayout columns(long elements, long[] shape) {
        long first = shape.length == 0 ? 1 : shape[0];
        long rest = first == 0 ? 0 : elements / first;
        return rest <= 1 ? whole(elements) : new VectorLayout(rest, first, 1, rest);
    }

    public boolean isWhole() {
        return count == 1;
    }

    /** The vector that flat element {@code i} belongs to. */
    public long vectorOf(long i) {
        if (count == 1) return 0;
        return vectorStride == 1 ? i % count : i / vectorStride;
    }

    public long index(long vector, long element) {
        return vector * vectorStride + element * elementStride;
    }
}
