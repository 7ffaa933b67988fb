package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.TensorView;

/**
 * The reduction pass of the spherical methods: the Gram matrix {@code G[i][j] = y_i · y_j} of the merged
 * vectors, where {@code y_j = x_j} or, with a base, {@code y_j = x_j − b} (the f32 difference the map step
 * also forms). Products and sums are in f64. Over a whole tensor the sums are {@link BlockReduction}'s, so
 * they are bit-identical for any thread count and chunk size; per row or column, each vector is summed by
 * one task in element order, which is just as independent of the split. Contiguous vectors are decoded on the
 * kernel's lanes; column vectors are read strided, element by element: correct, not fast (nuslerp's per-column
 * mode is rare).
 */
final class Gram {

    private Gram() {}

    /** {@code G[v][i][j]} for every vector {@code v} of the layout. */
    static double[][][] of(MergeKernel kernel, ChunkRunner runner, TensorView base, TensorView[] xs, VectorLayout layout) {
        int k = xs.length;
        if (layout.isWhole()) {
            double[] sums = BlockReduction.sum(runner, layout.length(), k * k,
                    (start, count, acc) -> accumulate(kernel, base, xs, start, count, 1, acc));
            return new double[][][] {square(sums, k)};
        }
        double[][][] g = new double[(int) layout.count()][][];
        int perTask = (int) Math.max(1, BlockReduction.BLOCK / Math.max(1, layout.length()));
        runner.forEachChunk(layout.count(), perTask, (v0, vectors) -> {
            for (long v = v0; v < v0 + vectors; v++) {
                double[] acc = new double[k * k];
                accumulate(kernel, base, xs, layout.index(v, 0), layout.length(), layout.elementStride(), acc);
                g[(int) v] = square(acc, k);
            }
        });
        return g;
    }

    /**
     * Adds {@code y_i * y_j} (i <= j) of elements {@code start + e * stride}, e < count, into acc[i*k+j], element after
     * element. Contiguous vectors (stride 1) are decoded block by block on the kernel's lanes (the f32 difference
     * the map step forms); the products and sums stay in this order, so the result does not depend on the kernel.
     */
    private static void accumulate(MergeKernel kernel, TensorView base, TensorView[] xs, long start, long count,
                                   long stride, double[] acc) {
        int k = xs.length;
        if (stride != 1) {
            float[] y = new float[k];
            for (long e = 0; e < count; e++) {
                long i = start + e * stride;
                for (int j = 0; j < k; j++) ScalarKernel.deltasRange(base, xs[j], i, j, 1, y);
                add(y, 0, k, acc);
            }
            return;
        }
        int block = (int) Math.min(count, DECODED);
        float[][] y = new float[k][block];
        float[] column = new float[k];
        for (long e = 0; e < count; e += block) {
            int n = (int) Math.min(block, count - e);
            for (int j = 0; j < k; j++) kernel.deltas(base, xs[j], start + e, n, y[j]);
            for (int o = 0; o < n; o++) {
                for (int j = 0; j < k; j++) column[j] = y[j][o];
                add(column, 0, k, acc);
            }
        }
    }

    /** Elements decoded per block of a contiguous vector. */
    private static final int DECODED = 2048;

    private static void add(float[] y, int at, int k, double[] acc) {
        for (int a = 0; a < k; a++) {
            double ya = y[at + a];
            for (int c = a; c < k; c++) acc[a * k + c] += ya * y[at + c];
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
