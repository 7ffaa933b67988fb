package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.I;
import static io.mergestream.kernel.vector.Lanes.IOTA;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.LinearOp;
import io.mergestream.kernel.AbsDeltaCounts;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ResolvedTaskArithmetic;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import io.mergestream.kernel.Views;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The Vector API implementation of {@link MergeKernel}, bit-identical to {@link ScalarKernel}: each step
 * of {@link TaskArithmeticOp}'s op order runs on N lanes at once, fused from decode to encode in registers.
 * Elements that do not fill a vector go through ScalarKernel's per-element methods.
 *
 * <p>Load this class only when jdk.incubator.vector is in the boot layer (see Kernels).
 */
public final class VectorKernel implements MergeKernel {

    private static final int WEIGHTED_SUM = 1, SUM = 2, COUNT = 3;

    @Override
    public String name() {
        return "vector";
    }

    /** The vector width in bits (the species is fixed at class initialisation). */
    public static int vectorBits() {
        return Lanes.BITS;
    }

    @Override
    public void taskArithmetic(TaskArithmeticOp op, TensorView base, TensorView[] models, TensorView out,
                               long start, int count) {
        ResolvedTaskArithmetic p = new ResolvedTaskArithmetic(op);
        Views.checkMergeable(base, "base", start, count);
        Views.checkModels(models, p.models, start, count);
        Views.checkMergeable(out, "output", start, count);
        if (!vectorAccessible(base, out) || !vectorAccessible(models)) {
            ScalarKernel.taskArithmeticRange(p, base, models, out, start, start + count);
            return;
        }
        MemorySegment[] data = new MemorySegment[p.models];
        int[] types = new int[p.models];
        for (int j = 0; j < p.models; j++) {
            data[j] = models[j].data();
            types[j] = VectorCodecs.code(models[j].dtype());
        }
        int election = switch (p.consensus) {
            case NONE -> 0;
            case WEIGHTED_SUM -> WEIGHTED_SUM;
            case SUM -> SUM;
            case COUNT -> COUNT;
        };
        fusedRange(p, election, base, models, out, data, types, start, count);
        int k = count - count % N;
        ScalarKernel.taskArithmeticRange(p, base, models, out, start + k, start + count);
    }

