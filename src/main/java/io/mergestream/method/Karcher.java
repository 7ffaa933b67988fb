package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

/**
 * {@code karcher}: mergekit's weighted Karcher (Riemannian) mean on the unit hypersphere, the whole tensor as
 * one vector, every model weighted {@code α = 1/K}. Directions {@code u_j = x_j/|x_j|} of the models with
 * {@code |x_j| > tol} (weights renormalised over them; none: the output is zero); start at the normalised
 * weighted mean (the first direction if that is shorter than {@code tol}); then at most {@code max_iter}
 * times: {@code T = Σ α_j θ_j/sin θ_j (u_j − cos θ_j μ)} over the directions with {@code θ_j =
 * acos(clamp(μ·u_j)) ≥ tol}; stop when {@code |T| < tol}; else {@code μ = cos|T| μ + sin|T| T/|T|},
 * renormalised. Output {@code (Σ_j α_j |x_j|) μ}. Vocabulary sizes are truncated to the common rows first
 * (merge-semantics.md; mergekit's karcher crashes on them instead).
 *
 * <p>As {@link MultiSlerp}, μ and T stay linear combinations of the {@code x_j}: one {@link Gram} reduction
 * (f64), the iteration on coefficients in f64, and the kernel's linear op with the coefficients in f32 as
 * the map step. mergekit rounds the directions to the input dtype; results agree to rounding, not bitwise.
 */
public final class Karcher implements MergeMethod {

    @Override
    public String name() {
        return "karcher";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 1) return Combination.copy(in.models()[0]);
        double[][] g = Gram.of(kernel, runner, null, in.models(), VectorLayout.whole(in.elements()))[0];
        double[] c = coefficients(g, (int) p.settings().number("max_iter"), p.settings().number("tol"));
        return Combination.whole(Combination.toFloat(c), null, in.models());
    }

    static double[] coefficients(double[][] g, int maxIter, double tol) {
        int k = g.length;
        double alpha = 1.0 / k;
        double[] norms = new double[k];
        double validAlpha = 0;
        for (int j = 0; j < k; j++) {
            norms[j] = Math.sqrt(g[j][j]);
            if (norms[j] > tol) validAlpha += alpha;
        }
        if (validAlpha == 0) return new double[k];
        double[] a = new double[k]; // normalised weights of the valid directions, 0 elsewhere
        for (int j = 0; j < k; j++) a[j] = norms[j] > tol ? alpha / validAlpha : 0;

        double[] mu = new double[k]; // μ as coefficients of the x_j; u_j = x_j / n_j
        for (int j = 0; j < k; j++) if (a[j] > 0) mu[j] = a[j] / norms[j];
        double muNorm = Math.sqrt(Gram.squaredNorm(g, mu));
        if (muNorm < tol) {
            int first = 0;
            while (a[first] == 0) first++;
            mu = new double[k];
            mu[first] = 1 / norms[first];
        } else {
            scale(mu, 1 / muNorm);
        }
        for (int iter = 0; iter < maxIter; iter++) {
            double[] tangent = new double[k];
            for (int j = 0; j < k; j++) {
                if (a[j] == 0) continue;
                double cos = Math.clamp(Gram.dot(g, j, mu) / norms[j], -1.0, 1.0);
                double theta = Math.acos(cos);
                if (theta < tol) continue;
                double f = a[j] * theta / Math.sin(theta);
                tangent[j] += f / norms[j];
                for (int i = 0; i < k; i++) tangent[i] -= f * cos * mu[i];
            }
            double tNorm = Math.sqrt(Gram.squaredNorm(g, tangent));
            if (tNorm < tol) break;
            double[] next = new double[k];
            for (int i = 0; i < k; i++) next[i] = Math.cos(tNorm) * mu[i] + Math.sin(tNorm) * tangent[i] / tNorm;
            mu = next;
            double n = Math.sqrt(Gram.squaredNorm(g, mu));
            if (n > tol) scale(mu, 1 / n);
        }
        double s = 0;
        for (int j = 0; j < k; j++) s += alpha * norms[j];
        scale(mu, s);
        return mu;
    }

    private static void scale(double[] v, double f) {
        for (int i = 0; i < v.length; i++) v[i] *= f;
    }
}
