package io.mergestream.kernel;

/**
 * The fused per-chunk kernels. Every operation works on elements {@code [start, start + count)} of whole
 * tensors (flat row-major indices; the DARE mask uses them as they are), reads each input element once and
 * writes each output element once, keeps no state between calls and allocates nothing per element, so any
 * thread may run any chunk. Input and output tensors may have different dtypes; F32, F16 and BF16 decode
 * exactly to f32, and results are encoded with round-to-nearest-even (NaN stays NaN, overflow gives inf).
 *
 * <p>Implementations must give bit-identical results: the scalar one is the readable reference.
 */
public interface MergeKernel {

    /** "scalar" or "vector". */
    String name();

    /** The task-arithmetic family (task_arithmetic, ties, dare_linear, dare_ties ...), see {@link TaskArithmeticOp}. */
    void taskArithmetic(TaskArithmeticOp op, TensorView base, TensorView[] models, TensorView out,
                        long start, int count);

    /** mergekit's linear merge, see {@link LinearOp}. */
    void linear(LinearOp op, TensorView[] models, TensorView out, long start, int count);

    /** Copies elements, converting between float dtypes (decode to f32, encode with round-to-nearest-even). */
    void convert(TensorView in, TensorView out, long start, int count);

    // The selection passes run once or twice per tensor and are bound by memory: every kernel shares one plain
    // implementation (AbsDeltaCounts) unless it has a faster one.

    /**
     * Magnitude selection, pass 1: for each element, {@code a = floatToRawIntBits(|x - b|)} (f32 subtraction,
     * sign cleared); adds 1 to {@code histogram[a >>> 16]} (65536 bins).
     */
    default void absDeltaHistogramHigh(TensorView base, TensorView model, long start, int count, long[] histogram) {
        AbsDeltaCounts.histogramHigh(base, model, start, count, histogram);
    }

    /**
     * Magnitude selection, pass 2: for the elements whose {@code a >>> 16 == high}, adds 1 to
     * {@code histogram[a & 0xFFFF]}; returns nothing else.
     */
    default void absDeltaHistogramLow(TensorView base, TensorView model, int high, long start, int count,
                                      long[] histogram) {
        AbsDeltaCounts.histogramLow(base, model, high, start, count, histogram);
    }

    /** Magnitude selection, ties: how many elements in the range have {@code a == bits}. */
    default long countAbsDeltaEqual(TensorView base, TensorView model, int bits, long start, int count) {
        return AbsDeltaCounts.countEqual(base, model, bits, start, count);
    }

    /**
     * Magnitude selection, ties: the flat index of the {@code n}-th (1-based) element in the range with
     * {@code a == bits}, or -1 if the range holds fewer.
     */
    default long indexOfNthAbsDeltaEqual(TensorView base, TensorView model, int bits, long n, long start, int count) {
        return AbsDeltaCounts.indexOfNthEqual(base, model, bits, n, start, count);
    }
}