    /**
     * The whole vectors of [start, start + count): every step of the op order on N lanes, decode to
     * encode. Written as one method on purpose: C2 inlines a limited depth of calls, and a vector that
     * crosses a call it did not inline is boxed on the heap, which makes SIMD slower than scalar code.
     * The per-vector steps it calls are tiny or Vector API methods (always inlined).
     *
     * <p>Known gap: on JDK 25 / AVX-512, -XX:+PrintInlining still shows some calls here not inlined
     * (NodeCountInliningCutoff on VectorCodecs.store, "callee is too large" at early compiles) and GC logs
     * show allocation, i.e. some vectors are still boxed; splitting per output dtype did not help. Next:
     * one loop per (consensus, output dtype) pair, checked with JMH.
     */
    private static void fusedRange(ResolvedTaskArithmetic p, int election, TensorView base, TensorView[] models,
                                   TensorView out, MemorySegment[] data, int[] types, long start, int count) {
        MemorySegment baseData = base.data(), outData = out.data();
        int baseType = VectorCodecs.code(base.dtype()), outType = VectorCodecs.code(out.dtype());
        boolean random = p.anyRandom();
        boolean normalize = p.normalize;
        float constantDivisor = p.constantDivisor;
        FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k <= count - N; k += N) {
            long i = start + k;
            // The DARE hash takes hi32(i) as one broadcast; a vector whose indices cross a multiple of 2^32
            // (once per 4 G elements) goes through the scalar path instead.
            if (random && (i & 0xFFFFFFFFL) > (1L << 32) - N) {
                ScalarKernel.taskArithmeticRange(p, base, models, out, i, i + N);
                continue;
            }
            FloatVector b = VectorCodecs.load(baseData, baseType, i);
            IntVector lo = IOTA.add((int) i);
            int hi = (int) (i >>> 32);
            // Without consensus, mixed is the plain sum; with it, the sums of the positive and of the
            // negative t_j are both kept, and the election picks one at the end: sum_j (a_j ? t_j : 0) is
            // exactly one of them, in the same j order and with the same +0 terms as the scalar loop.
            FloatVector mixed = zero, vote = zero, positiveSum = zero, negativeSum = zero;
            FloatVector positiveWeight = zero, negativeWeight = zero;
            for (int j = 0; j < p.models; j++) {
                FloatVector d = VectorCodecs.load(data[j], types[j], i).sub(b);
                // s_j: the kept deltas (divided by the density if rescaled), +0 elsewhere.
                FloatVector s = p.rescale[j] ? d.div(p.density[j]) : d;
                int kind = p.kind[j];
                if (kind == ResolvedTaskArithmetic.RANDOM) {
                    IntVector u = lowbias32(lowbias32(lo.lanewise(VectorOperators.XOR, p.k0[j]))
                            .lanewise(VectorOperators.XOR, p.k1[j] ^ hi));
                    // u < threshold unsigned: signed compare after flipping both top bits.
                    VectorMask<Integer> keep = u.lanewise(VectorOperators.XOR, Integer.MIN_VALUE)
                            .compare(VectorOperators.LT, p.randomThreshold[j] ^ Integer.MIN_VALUE);
                    s = zero.blend(s, keep.cast(F));
                } else if (kind == ResolvedTaskArithmetic.MAGNITUDE) {
                    IntVector a = d.reinterpretAsInts().and(0x7FFFFFFF);
                    int bits = p.magnitudeBits[j];
                    int tieLanes = Math.clamp(p.tieCutoff[j] - i, 0, N);
                    VectorMask<Integer> keep = a.compare(VectorOperators.GT, bits).or(
                            a.compare(VectorOperators.EQ, bits).and(IOTA.compare(VectorOperators.LT, tieLanes)));
                    s = zero.blend(s, keep.cast(F));
                }
                FloatVector t = s.mul(p.weights[j]);
                if (election == 0) {
                    mixed = j == 0 ? t : mixed.add(t);
                    continue;
                }
                VectorMask<Float> positive = t.compare(VectorOperators.GT, 0f);
                VectorMask<Float> negative = t.compare(VectorOperators.LT, 0f);
                vote = vote.add(election == WEIGHTED_SUM ? t
                        : election == SUM ? s
                        : zero.blend(1f, positive).blend(-1f, negative));
                positiveSum = positiveSum.add(zero.blend(t, positive));
                negativeSum = negativeSum.add(zero.blend(t, negative));
                if (normalize) {
                    positiveWeight = positiveWeight.add(zero.blend(p.weights[j], positive));
                    negativeWeight = negativeWeight.add(zero.blend(p.weights[j], negative));
                }
            }
            if (election == 0) {
                if (normalize) mixed = mixed.div(constantDivisor);
            } else {
                VectorMask<Float> elected = vote.compare(VectorOperators.GE, 0f);
                mixed = negativeSum.blend(positiveSum, elected);
                if (normalize) {
                    FloatVector divisor = negativeWeight.blend(positiveWeight, elected);
                    divisor = divisor.blend(1f, divisor.abs().compare(VectorOperators.LT, 1e-8f));
                    mixed = mixed.div(divisor);
                }
            }
            VectorCodecs.store(mixed.mul(p.lambda).add(b), outData, outType, i);
        }
    }

    private static IntVector lowbias32(IntVector x) {
        x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 16)).mul(0x21F0AAAD);
        x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 15)).mul(0x735A2D97);
        return x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 15));
    }

    @Override
    public void linear(LinearOp op, TensorView[] models, TensorView out, long start, int count) {
        float[] w = op.weights();
        Views.checkModels(models, w.length, start, count);
        Views.checkMergeable(out, "output", start, count);
        if (w.length < 1) throw new IllegalArgumentException("linear needs at least one model");
        float divisor = ScalarKernel.linearDivisor(op);
        if (!vectorAccessible(out) || !vectorAccessible(models)) {
            ScalarKernel.linearRange(w, divisor, models, out, start, start + count);
            return;
        }
        MemorySegment[] data = new MemorySegment[w.length];
        int[] types = new int[w.length];
        for (int j = 0; j < w.length; j++) {
            data[j] = models[j].data();
            types[j] = VectorCodecs.code(models[j].dtype());
        }
        boolean normalize = op.normalize();
        int outType = VectorCodecs.code(out.dtype());
        int k = 0;
        for (; k <= count - N; k += N) {
            long i = start + k;
            FloatVector acc = VectorCodecs.load(data[0], types[0], i).mul(w[0]);
            for (int j = 1; j < w.length; j++) {
                acc = acc.add(VectorCodecs.load(data[j], types[j], i).mul(w[j]));
            }
            if (normalize) acc = acc.div(divisor);
            VectorCodecs.store(acc, out.data(), outType, i);
        }
        ScalarKernel.linearRange(w, divisor, models, out, start + k, start + count);
    }

    @Override
    public void convert(TensorView in, TensorView out, long start, int count) {
        Views.checkMergeable(in, "input", start, count);
        Views.checkMergeable(out, "output", start, count);
        int k = 0;
        if (vectorAccessible(in, out)) {
            int inType = VectorCodecs.code(in.dtype());
            int outType = VectorCodecs.code(out.dtype());
            for (; k <= count - N; k += N) {
                long i = start + k;
                VectorCodecs.store(VectorCodecs.load(in.data(), inType, i), out.data(), outType, i);
            }
        }
        ScalarKernel.convertRange(in, out, start + k, start + count);
    }

    /** The Vector API reads native segments and heap segments over byte[] only. */
    private static boolean vectorAccessible(TensorView... views) {
        for (TensorView v : views) {
            MemorySegment data = v.data();
            if (!data.isNative() && !(data.heapBase().orElse(null) instanceof byte[])) return false;
        }
        return true;
    }

    @Override
    public void absDeltaHistogramHigh(TensorView base, TensorView model, long start, int count, long[] histogram) {
        AbsDeltaCounts.histogramHigh(base, model, start, count, histogram);
    }

    @Override
    public void absDeltaHistogramLow(TensorView base, TensorView model, int high, long start, int count,
                                     long[] histogram) {
        AbsDeltaCounts.histogramLow(base, model, high, start, count, histogram);
    }

    @Override
    public long countAbsDeltaEqual(TensorView base, TensorView model, int bits, long start, int count) {
        return AbsDeltaCounts.countEqual(base, model, bits, start, count);
    }

    @Override
    public long indexOfNthAbsDeltaEqual(TensorView base, TensorView model, int bits, long n, long start, int count) {
        return AbsDeltaCounts.indexOfNthEqual(base, model, bits, n, start, count);
    }
}
