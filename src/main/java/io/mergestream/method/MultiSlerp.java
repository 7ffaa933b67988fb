package io.mergestream.method;

import io.mergestream.MergestreamException;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

/**
 * {@code multislerp}: mergekit's barycentric interpolation on the hypersphere for any number of models, the
 * whole tensor as one vector; with a base, the deltas {@code y_j = x_j − b} are interpolated and the base
 * added back. With weights {@code w} (divided by their sum when {@code normalize_weights}), norms
 * {@code n_j} and {@code ε = eps}: units {@code u_j = y_j/(n_j + ε)}, mean {@code m = Σ w_j u_j}; if
 * {@code |m| < ε} two models fall back to {@code w_0 y_0 + w_1 y_1} and more are an error (as mergekit);
 * else {@code m̂ = m/|m|}, tangent {@code τ = Σ w_j (u_j − (u_j·m̂) m̂)}, {@code r = |τ| + ε},
 * {@code out = (Σ w_j n_j)(m̂ cos r + τ sin r / r)}.
 *
 * <p>Every vector here is a linear combination of the {@code y_j}, so the method keeps only its
 * coefficients: one {@link Gram} reduction gives every norm and dot product (f64), the algebra runs on the
 * coefficients in f64, and the map step is the kernel's combination with them rounded to f32. mergekit
 * forms each intermediate vector in f32; the results agree to f32 rounding, not bit for bit.
 */
public final class MultiSlerp implements MergeMethod {

    @Override
    public String name() {
        return "multislerp";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 1) return Combination.copy(in.models()[0]);
        double[][] g = Gram.of(kernel, runner, in.base(), in.models(), VectorLayout.whole(in.elements()))[0];
        double[] c = coefficients(tensor, weights(p), p.settings().number("eps"), g);
        return Combination.whole(Combination.toFloat(c), in.base(), in.models());
    }

    private static double[] weights(TensorParams p) {
        float[] w = p.weights();
        double sum = 0;
        for (float x : w) sum += x;
        double[] out = new double[w.length];
        for (int j = 0; j < w.length; j++) out[j] = p.settings().flag("normalize_weights") ? w[j] / sum : w[j];
        return out;
    }

    static double[] coefficients(String tensor, double[] w, double eps, double[][] g) {
        int k = w.length;
        double[] norms = new double[k];
        double[] mean = new double[k]; // m = Σ w_j y_j / (n_j + ε), as coefficients of the y_j
        for (int j = 0; j < k; j++) {
            norms[j] = Math.sqrt(g[j][j]);
            mean[j] = w[j] / (norms[j] + eps);
        }
        double meanNorm = Math.sqrt(Gram.squaredNorm(g, mean));
        if (meanNorm < eps) {
            if (k == 2) return w.clone();
            throw new MergestreamException("multislerp: tensor '" + tensor + "': the weighted mean of the models'"
                    + " directions is zero (antipodal models with balancing weights): change the weights");
        }
        double[] unitMean = new double[k];
        for (int j = 0; j < k; j++) unitMean[j] = mean[j] / meanNorm;
        double along = 0; // Σ w_j (u_j · m̂)
        for (int j = 0; j < k; j++) along += w[j] * Gram.dot(g, j, unitMean) / (norms[j] + eps);
        double[] tangent = new double[k]; // τ = m − along · m̂
        for (int j = 0; j < k; j++) tangent[j] = mean[j] - along * unitMean[j];
        double r = Math.sqrt(Gram.squaredNorm(g, tangent)) + eps;
        double scale = 0;
        for (int j = 0; j < k; j++) scale += norms[j] * w[j];
        double[] c = new double[k];
        for (int j = 0; j < k; j++) c[j] = scale * (unitMean[j] * Math.cos(r) + tangent[j] * Math.sin(r) / r);
        return c;
    }
}
