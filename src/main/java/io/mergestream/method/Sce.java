package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

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
        RadixSelect.Threshold sel = tau >= 1 ? RadixSelect.Threshold.ALL
                : ScoreSelection.topOfNonzero(runner, n, tau,
                        (start, count, out) -> kernel.varianceBits(deltas(kernel, in, start, count), count, out));
        double[] squares = BlockReduction.sum(runner, n, m, (start, count, acc) -> {
            float[][] v = selectedDeltas(kernel, in, sel, start, count);
            for (int j = 0; j < m; j++) {
                double sum = 0;
                for (int o = 0; o < count; o++) sum += (double) v[j][o] * v[j][o];
                acc[j] += sum;
            }
        });
        float[] w = weights(squares, n);
        return (k, out, start, count) -> {
            float[][] v = selectedDeltas(k, in, sel, start, count);
            float[] b = new float[count];
            k.deltas(null, in.base(), start, count, b);
            for (int o = 0; o < count; o++) {
                float vote = v[0][o];
                for (int j = 1; j < m; j++) vote += v[j][o];
                boolean positive = vote >= 0f;
                float mixed = 0f, divisor = 0f;
                for (int j = 0; j < m; j++) {
                    float x = v[j][o];
                    if (positive ? x > 0f : x < 0f) {
                        mixed += x * w[j];
                        divisor += w[j];
                    }
                }
                b[o] = b[o] + mixed / Math.max(divisor, 1e-6f);
            }
            k.encode(b, out, start, count);
        };
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

    /** Every fine-tune's deltas over the range, decoded on the kernel's lanes. */
    static float[][] deltas(MergeKernel kernel, MergeInputs in, long start, int count) {
        float[][] d = new float[in.modelCount()][count];
        for (int j = 0; j < d.length; j++) TaskArithmeticFamily.deltas(kernel, in, j, start, count, d[j]);
        return d;
    }

    private static float[][] selectedDeltas(MergeKernel kernel, MergeInputs in, RadixSelect.Threshold sel,
                                            long start, int count) {
        float[][] d = deltas(kernel, in, start, count);
        if (sel == RadixSelect.Threshold.ALL) return d;
        int[] bits = new int[count];
        kernel.varianceBits(d, count, bits);
        for (int o = 0; o < count; o++) {
            if (!sel.keeps(bits[o], start + o)) for (float[] dj : d) dj[o] = 0f;
        }
        return d;
    }
}
