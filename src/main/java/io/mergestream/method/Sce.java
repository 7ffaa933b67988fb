package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

/**
 * {@code sce}: Select, Calculate, Erase (Wan et al., FuseChat), as mergekit's {@code sce}. Per element,
 * with {@code d_j = x_j − b} in f32 and M fine-tunes:
 * <pre>
 *   select (select_topk τ < 1):  var = Σ_j (d_j − mean)² / M  with mean = (Σ_j d_j) / M   (f32, j order)
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
        RadixSelect.Threshold selected;
        if (tau >= 1) {
            selected = RadixSelect.Threshold.ALL;
        } else {
            ScoreSelection.Scores variance = (start, count, out) -> {
                float[][] d = deltas(in, start, count);
                for (int o = 0; o < count; o++) out[o] = Float.floatToRawIntBits(variance(d, o)) & 0x7FFFFFFF;
            };
            long nonzero = runner.reduce(n, () -> new long[1], (acc, s, c) -> {
                int[] b = new int[c];
                variance.bits(s, c, b);
                for (int x : b) if (x != 0) acc[0]++;
            }).stream().mapToLong(a -> a[0]).sum();
            long k = (long) Math.floor(tau * nonzero);
            selected = ScoreSelection.topK(runner, n, k, variance);
        }
        RadixSelect.Threshold sel = selected;
        double[] squares = BlockReduction.sum(runner, n, m, (start, count, acc) -> {
            float[][] v = selectedDeltas(in, sel, start, count);
            for (int j = 0; j < m; j++) {
                double sum = 0;
                for (int o = 0; o < count; o++) sum += (double) v[j][o] * v[j][o];
                acc[j] += sum;
            }
        });
        float[] w = weights(squares, n);
        return (k, out, start, count) -> {
            float[][] v = selectedDeltas(in, sel, start, count);
            for (int o = 0; o < count; o++) {
                long i = start + o;
                float b = in.base().get(i);
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
                out.set(i, b + mixed / Math.max(divisor, 1e-6f));
            }
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

    /** Population variance of element o across the models, in f32 and j order. */
    static float variance(float[][] d, int o) {
        int m = d.length;
        float sum = d[0][o];
        for (int j = 1; j < m; j++) sum += d[j][o];
        float mean = sum / m;
        float sq = 0f;
        for (int j = 0; j < m; j++) {
            float e = d[j][o] - mean;
            sq += e * e;
        }
        return sq / m;
    }

    static float[][] deltas(MergeInputs in, long start, int count) {
        float[][] d = new float[in.modelCount()][count];
        for (int j = 0; j < d.length; j++) TaskArithmeticFamily.deltas(in, j, start, count, d[j]);
        return d;
    }

    private static float[][] selectedDeltas(MergeInputs in, RadixSelect.Threshold sel, long start, int count) {
        float[][] d = deltas(in, start, count);
        if (sel == RadixSelect.Threshold.ALL) return d;
        for (int o = 0; o < count; o++) {
            int bits = Float.floatToRawIntBits(variance(d, o)) & 0x7FFFFFFF;
            if (!sel.keeps(bits, start + o)) for (float[] dj : d) dj[o] = 0f;
        }
        return d;
    }
}
