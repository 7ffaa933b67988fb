package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

/**
 * {@code nuslerp}: mergekit's NuSLERP. Two models {@code x_0, x_1} with weights {@code w_0, w_1} give
 * {@code t = w_1 / (w_0 + w_1)} ({@code 0.5} when {@code |w_0 + w_1| < 1e-6}); with a base they are
 * interpolated as deltas {@code v_j = x_j − b} and the base added back, else {@code v_j = x_j}. Vectors:
 * the whole tensor ({@code nuslerp_flatten: true}, the default), else each row (slices along the last
 * dimension), or with {@code nuslerp_row_wise: true} each column (slices along the first dimension) — the
 * axes mergekit's code uses. Per vector, in f64 from the {@link Gram} reduction: norms clamped below at
 * 1e-7, {@code cos = clamp(v0·v1 / (|v0| |v1|), −1, 1)}, {@code θ = acos(cos)}; if {@code |sin θ| < 1e-8}
 * the coefficients are {@code (1 − t, t)}, else {@code (sin((1 − t)θ)/sin θ, sin(tθ)/sin θ)}. Map: the
 * whole-tensor case is the kernel's op; per row or column a scalar loop ({@link Combination}).
 */
public final class NuSlerp implements MergeMethod {

    @Override
    public String name() {
        return "nuslerp";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 1 && in.base() == null) return Combination.copy(in.models()[0]);
        float[] w = p.weights();
        double sum = (double) w[0] + w[1];
        double t = Math.abs(sum) < 1e-6 ? 0.5 : w[1] / sum;
        VectorLayout layout = p.settings().flag("nuslerp_flatten") ? VectorLayout.whole(in.elements())
                : p.settings().flag("nuslerp_row_wise") ? VectorLayout.columns(in.elements(), in.shape())
                : VectorLayout.rows(in.elements(), in.shape());
        double[][][] g = Gram.of(kernel, runner, in.base(), in.models(), layout);
        float[][] c = new float[g.length][];
        for (int v = 0; v < g.length; v++) c[v] = Combination.toFloat(coefficients(t, g[v]));
        return Combination.perVector(c, layout, in.base(), in.models());
    }

    static double[] coefficients(double t, double[][] g) {
        double n0 = Math.max(Math.sqrt(g[0][0]), 1e-7);
        double n1 = Math.max(Math.sqrt(g[1][1]), 1e-7);
        double cos = Math.clamp(g[0][1] / (n0 * n1), -1.0, 1.0);
        double theta = Math.acos(cos);
        double sin = Math.sin(theta);
        if (Math.abs(sin) < 1e-8) return new double[] {1 - t, t};
        return new double[] {Math.sin((1 - t) * theta) / sin, Math.sin(t * theta) / sin};
    }
}
