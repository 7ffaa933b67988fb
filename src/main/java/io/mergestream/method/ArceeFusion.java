package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.TensorView;

/**
 * {@code arcee_fusion}: mergekit's Arcee Fusion of a base {@code b} and one other model {@code x}: the other
 * model's delta is taken where it matters most, the base's value elsewhere. Per row (the last dimension; a
 * 1-D tensor is one row) of n elements:
 * <pre>
 *   p = softmax(x_row) + 1e-8,  q = softmax(b_row) + 1e-8,  kl_row = Σ_c p_c · ln(p_c / q_c)
 *       (in double with StrictMath, the softmax shifted by the row's maximum; rounded once to f32; a value
 *        below 0, which the log-sum inequality rules out but rounding can give, is taken as 0)
 *   importance_i = |x_i − b_i| · kl_row(i)                                                 (f32)
 *   Q(f) = the element of rank floor(f · (N − 1)) (0-based, ascending) of all N importances of the tensor
 *   threshold = Q(0.5) + 1.5 · (Q(0.75) − Q(0.25))                                          (f32)
 *   out_i = b_i + (x_i − b_i) · (importance_i ≥ threshold ? 1 : 0)                          (f32)
 * </pre>
 * The quantiles are exact order statistics over the whole tensor ({@link RadixSelect}, so the result does not
 * depend on threads or chunks). Deviations from mergekit (merge-semantics.md): mergekit computes kl in the
 * merge's dtype, where it is a difference of nearly equal numbers and its rounding (torch's vectorised exp and
 * log) depends on the CPU; and above 1e6 elements it estimates the quantiles from 1e6 elements drawn by
 * {@code torch.randperm}, a different sample on every run. With only the base the output is the base.
 */
public final class ArceeFusion implements MergeMethod {

    /** mergekit's additive smoothing of both distributions. */
    private static final double EPS = 1e-8;

    @Override
    public String name() {
        return "arcee_fusion";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 0) return Combination.copy(in.base());
        TensorView b = in.base();
        TensorView x = in.models()[0];
        long n = in.elements();
        long row = Math.max(1, in.rowLength());
        float[] kl = rowDivergences(runner, x, b, n, row);
        ScoreSelection.Scores importance = (start, count, bits) -> {
            for (int o = 0; o < count; o++) {
                long i = start + o;
                bits[o] = Float.floatToRawIntBits(importance(x, b, kl, row, i)) & 0x7FFFFFFF;
            }
        };
        float median = quantile(runner, n, 0.5, importance);
        float q1 = quantile(runner, n, 0.25, importance);
        float q3 = quantile(runner, n, 0.75, importance);
        float threshold = median + 1.5f * (q3 - q1);
        return (k, out, start, count) -> {
            for (long i = start; i < start + count; i++) {
                float bi = b.get(i);
                float d = x.get(i) - bi;
                float mask = importance(x, b, kl, row, i) >= threshold ? 1f : 0f;
                out.set(i, bi + d * mask);
            }
        };
    }

    static float importance(TensorView x, TensorView b, float[] kl, long row, long i) {
        float d = Math.abs(x.get(i) - b.get(i));
        return d * kl[(int) (i / row)];
    }

    /**
     * The element of 0-based rank {@code floor(f · (n − 1))} in ascending order: the {@code (n − rank)}-th
     * largest, by exact selection over the importance bits (non-negative, so int order is value order).
     */
    private static float quantile(ChunkRunner runner, long n, double f, ScoreSelection.Scores scores) {
        if (n == 0) return 0f;
        long rank = (long) Math.floor(f * (n - 1));
        if (rank == 0) return Float.intBitsToFloat(minimum(runner, n, scores));
        return Float.intBitsToFloat(ScoreSelection.topK(runner, n, n - rank, scores).thresholdBits());
    }

    private static int minimum(ChunkRunner runner, long n, ScoreSelection.Scores scores) {
        return runner.reduce(n, () -> new int[] {Integer.MAX_VALUE}, (acc, start, count) -> {
            int[] bits = new int[count];
            scores.bits(start, count, bits);
            for (int v : bits) acc[0] = Math.min(acc[0], v);
        }).stream().mapToInt(a -> a[0]).min().orElseThrow();
    }

    /** kl per row, each row on its own (so any split of rows over threads gives the same values). */
    private static float[] rowDivergences(ChunkRunner runner, TensorView x, TensorView b, long n, long row) {
        long rows = n / row;
        if (rows > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many rows: " + rows);
        float[] kl = new float[(int) rows];
        int rowsPerChunk = (int) Math.max(1, BlockReduction.BLOCK / row);
        runner.forEachChunk(rows, rowsPerChunk, (first, count) -> {
            for (long r = first; r < first + count; r++) kl[(int) r] = divergence(x, b, r * row, row);
        });
        return kl;
    }

    /** Σ p ln(p/q) over one row, p and q the smoothed softmaxes of x and b there, in double. */
    static float divergence(TensorView x, TensorView b, long start, long length) {
        double mx = Double.NEGATIVE_INFINITY, mb = Double.NEGATIVE_INFINITY;
        for (long i = start; i < start + length; i++) {
            mx = Math.max(mx, x.get(i));
            mb = Math.max(mb, b.get(i));
        }
        double sx = 0, sb = 0;
        for (long i = start; i < start + length; i++) {
            sx += StrictMath.exp(x.get(i) - mx);
            sb += StrictMath.exp(b.get(i) - mb);
        }
        double kl = 0;
        for (long i = start; i < start + length; i++) {
            double pc = StrictMath.exp(x.get(i) - mx) / sx + EPS;
            double qc = StrictMath.exp(b.get(i) - mb) / sb + EPS;
            kl += pc * StrictMath.log(pc / qc);
        }
        float f = (float) kl;
        return f > 0f || Float.isNaN(f) ? f : 0f;
    }
}
