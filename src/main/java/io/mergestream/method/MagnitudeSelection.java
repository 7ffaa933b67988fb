package io.mergestream.method;

import io.mergestream.engine.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TensorView;
import java.util.List;

/**
 * Exact top-k of |delta| for one fine-tune of one tensor, without sorting or copying: a radix select over
 * the bits of |delta| (for non-negative floats, the bit patterns order like the values). Pass 1 counts the
 * high 16 bits, pass 2 the low 16 bits of the elements in the bin that holds the k-th largest; when only
 * some of the elements equal to the threshold are kept, pass 3 finds the flat index where the kept ties end
 * (ties go to the lowest indices, merge-semantics.md). Every pass streams the mapped tensors, in parallel
 * chunks whose counts are summed exactly.
 */
public final class MagnitudeSelection {

    private static final int BINS = 1 << 16;

    private MagnitudeSelection() {}

    /**
     * The magnitude sparsifier keeping the {@code floor(density * n)} largest |model - base| of the tensor.
     * Elements at or past {@code validElements} have no delta (|delta| = 0, bits 0).
     */
    public static Sparsifier.Magnitude select(MergeKernel kernel, ChunkRunner runner, TensorView base,
                                              TensorView model, long validElements, long n,
                                              double density, boolean rescale) {
        Sparsifier.Magnitude top = topK(kernel, runner, base, model, validElements, n, (long) Math.floor(density * n));
        return new Sparsifier.Magnitude(top.thresholdBits(), top.tieCutoff(), (float) density, rescale);
    }

    /**
     * The magnitude test keeping exactly the {@code k} largest |model - base| (ties to the lowest flat index),
     * with density 1 and no rescale: breadcrumbs calls it twice, for the outliers and for the band's end.
     */
    public static Sparsifier.Magnitude topK(MergeKernel kernel, ChunkRunner runner, TensorView base,
                                            TensorView model, long validElements, long n, long k) {
        float rho = 1f;
        boolean rescale = false;
        if (k <= 0) return new Sparsifier.Magnitude(Integer.MAX_VALUE, 0, rho, rescale);
        if (k >= n) return new Sparsifier.Magnitude(0, Long.MAX_VALUE, rho, rescale);
        long zeros = n - validElements;

        long[] high = sum(runner.reduce(validElements, () -> new long[BINS],
                (h, s, c) -> kernel.absDeltaHistogramHigh(base, model, s, c, h)));
        high[0] += zeros;
        int hBin = BINS - 1;
        long above = 0;
        while (above + high[hBin] < k) above += high[hBin--];

        final int hSel = hBin;
        long[] low = sum(runner.reduce(validElements, () -> new long[BINS],
                (h, s, c) -> kernel.absDeltaHistogramLow(base, model, hSel, s, c, h)));
        if (hSel == 0) low[0] += zeros;
        int lBin = BINS - 1;
        while (above + low[lBin] < k) above += low[lBin--];

        int threshold = (hSel << 16) | lBin;
        long tiesKept = k - above;
        if (tiesKept == low[lBin]) {
            return new Sparsifier.Magnitude(threshold, Long.MAX_VALUE, rho, rescale);
        }
        return new Sparsifier.Magnitude(threshold, tieCutoff(kernel, runner, base, model, validElements,
                threshold, tiesKept), rho, rescale);
    }

    /** One past the flat index of the {@code nth} element (1-based) whose |delta| bits equal {@code bits}. */
    private static long tieCutoff(MergeKernel kernel, ChunkRunner runner, TensorView base, TensorView model,
                                  long validElements, int bits, long nth) {
        int chunk = runner.chunkElements();
        long chunks = (validElements + chunk - 1) / chunk;
        // Counts per chunk, in chunk order: the cutoff must be found by position, not by thread.
        long[] perChunk = new long[(int) chunks];
        runner.forEachChunk(validElements, (s, c) ->
                perChunk[(int) (s / chunk)] = kernel.countAbsDeltaEqual(base, model, bits, s, c));
        long seen = 0;
        for (int c = 0; c < chunks; c++) {
            if (seen + perChunk[c] >= nth) {
                long start = (long) c * chunk;
                int count = (int) Math.min(chunk, validElements - start);
                return kernel.indexOfNthAbsDeltaEqual(base, model, bits, nth - seen, start, count) + 1;
            }
            seen += perChunk[c];
        }
        // The remaining ties are the zero deltas past the model's rows (bits == 0 there).
        return validElements + (nth - seen);
    }

    private static long[] sum(List<long[]> parts) {
        long[] total = parts.get(0);
        for (int i = 1; i < parts.size(); i++) {
            long[] p = parts.get(i);
            for (int b = 0; b < BINS; b++) total[b] += p[b];
        }
        return total;
    }
}
