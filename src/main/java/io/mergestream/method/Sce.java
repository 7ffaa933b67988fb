package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ThreadScratch;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code sce}: Select, Calculate, Erase (Wan et al., FuseChat), as mergekit's {@code sce}. Per element,
 * with {@code d_j = x_j − b} in f32 and M fine-tunes:
 * <pre>
 *   select (select_topk τ < 1):  var = Σ_j (d_j − mean)² / M  with mean = (Σ_j d_j) / M   (f32, j order;
 *                                a NaN var ranks as the canonical NaN, ScalarKernel.varianceBits)
 *                                keep the floor(τ · #{var ≠ 0}) largest var (ties to the lowest index),
 *                                v_j = kept ? d_j : 0                       (τ ≥ 1: v_j = d_j)
 *   calculate:  m_j = Σ_i v_j² / n (block sums in double),  w_j = (float) (m_j / Σ m),  or 1/M if |Σ m| < 1e-6
 *   erase:      s = (Σ_j v_j ≥ 0) ? +1 : −1 (f32, j order);  a_j = sign(v_j) == s  (a zero never agrees)
 *   out = b + (Σ_j a_j · (v_j · w_j)) / max(Σ_j a_j · w_j, 1e-6)                       (f32, j order)
 * </pre>
 */
public final class Sce implements MergeMethod {

    @Override
    public String name() {
        return "sce";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        // a recipe whose only model is the base: no delta, the base (as mergekit)
        if (in.modelCount() == 0) return Combination.copy(in.base());
        int m = in.modelCount();
        long n = in.elements();
        double tau = p.settings().number("select_topk");
        // the variances of a tensor of up to SCORED_ELEMENTS: computed once, read by every later pass (the selection's
        // two or three and the two below); larger ones are computed again by each pass, so that memory stays bounded
        MemorySegment scores = tau < 1 && n <= SCORED_ELEMENTS ? variances(kernel, in, runner) : null;
        RadixSelect.Threshold sel = tau >= 1 ? RadixSelect.Threshold.ALL
                : ScoreSelection.topOfNonzero(runner, n, tau, scores != null
                        ? (start, count, out) -> MemorySegment.copy(scores, ValueLayout.JAVA_INT, 4 * start, out, 0, count)
                        : (start, count, out) -> kernel.varianceBits(deltas(kernel, in, start, count), count, out));
        double[] squares = BlockReduction.sum(runner, n, m, (start, count, acc) -> {
            squareSums(selectedDeltas(kernel, in, sel, scores, start, count), count, acc);
        });
        float[] w = weights(squares, n);
        return (k, out, start, count) -> {
            float[][] v = selectedDeltas(k, in, sel, scores, start, count);
            float[] b = spare(m, count);
            k.deltas(null, in.base(), start, count, b);
            k.sce(v, w, b, count);
            k.encode(b, out, start, count);
        };
    }

    /**
     * acc[j] = Σ_o v_j[o]² in double, each model's sum in element order from +0 (acc is zeroed per block), two models
     * a loop: two independent chains of additions instead of one after the other (an addition's latency is what
     * bounds a lone chain).
     */
    private static void squareSums(float[][] v, int count, double[] acc) {
        int m = v.length, j = 0;
        for (; j + 1 < m; j += 2) {
            float[] x = v[j], y = v[j + 1];
            double sx = acc[j], sy = acc[j + 1];
            for (int o = 0; o < count; o++) {
                sx += (double) x[o] * x[o];
                sy += (double) y[o] * y[o];
            }
            acc[j] = sx;
            acc[j + 1] = sy;
        }
        if (j < m) {
            float[] x = v[j];
            double sx = acc[j];
            for (int o = 0; o < count; o++) sx += (double) x[o] * x[o];
            acc[j] = sx;
        }
    }

    /** mergekit's sce_weight: mean squares normalised to sum 1, uniform when their sum is below 1e-6. */
    static float[] weights(double[] squareSums, long n) {
        int m = squareSums.length;
        double total = 0;
        double[] mean = new double[m];
        for (int j = 0; j < m; j++) {
            mean[j] = n == 0 ? 0 : squareSums[j] / n;
            total += mean[j];
        }
        float[] w = new float[m];
        for (int j = 0; j < m; j++) w[j] = Math.abs(total) < 1e-6 ? (float) (1.0 / m) : (float) (mean[j] / total);
        return w;
    }

    /**
     * Every fine-tune's deltas over the range, decoded on the kernel's lanes into this thread's scratch arrays, which
     * the next call on the thread reuses (the passes allocated M arrays per block before).
     */
    static float[][] deltas(MergeKernel kernel, MergeInputs in, long start, int count) {
        int m = in.modelCount();
        float[][] d = java.util.Arrays.copyOf(SCRATCH.floats(m + 1, count), m);
        for (int j = 0; j < m; j++) TaskArithmeticFamily.deltas(kernel, in, j, start, count, d[j]);
        return d;
    }

    /** After {@link #deltas} of M models on this thread: one more scratch array of at least {@code count}. */
    static float[] spare(int m, int count) {
        return SCRATCH.floats(m + 1, count)[m];
    }

    /** The largest tensor whose variances are kept between passes (as ints: 16 MB, off the heap, for one tensor). */
    static final long SCORED_ELEMENTS = 1L << 22;

    /** The variance bits of every element of the tensor, one pass over the fine-tunes, in the tensor's scratch. */
    private static MemorySegment variances(MergeKernel kernel, MergeInputs in, ChunkRunner runner) {
        MemorySegment all = in.scratch(4 * in.elements());
        runner.forEachChunk(in.elements(), (start, count) -> {
            int[] b = SCRATCH.ints(count);
            kernel.varianceBits(deltas(kernel, in, start, count), count, b);
            MemorySegment.copy(b, 0, all, ValueLayout.JAVA_INT, 4 * start, count);
        });
        return all;
    }

    /** The deltas over the range with the elements sel drops zeroed; {@code scores}: the kept variances, or null. */
    private static float[][] selectedDeltas(MergeKernel kernel, MergeInputs in, RadixSelect.Threshold sel,
                                            MemorySegment scores, long start, int count) {
        float[][] d = deltas(kernel, in, start, count);
        if (sel == RadixSelect.Threshold.ALL) return d;
        int[] bits = SCRATCH.ints(count);
        if (scores != null) MemorySegment.copy(scores, ValueLayout.JAVA_INT, 4 * start, bits, 0, count);
        else kernel.varianceBits(d, count, bits);
        kernel.sceDrop(d, bits, 0, start, count, sel.thresholdBits(), sel.tieCutoff());
        return d;
    }

    /** Per thread: the deltas of the M fine-tunes and one more array; the variance bits of a block. */
    private static final ThreadScratch SCRATCH = new ThreadScratch();
}
