package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TensorView;

/**
 * Exact top-k of |delta| for one fine-tune of one tensor ({@link RadixSelect} over the bits of |delta|, which
 * the kernels count while streaming the mapped tensors): the TIES trim, and both ends of breadcrumbs' band.
 * Ties go to the lowest flat index (merge-semantics.md).
 */
public final class MagnitudeSelection {

    private MagnitudeSelection() {}

    /**
     * The magnitude sparsifier keeping the {@code floor(density * n)} largest |model - base| of the tensor.
     * Elements at or past {@code validElements} have no delta (|delta| = 0, bits 0).
     */
    public static Sparsifier.Magnitude select(MergeKernel kernel, ChunkRunner runner, TensorView base,
                                              TensorView model, long validElements, long n,
                                              double density, boolean inverse) {
        Sparsifier.Magnitude top = topK(kernel, runner, base, model, validElements, n, (long) Math.floor(density * n));
        return new Sparsifier.Magnitude(top.thresholdBits(), top.tieCutoff(), (float) density, inverse);
    }

    /**
     * The magnitude test keeping exactly the {@code k} largest |model - base| (ties to the lowest flat index),
     * with density 1 and no rescale: breadcrumbs calls it twice, for the outliers and for the band's end.
     */
    public static Sparsifier.Magnitude topK(MergeKernel kernel, ChunkRunner runner, TensorView base,
                                            TensorView model, long validElements, long n, long k) {
        RadixSelect.Threshold t = RadixSelect.topK(runner, n, k, new AbsDeltaBits(kernel, base, model, validElements));
        return new Sparsifier.Magnitude(t.thresholdBits(), t.tieCutoff(), 1f, false);
    }

    /**
     * As {@link #topK} for several k at once (breadcrumbs' outliers and band end): the pass counting the high 16 bits
     * of every |delta| is the same for every k, so it runs once; each k then runs only its own narrower passes.
     */
    public static Sparsifier.Magnitude[] topK(MergeKernel kernel, ChunkRunner runner, TensorView base,
                                              TensorView model, long validElements, long n, long... k) {
        RadixSelect.Bits bits = new AbsDeltaBits(kernel, base, model, validElements);
        long[] high = null;
        Sparsifier.Magnitude[] tests = new Sparsifier.Magnitude[k.length];
        for (int t = 0; t < k.length; t++) {
            if (k[t] > 0 && k[t] < n && high == null) high = RadixSelect.highHistogram(runner, n, bits);
            RadixSelect.Threshold th = RadixSelect.topK(runner, n, k[t], bits, high); // reads high only for 0 < k < n
            tests[t] = new Sparsifier.Magnitude(th.thresholdBits(), th.tieCutoff(), 1f, false);
        }
        return tests;
    }

    /** |model - base| bits through the kernel; past the model's rows every element is a zero delta. */
    private record AbsDeltaBits(MergeKernel kernel, TensorView base, TensorView model, long valid)
            implements RadixSelect.Bits {

        /** Elements of {@code [start, start + count)} that the model covers. */
        private int covered(long start, int count) {
            return (int) Math.max(0, Math.min(count, valid - start));
        }

        @Override
        public void histogramHigh(long start, int count, long[] histogram) {
            int own = covered(start, count);
            if (own > 0) kernel.absDeltaHistogramHigh(base, model, start, own, histogram);
            histogram[0] += count - own;
        }

        @Override
        public void histogramLow(int high, long start, int count, long[] histogram) {
            int own = covered(start, count);
            if (own > 0) kernel.absDeltaHistogramLow(base, model, high, start, own, histogram);
            if (high == 0) histogram[0] += count - own;
        }

        @Override
        public long countEqual(int bits, long start, int count) {
            int own = covered(start, count);
            long n = own > 0 ? kernel.countAbsDeltaEqual(base, model, bits, start, own) : 0;
            return bits == 0 ? n + (count - own) : n;
        }

        @Override
        public long indexOfNthEqual(int bits, long nth, long start, int count) {
            int own = covered(start, count);
            long found = own > 0 ? kernel.indexOfNthAbsDeltaEqual(base, model, bits, nth, start, own) : -1;
            if (found >= 0 || bits != 0) return found;
            long before = own > 0 ? kernel.countAbsDeltaEqual(base, model, 0, start, own) : 0;
            long tail = count - own;
            return nth - before <= tail ? start + own + (nth - before) - 1 : -1;
        }
    }
}
