package io.mergestream.kernel.vector;

import static io.mergestream.kernel.ScalarKernel.L1_STRIPES;
import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.IOTA;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.Sparsifier;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The L1 rule's block sums on lanes ({@link ScalarKernel#absSumsRange} defines their order): the pass that
 * {@code rescale: true} runs over every fine-tune of every tensor before the merge, which the default dare_ties
 * merge spent most of its CPU in when it ran element by element.
 *
 * <p>Each f32 vector of N lanes is read as two halves of N/2 lanes, each widened to a full-width vector of N/2
 * doubles (a lane-preserving conversion, like the bf16 widening of {@link VectorCodecs}); the half at array offset
 * {@code o} (a multiple of N/2, 2 to 8) holds stripes {@code o % 16 ..}, so it is added to the running stripe
 * sums at that offset of the 32-double stripe array. Every lane thus adds its stripe's next element in element
 * order: the reference's numbers in the reference's order, at any width. The stripe sums live in the (L1-resident)
 * array rather than in registers, because how many vectors 16 stripes are depends on the width; each one is
 * updated once per 16 elements, so the store-to-load latency is hidden.
 */
final class L1Loops {
    /** f32 halves: N/2 lanes, which widen to D without changing the lane count. */
    private static final VectorSpecies<Float> HALF = VectorSpecies.of(float.class, VectorShape.forBitSize(Lanes.BITS / 2));
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, VectorShape.forBitSize(Lanes.BITS));
    private static final int H = D.length();

    /** Per thread: the kept deltas of a record sparsifier, as long as the longest range asked (a reduction block). */
    private static final ThreadLocal<float[]> KEPT = ThreadLocal.withInitial(() -> new float[0]);

    private L1Loops() {}

    /** ScalarKernel.absSumsRange over [0, count): whole vectors here, the rest by the reference. */
    static void absSums(float[] d, float[] kept, int count, double[] stripes) {
        int whole = count / N * N;
        absSumsWhole(d, kept, whole, stripes);
        ScalarKernel.absSumsRange(d, kept, whole, count, stripes);
    }

    /** The vector loop of absSums over [0, n), n a multiple of N. */
    private static void absSumsWhole(float[] d, float[] kept, int n, double[] stripes) {
        for (int o = 0; o < n; o += H) {
            int stripe = o & (L1_STRIPES - 1);
            add(stripes, stripe, FloatVector.fromArray(HALF, d, o));
            add(stripes, L1_STRIPES + stripe, FloatVector.fromArray(HALF, kept, o));
        }
    }

    /** stripes[at .. at + H) += |v| widened to f64. */
    private static void add(double[] stripes, int at, FloatVector v) {
        DoubleVector wide = (DoubleVector) v.abs().convertShape(VectorOperators.F2D, D, 0);
        DoubleVector.fromArray(D, stripes, at).add(wide).intoArray(stripes, at);
    }

    /**
     * ScalarKernel.keptAbsSumsRange over [0, count): the record's keep test on lanes writes the kept deltas (the DARE
     * hash as the Dare stage computes it; the magnitude test as the Magnitude stage does), then {@link #absSums}.
     */
    static void keptAbsSums(Sparsifier s, long start, float[] d, int count, double[] stripes) {
        float[] kept = KEPT.get();
        if (kept.length < count) {
            kept = new float[count];
            KEPT.set(kept);
        }
        int whole = count / N * N;
        if ((start >>> 32) != ((start + count) >>> 32)) whole = 0; // the hash's high word must be fixed: rare, by the reference
        switch (s) {
            case Sparsifier.Random r -> keptRandom(d, start, whole, r.k0(), r.k1() ^ (int) (start >>> 32),
                    (int) r.threshold(), r.threshold() >= (1L << 32), kept);
            case Sparsifier.Magnitude m -> keptMagnitude(d, start, whole, m.thresholdBits(), m.tieCutoff(), kept);
            case Sparsifier.None none -> System.arraycopy(d, 0, kept, 0, whole);
        }
        // the whole vectors' sums, then the reference's keep test and sums over the tail: each stripe in element order
        absSumsWhole(d, kept, whole, stripes);
        ScalarKernel.keptAbsSumsRange(s, start, d, whole, count, stripes);
    }

    private static void keptRandom(float[] d, long start, int n, int k0, int k1hi, int threshold, boolean all,
                                   float[] kept) {
        final FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k < n; k += N) {
            FloatVector v = FloatVector.fromArray(F, d, k);
            IntVector u = TaskArithmeticLoops.lowbias32(TaskArithmeticLoops.lowbias32(
                    IOTA.add((int) (start + k)).lanewise(VectorOperators.XOR, k0)).lanewise(VectorOperators.XOR, k1hi));
            VectorMask<Float> keep = u.compare(VectorOperators.ULT, threshold).cast(F);
            (all ? v : zero.blend(v, keep)).intoArray(kept, k);
        }
    }

    private static void keptMagnitude(float[] d, long start, int n, int bits, long tieCutoff, float[] kept) {
        final FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k < n; k += N) {
            FloatVector v = FloatVector.fromArray(F, d, k);
            IntVector a = v.reinterpretAsInts().and(0x7FFFFFFF);
            int tieLanes = (int) Math.max(0, Math.min(N, tieCutoff - (start + k)));
            VectorMask<Integer> keep = a.compare(VectorOperators.GT, bits)
                    .or(a.compare(VectorOperators.EQ, bits).and(IOTA.compare(VectorOperators.LT, tieLanes)));
            zero.blend(v, keep.cast(F)).intoArray(kept, k);
        }
    }
}
