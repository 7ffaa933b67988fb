package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import java.util.Arrays;

/**
 * {@code model_stock}: Model Stock (Jang et al.) as mergekit computes it. With the base {@code w_0} and
 * {@code N ≥ 2} fine-tunes, offsets {@code y_j = x_j − w_0}; {@code cos θ} is the mean over pairs
 * {@code i < j} of {@code clamp(y_i·y_j / max(|y_i| |y_j|, 1e-6), −1, 1)};
 * {@code t = N cos θ / (1 + (N − 1) cos θ)}; output {@code t · avg(x) + (1 − t) w_0}, computed as the equal
 * {@code w_0 + Σ_j (t/N) y_j}. Over the whole tensor, or per row with {@code filter_wise: true} (a 1-D
 * tensor is one row). Reduction: {@link Gram} (f64); map: the kernel's task-arithmetic op with weights
 * {@code t/N} in f32 (whole tensor) or the same combination per row ({@link Combination}).
 * With only the base, the output is the base.
 */
public final class ModelStock implements MergeMethod {

    @Override
    public String name() {
        return "model_stock";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 0) return Combination.copy(in.base());
        VectorLayout layout = p.settings().flag("filter_wise") ? VectorLayout.rows(in.elements(), in.shape())
                : VectorLayout.whole(in.elements());
        double[][][] g = Gram.of(kernel, runner, in.base(), in.models(), layout);
        float[][] c = new float[g.length][];
        for (int v = 0; v < g.length; v++) {
            float each = (float) (interpolation(g[v]) / in.modelCount());
            c[v] = new float[in.modelCount()];
            Arrays.fill(c[v], each);
        }
        return Combination.perVector(c, layout, in.base(), in.models());
    }

    /** t from the Gram matrix of the offsets. */
    static double interpolation(double[][] g) {
        int n = g.length;
        double sum = 0;
        int pairs = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double norms = Math.sqrt(g[i][i]) * Math.sqrt(g[j][j]);
                sum += Math.clamp(g[i][j] / Math.max(norms, 1e-6), -1.0, 1.0);
                pairs++;
            }
        }
        double cos = sum / pairs;
        return n * cos / (1 + (n - 1) * cos);
    }
}
