package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.TensorView;

/**
 * {@code slerp}: spherical linear interpolation from the base {@code v0} to the other model {@code v1} at
 * {@code t} (Shoemake; mergekit's slerp), the whole tensor as one vector. Reduction: {@code |v0|², |v1|²,
 * v0·v1} ({@link Gram}, f64). Then, in f64, with each norm replaced by 1 when it is at most 1e-8 (a zero
 * vector stays unnormalised, as mergekit): {@code dot = v0·v1 / (|v0| |v1|)}; if {@code |dot| > 0.9995}
 * the coefficients are {@code (1 − t, t)} (lerp), else {@code θ = acos(dot)},
 * {@code (sin(θ − tθ)/sin θ, sin(tθ)/sin θ)}. Map: the kernel's linear op on the un-normalised
 * {@code v0, v1} with the two coefficients rounded to f32. With only the base, the output is the base.
 */
public final class Slerp implements MergeMethod {

    static final double DOT_THRESHOLD = 0.9995;
    static final double NORM_EPS = 1e-8;

    @Override
    public String name() {
        return "slerp";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 0) return Combination.copy(in.base());
        TensorView[] v = {in.base(), in.models()[0]};
        double[][] g = Gram.of(kernel, runner, null, v, VectorLayout.whole(in.elements()))[0];
        double[] c = coefficients(p.settings().number("t"), g);
        return Combination.whole(Combination.toFloat(c), null, v);
    }

    /** The coefficients of {@code v0} and {@code v1} from their Gram matrix. */
    static double[] coefficients(double t, double[][] g) {
        double n0 = Math.sqrt(g[0][0]);
        double n1 = Math.sqrt(g[1][1]);
        double dot = g[0][1] / ((n0 > NORM_EPS ? n0 : 1) * (n1 > NORM_EPS ? n1 : 1));
        if (Math.abs(dot) > DOT_THRESHOLD) return new double[] {1 - t, t};
        double theta = Math.acos(dot);
        double sin = Math.sin(theta);
        return new double[] {Math.sin(theta - theta * t) / sin, Math.sin(theta * t) / sin};
    }
}
