package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import java.util.List;

/**
 * {@code ram} and {@code ramplus_tl}: Reinforced Agent Merging, as mergekit defines them. Per element, with
 * {@code d_j = x_j − b} (f32) and {@code a_j = |d_j| > (float) epsilon}, {@code c = Σ_j a_j}:
 * <pre>
 *   term_j = !a_j ? 0 : c == 1 ? d_j · λ_j : d_j / c          out = b + Σ_j term_j   (f32, j order)
 * </pre>
 * (the map step is the kernel's {@code ram} op: ScalarKernel.ramElement, on lanes in the vector kernel).
 * {@code ram}: λ_j = 1. {@code ramplus_tl} (tensor-local): over the whole tensor, with exact counts
 * {@code shared_j = #{a_j ∧ c > 1}} and {@code unique_j = #{a_j ∧ c = 1}},
 * {@code λ_j = (float) (1 + r · clamp(shared_j / max(unique_j, epsilon), 0, alpha))} (in double).
 */
public final class Ram implements MergeMethod {

    private final boolean plus;

    private Ram(boolean plus) {
        this.plus = plus;
    }

    public static Ram ram() {
        return new Ram(false);
    }

    public static Ram plusTensorLocal() {
        return new Ram(true);
    }

    @Override
    public String name() {
        return plus ? "ramplus_tl" : "ram";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        // a recipe whose only model is the base: no delta, the base (as mergekit)
        if (in.modelCount() == 0) return Combination.copy(in.base());
        int m = in.modelCount();
        double epsilon = p.settings().number("epsilon");
        float eps = (float) epsilon;
        float[] lambda = new float[m];
        java.util.Arrays.fill(lambda, 1f);
        if (plus) {
            double r = p.settings().number("r"), alpha = p.settings().number("alpha");
            List<long[]> parts = runner.reduce(in.elements(), () -> new long[2 * m], (acc, start, count) -> {
                float[][] d = Sce.deltas(kernel, in, start, count);
                for (int o = 0; o < count; o++) {
                    int c = 0;
                    for (int j = 0; j < m; j++) if (Math.abs(d[j][o]) > eps) c++;
                    if (c == 0) continue;
                    for (int j = 0; j < m; j++) if (Math.abs(d[j][o]) > eps) acc[c == 1 ? m + j : j]++;
                }
            });
            for (int j = 0; j < m; j++) {
                long shared = 0, unique = 0;
                for (long[] a : parts) {
                    shared += a[j];
                    unique += a[m + j];
                }
                double rho = shared / Math.max((double) unique, epsilon);
                lambda[j] = (float) (1 + r * Math.min(Math.max(rho, 0), alpha));
            }
        }
        return (k, out, start, count) -> {
            float[][] d = Sce.deltas(k, in, start, count);
            float[] b = Sce.spare(m, count);
            k.deltas(null, in.base(), start, count, b);
            k.ram(d, eps, lambda, b, count);
            k.encode(b, out, start, count);
        };
    }
}
