package io.mergestream.engine;

import io.mergestream.kernel.DareMask;
import java.util.Arrays;
import java.util.Comparator;

/**
 * A plain, slow implementation of merge-semantics.md for one tensor of decoded floats, written without the
 * engine's kernels, selection or chunking: the yardstick the end-to-end tests compare against.
 */
final class ReferenceMerge {

    enum Sparsify { NONE, RANDOM, MAGNITUDE }
    enum Elect { NONE, WEIGHTED_SUM, SUM, COUNT }

    private ReferenceMerge() {}

    /** Models shorter than the base contribute no delta past their end. */
    static float[] taskArithmetic(float[] b, float[][] x, float[] w, double[] density, Sparsify sp, boolean rescale,
                                  Elect elect, boolean normalize, float lambda, long seed, String name) {
        int n = b.length;
        int k = x.length;
        float[][] s = new float[k][n];
        for (int j = 0; j < k; j++) {
            float[] d = new float[n];
            for (int i = 0; i < n; i++) d[i] = i < x[j].length ? x[j][i] - b[i] : 0f;
            boolean[] keep = keepMask(d, density[j], sp, seed, j, name);
            for (int i = 0; i < n; i++) {
                boolean scale = rescale && density[j] < 1 && sp != Sparsify.NONE;
                s[j][i] = keep[i] ? (scale ? d[i] / (float) density[j] : d[i]) : 0f;
            }
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float[] t = new float[k];
            for (int j = 0; j < k; j++) t[j] = w[j] * s[j][i];
            float mixed = 0f;
            float divisor = 0f;
            if (elect == Elect.NONE) {
                for (int j = 0; j < k; j++) mixed += t[j];
                for (int j = 0; j < k; j++) divisor += w[j];
            } else {
                float e = 0f;
                for (int j = 0; j < k; j++) {
                    e += switch (elect) {
                        case WEIGHTED_SUM -> t[j];
                        case SUM -> s[j][i];
                        case COUNT -> Math.signum(t[j]);
                        case NONE -> throw new AssertionError();
                    };
                }
                boolean positive = e >= 0f;
                for (int j = 0; j < k; j++) {
                    boolean agrees = positive ? t[j] > 0f : t[j] < 0f;
                    if (agrees) {
                        mixed += t[j];
                        divisor += w[j];
                    }
                }
            }
            if (normalize) mixed = mixed / (Math.abs(divisor) < 1e-8f ? 1f : divisor);
            out[i] = b[i] + lambda * mixed;
        }
        return out;
    }

    static float[] linear(float[][] x, float[] w, boolean normalize, int n) {
        float[] out = new float[n];
        float divisor = 0f;
        for (float wj : w) divisor += wj;
        for (int i = 0; i < n; i++) {
            float acc = 0f;
            for (int j = 0; j < x.length; j++) acc += w[j] * x[j][i];
            out[i] = normalize ? acc / divisor : acc;
        }
        return out;
    }

    private static boolean[] keepMask(float[] d, double density, Sparsify sp, long seed, int model, String name) {
        int n = d.length;
        boolean[] keep = new boolean[n];
        if (sp == Sparsify.NONE || density >= 1) {
            Arrays.fill(keep, true);
            return keep;
        }
        if (sp == Sparsify.RANDOM) {
            long key = DareMask.streamKey(seed, model, name);
            long threshold = DareMask.threshold(density);
            for (int i = 0; i < n; i++) keep[i] = DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold);
            return keep;
        }
        // Magnitude: the floor(density * n) largest |d|, ties to the lowest index, by a full sort.
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -Math.abs(d[i])).thenComparingInt(i -> i));
        long kept = (long) Math.floor(density * n);
        for (int r = 0; r < kept; r++) keep[order[r]] = true;
        return keep;
    }
}
