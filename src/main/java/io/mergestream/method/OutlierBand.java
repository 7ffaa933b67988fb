package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.Sparsifier;

/**
 * breadcrumbs' {@code magnitude_outliers} sparsifier (merge-semantics.md): order the elements by |delta|
 * descending, equal magnitudes by ascending flat index; drop the first {@code top}, keep the next
 * {@code floor(ρ·n)}, drop the rest. {@code top = floor(γ·n)}, lowered to {@code n − floor(ρ·n)} when both
 * do not fit (as mergekit does). Both ends are exact {@link MagnitudeSelection#topK} thresholds, so an element
 * is kept iff it is in the top {@code top + floor(ρ·n)} and not in the top {@code top}.
 *
 * <p>Deliberate deviation: {@code floor(γ·n) = 0} removes no outliers (mergekit's {@code indices[n_bot:-0]}
 * is empty and drops the whole delta).
 */
record OutlierBand(Sparsifier.Magnitude outer, Sparsifier.Magnitude inner) implements DeltaSparsifier {

    /**
     * The band for fine-tune j; with {@code inverse} (rescale: inverse) kept values are divided by the density, as
     * the magnitude sparsifier does.
     */
    static DeltaSparsifier select(MergeKernel kernel, ChunkRunner runner, MergeInputs in, int j, double density,
                                  double gamma, boolean inverse) {
        long n = in.elements();
        long keep = (long) Math.floor(density * n);
        long top = Math.min((long) Math.floor(gamma * n), n - keep);
        Sparsifier.Magnitude[] ends = MagnitudeSelection.topK(kernel, runner, in.base(), in.models()[j],
                in.modelElements()[j], n, top, top + keep);
        OutlierBand band = new OutlierBand(ends[1], ends[0]);
        return inverse ? DeltaSparsifier.dividedBy(band, (float) density) : band;
    }

    @Override
    public void apply(long start, int count, float[] d, float[] s) {
        for (int o = 0; o < count; o++) {
            long i = start + o;
            int a = Float.floatToRawIntBits(d[o]) & 0x7FFFFFFF;
            s[o] = inTop(outer, a, i) && !inTop(inner, a, i) ? d[o] : 0f;
        }
    }

    private static boolean inTop(Sparsifier.Magnitude m, int a, long i) {
        return a > m.thresholdBits() || (a == m.thresholdBits() && i < m.tieCutoff());
    }
}
