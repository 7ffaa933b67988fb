package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.TensorView;

/**
 * The reduction pass of the spherical methods: the Gram matrix {@code G[i][j] = y_i · y_j} of the merged
 * vectors, where {@code y_j = x_j} or, with a base, {@code y_j = x_j − b} (the f32 difference the map step
 * also forms). Products and sums are in f64. Over a whole tensor the sums are {@link BlockReduction}'s, so
 * they are bit-identical for any thread count and chunk size; per row or column, each vector is summed by
 * one task in element order, which is just as independent of the split. Column vectors are read strided:
 * correct, not fast (scalar code; nuslerp's per-column mode is rare).
 */
final class Gram {

    private Gram() {}

    /** {@code G[v][i][j]} for every vector {@code v} of the layout. */
    static double[][][] of(ChunkRunner runner, TensorView base, TensorView[] xs, VectorLayout layout) {
        int k = xs.length;
        if (layout.isWhole()) {
            double[] sums = BlockReduction.sum(runner, layout.length(), k * k,
                    (start, count, acc) -> accumulate(base, xs, start, count, 1, acc));
            return new double[][][] {square(sums, k)};
        }
        double[][][] g = new double[(int) layout.count()][][];
        int perTask = (int) Math.max(1, BlockReduction.BLOCK / Math.max(1, layout.length()));
        runner.forEachChunk(layout.count(), perTask, (v0, vectors) -> {
            for (long v = v0; v < v0 + vectors; v++) {
                double[] acc = new double[k * k];
                accumulate(base, xs, layout.index(v, 0), layout.length(), layout.elementStride(), acc);
                g[(int) v] = square(acc, k);
            }
        });
        return g;
    }

    /** Adds {@code y_i * y_j} (i <= j) of elements {@code start + e * stride}, e < count, into acc[i*k+j]. */
    private static void accumulate(TensorView base, TensorView[] xs, long start, long count, long stride,
                                   double[] acc) {
        int k = xs.length;
        double[] y = new double[k];
        for (long e = 0; e < count; e++) {
            long i = start + e * stride;
            float b = base == null ? 0f : base.get(i);
            for (int j = 0; j < k; j++) {
                float x = xs[j].get(i);
                y[j] = base == null ? x : x - b;
            }
            for (int a = 0; a < k; a++) {
                for (int c = a; c < k; c++) acc[a * k + c] += y[a] * y[c];
            }
        }
    }

    private static double[][] square(double[] packed, int k) {
        double[][] g = new double[k][k];
        for (int a = 0; a < k; a++) {
            for (int c = a; c < k; c++) g[a][c] = g[c][a] = packed[a * k + c];
        }
        return g;
    }

    /** {@code (G c) · c}, the squared norm of {@code Σ c_j y_j}; never below 0 (rounding in a cancellation). */
    static double squaredNorm(double[][] g, double[] c) {
        double s = 0;
        for (int a = 0; a < c.length; a++) {
            for (int b = 0; b < c.length; b++) s += c[a] * g[a][b] * c[b];
        }
        return Math.max(0, s);
    }

    /** {@code y_i · Σ c_j y_j}. */
    static double dot(double[][] g, int i, double[] c) {
        double s = 0;
        for (int j = 0; j < c.length; j++) s += g[i][j] * c[j];
        return s;
    }
}
