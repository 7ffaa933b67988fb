package io.mergestream.engine;

import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.ReferenceMerge.Keep;

/**
 * merge-semantics.md for whole tensors of decoded floats, as the end-to-end tests need it: the masks are
 * decided here from the method's sparsifier (DARE draws, a full sort for the magnitude top-k) and the
 * element-wise combination is the kernel tests' plain reference ({@link io.mergestream.kernel.ReferenceMerge}).
 * Nothing of the engine's selection, chunking or kernels is used.
 */
final class ReferenceMerge {

    enum Sparsify { NONE, RANDOM, MAGNITUDE }
    /** merge-semantics.md "Rescale": none, the paper's division by the density, mergekit's L1 rule. */
    enum Rescale { NONE, INVERSE, L1 }
    enum Elect { NONE, WEIGHTED_SUM, SUM, COUNT }

    private ReferenceMerge() {}

    /** Models shorter than the base contribute no delta past their end. */
    static float[] taskArithmetic(float[] b, float[][] x, float[] w, double[] density, Sparsify sp, Rescale rescale,
                                  Elect elect, boolean normalize, float lambda, long seed, String name) {
        int n = b.length;
        float[][] full = new float[x.length][];
        Keep[] keeps = new Keep[x.length];
        for (int j = 0; j < x.length; j++) {
            full[j] = new float[n];
            float[] d = new float[n];
            for (int i = 0; i < n; i++) {
                full[j][i] = i < x[j].length ? x[j][i] : b[i];
                d[i] = full[j][i] - b[i];
            }
            keeps[j] = keep(d, density[j], sp, rescale, seed, j, name);
        }
        return io.mergestream.kernel.ReferenceMerge.taskArithmetic(b, full, w, keeps, Consensus.valueOf(elect.name()),
                normalize, lambda);
    }

    static float[] linear(float[][] x, float[] w, boolean normalize, int n) {
        float[][] cut = new float[x.length][];
        for (int j = 0; j < x.length; j++) cut[j] = java.util.Arrays.copyOf(x[j], n);
        return io.mergestream.kernel.ReferenceMerge.linear(cut, w, normalize);
    }

    private static Keep keep(float[] d, double density, Sparsify sp, Rescale rescale, long seed, int model, String name) {
        if (sp == Sparsify.NONE || density >= 1) return Keep.all();
        boolean inverse = rescale == Rescale.INVERSE;
        Keep k;
        if (sp == Sparsify.RANDOM) {
            long key = DareMask.streamKey(seed, model, name);
            k = new Keep("random", DareMask.threshold(density), DareMask.k0(key), DareMask.k1(key), null,
                    (float) density, inverse);
        } else {
            k = new Keep("magnitude", 0, 0, 0, io.mergestream.kernel.ReferenceMerge.magnitudeSelection(d, density),
                    (float) density, inverse);
        }
        if (rescale != Rescale.L1) return k;
        // L1: Σ|d| and Σ|kept d| over the whole tensor in index order (double); kept values divided by their
        // ratio, unless either is below 1e-7
        double all = 0, kept = 0;
        for (int i = 0; i < d.length; i++) {
            all += Math.abs(d[i]);
            if (k.keptAt(i)) kept += Math.abs(d[i]);
        }
        if (all < 1e-7 || kept < 1e-7) return k;
        return new Keep(k.kind(), k.threshold(), k.k0(), k.k1(), k.selected(), (float) (kept / all), true);
    }
}
