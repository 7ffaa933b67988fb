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

    /**
     * The task-arithmetic family with sparsifiers the method computes ({@link ComputedSparsifier}: breadcrumbs, DELLA):
     * per element, {@code d_j = x_j - b}; {@code s_j} from {@code sparsifiers[j]} on runs of d_j; then
     * {@link ScalarKernel#combine} (weights, election, normalize, lambda, + b) and the encode. {@code p}'s own
     * sparsifiers are not consulted.
     */
    default void taskArithmetic(ResolvedTaskArithmetic p, ComputedSparsifier[] sparsifiers, TensorView base,
                                TensorView[] models, TensorView out, long start, int count) {
        Views.checkTaskArithmetic(p, base, models, out, start, count);
        ScalarKernel.computedTaskArithmeticRange(p, sparsifiers, base, models, out, start, count);
    }

    // Block operations for the methods whose passes are not one fused op (SCE, RAM, the spherical reductions,
    // the selection passes): they decode into and compute on caller-owned f32 arrays of up to a chunk.

    /**
     * {@code d[o] = x - b} in f32 for the flat element {@code start + o}, {@code o < count}; with a null
     * {@code base}, {@code d[o] = x}.
     */
    default void deltas(TensorView base, TensorView model, long start, int count, float[] d) {
        if (base != null) Views.checkMergeable(base, "base", start, count);
        Views.checkMergeable(model, "model", start, count);
        ScalarKernel.deltasRange(base, model, start, 0, count, d);
    }

    /** Encodes {@code values[o]} as the flat element {@code start + o} of {@code out}, {@code o < count}. */
    default void encode(float[] values, TensorView out, long start, int count) {
        Views.checkMergeable(out, "output", start, count);
        ScalarKernel.encodeRange(values, out, start, 0, count);
    }

    /**
     * SCE's score: {@code bits[o]} = the bits of the population variance of {@code d[0][o], d[1][o], ...} (f32,
     * j order, see {@link ScalarKernel#varianceBits}), {@code o < count}.
     */
    default void varianceBits(float[][] d, int count, int[] bits) {
        ScalarKernel.varianceBitsRange(d, 0, count, bits);
    }

    /**
     * SCE's select: every {@code d[j][o]} set to +0 where element {@code start + o}'s variance bits ({@link
     * #varianceBits}, at {@code bits[at + o]}) are not among the kept top-k, i.e. fail {@code bits > thresholdBits ||
     * (bits == thresholdBits && start + o < tieCutoff)} (see {@link ScalarKernel#sceDropRange}), {@code o < count}.
     */
    default void sceDrop(float[][] d, int[] bits, int at, long start, int count, int thresholdBits, long tieCutoff) {
        ScalarKernel.sceDropRange(d, bits, at, start, thresholdBits, tieCutoff, 0, count);
    }

    /**
     * SCE's erase and mix on the selected deltas {@code v}: {@code b[o] = b[o] + ...} (see {@link
     * ScalarKernel#sceElement}), written over {@code b}, {@code o < count}.
     */
    default void sce(float[][] v, float[] w, float[] b, int count) {
        ScalarKernel.sceRange(v, w, b, 0, count);
    }

    /**
     * RAM's map step on deltas: {@code b[o] = b[o] + Σ_j term_j} (see {@link ScalarKernel#ramElement}), written over
     * {@code b}, {@code o < count}.
     */
    default void ram(float[][] d, float epsilon, float[] lambda, float[] b, int count) {
        ScalarKernel.ramRange(d, epsilon, lambda, b, 0, count);
    }

    /**
     * The L1 rule's block sums in stripes ({@link ScalarKernel#absSumsRange}: the order is defined there): adds
     * {@code |d[o]|} and {@code |kept[o]|}, {@code o < count}, into {@code stripes} (2 x 16 doubles). {@code d[0]} is
     * the first element of a reduction block.
     */
    default void absSums(float[] d, float[] kept, int count, double[] stripes) {
        ScalarKernel.absSumsRange(d, kept, 0, count, stripes);
    }

    /**
     * As {@link #absSums} with the kept delta decided by a random or magnitude record ({@link
     * ScalarKernel#keptAbsSumsRange}); {@code d[o]} is the delta of flat element {@code start + o}.
     */
    default void keptAbsSums(Sparsifier s, long start, float[] d, int count, double[] stripes) {
        ScalarKernel.keptAbsSumsRange(s, start, d, 0, count, stripes);
    }

    // The selection passes run once or twice per tensor and are bound by memory: every kernel shares one plain
    // implementation (AbsDeltaCounts) over its own block decoding (deltas) unless it has a faster one.

    /**
     * Magnitude selection, pass 1: for each element, {@code a = floatToRawIntBits(|x - b|)} (f32 subtraction,
     * sign cleared); adds 1 to {@code histogram[a >>> 16]} (65536 bins).
     */
    default void absDeltaHistogramHigh(TensorView base, TensorView model, long start, int count, long[] histogram) {
        AbsDeltaCounts.histogramHigh(this, base, model, start, count, histogram);
    }

    /**
     * Magnitude selection, pass 2: for the elements whose {@code a >>> 16 == high}, adds 1 to
     * {@code histogram[a & 0xFFFF]}; returns nothing else.
     */
    default void absDeltaHistogramLow(TensorView base, TensorView model, int high, long start, int count,
                                      long[] histogram) {
        AbsDeltaCounts.histogramLow(this, base, model, high, start, count, histogram);
    }

    /** Magnitude selection, ties: how many elements in the range have {@code a == bits}. */
    default long countAbsDeltaEqual(TensorView base, TensorView model, int bits, long start, int count) {
        return AbsDeltaCounts.countEqual(this, base, model, bits, start, count);
    }

    /**
     * Magnitude selection, ties: the flat index of the {@code n}-th (1-based) element in the range with
     * {@code a == bits}, or -1 if the range holds fewer.
     */
    default long indexOfNthAbsDeltaEqual(TensorView base, TensorView model, int bits, long n, long start, int count) {
        return AbsDeltaCounts.indexOfNthEqual(this, base, model, bits, n, start, count);
    }
}
