package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.IOTA;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.ResolvedTaskArithmetic;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The task-arithmetic loops: every step of {@link TaskArithmeticOp}'s op order on N lanes.
 *
 * <p>Why it is shaped like this. A Vector API value stays in a register only while C2 sees every operation
 * on it in one compiled method; a call C2 does not inline takes and returns vectors as heap objects (an
 * allocation each), and then SIMD code is slower than scalar code. C2 stops inlining our own methods once a
 * compilation has created about 18000 IR nodes (NodeCountInliningCutoff, a develop flag: not tunable in
 * product JVMs; counted while parsing, dead nodes included), and each Vector API call creates a few hundred
 * while it is parsed. One loop fusing 3 models with their DARE hashes passed the cutoff in its second model,
 * and even a loop doing only the election of 3 models and the encode passed it at the encode: the rest was
 * boxed (about 70 bytes allocated per element).
 *
 * <p>So each range is processed in blocks of {@link #BLOCK} elements, by small loops that are each their
 * own compilation, well under the cutoff, passing f32 values through per-thread L1-resident scratch
 * blocks (no allocation per call):
 * <ol>
 * <li>{@link #decode}: the base and each x_j, decoded to f32 (the only loops, with {@link #encode}, that
 *     depend on dtypes);</li>
 * <li>per model, one sparsify loop per sparsifier kind ({@link #keepAll}, {@link #dare}, {@link #magnitude}):
 *     subtract b, rescale, drop, in place. There is no switch on the kind inside a loop, and the model's
 *     parameters are final locals read before the loop;</li>
 * <li>one combine loop per model count 1..4 ({@link #combine1} ...; more go through {@link #combineAny}):
 *     weights, election, normalize, lambda, + b, into the base's block. The models are unrolled by hand, so
 *     their vectors are plain locals rather than values carried around an inner loop over j, and no
 *     per-model parameter is read from an array inside the loop;</li>
 * <li>{@link #encode}: rounding to the output dtype and the store.</li>
 * </ol>
 * Dtypes are loop-invariant ints: C2 compiles only the dtype a merge uses (the other branches are never
 * taken and become traps). The DARE hash's high word of the element index is fixed per range
 * ({@link #forEachRange} cuts at multiples of 2^32), so no loop checks it per vector. Loops run over whole
 * vectors only; the rest of a call goes to the scalar kernel. Every reordering of the op order below is
 * exact; each one says why.
 */
final class TaskArithmeticLoops {
    static final int NONE = 0, WEIGHTED_SUM = 1, SUM = 2, COUNT = 3;
    /**
     * Elements per block, a multiple of N: the scratch blocks of 4 models and the base (20 KB) and the
     * input blocks being read stay in L1; blocks this long make the per-block calls negligible.
     */
    static final int BLOCK = 1024;

    /** Per thread: block j holds x_j, then s_j; the last block holds b, then the result. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[0][]);

    private TaskArithmeticLoops() {}

    /** One model's parameters for one range, as the sparsify loops use them. */
    record Model(MemorySegment data, int type, int kind, boolean rescale, float density,
                 int k0, int k1hi, int randomThreshold, int magnitudeBits, long tieCutoff) {

        static Model of(ResolvedTaskArithmetic p, int j, TensorView view, int hi) {
            return new Model(view.data(), VectorCodecs.code(view.dtype()), p.kind[j], p.rescale[j], p.density[j],
                    p.k0[j], p.k1[j] ^ hi, p.randomThreshold[j], p.magnitudeBits[j], p.tieCutoff[j]);
        }
    }

    /** What the combine loops need: weights, election, normalize, lambda, the divisor without consensus. */
    record Combine(float[] weights, int election, boolean normalize, float lambda, float constantDivisor) {}

    @FunctionalInterface
    interface ScalarTail {
        void run(long from, long to);
    }

    /**
     * Elements [start, end): whole vectors here, block by block, the rest by {@code scalarTail}; per range of
     * constant {@code i >>> 32}.
     */
    static void forEachRange(ResolvedTaskArithmetic p, TensorView base, TensorView[] views, TensorView out,
                             long start, long end, ScalarTail scalarTail) {
        int election = switch (p.consensus) {
            case NONE -> NONE;
            case WEIGHTED_SUM -> WEIGHTED_SUM;
            case SUM -> SUM;
            case COUNT -> COUNT;
        };
        Combine combine = new Combine(p.weights, election, p.normalize, p.lambda, p.constantDivisor);
        int k = p.models;
        float[][] s = scratch(k + 1);
        float[] result = s[k];
        MemorySegment baseData = base.data(), outData = out.data();
        int baseType = VectorCodecs.code(base.dtype()), outType = VectorCodecs.code(out.dtype());
        Model[] models = new Model[k];
        for (long from = start; from < end; ) {
            long to = Math.min(end, (from | 0xFFFFFFFFL) + 1); // the next multiple of 2^32
            int hi = (int) (from >>> 32);
            for (int j = 0; j < k; j++) models[j] = Model.of(p, j, views[j], hi);
            long whole = from + (to - from) / N * N;
            for (long block = from; block < whole; block += BLOCK) {
                int n = (int) Math.min(BLOCK, whole - block);
                decode(baseData, baseType, block, n, result);
                for (int j = 0; j < k; j++) {
                    Model m = models[j];
                    decode(m.data(), m.type(), block, n, s[j]);
                    switch (m.kind()) {
                        case ResolvedTaskArithmetic.RANDOM -> dare(m, result, block, n, s[j]);
                        case ResolvedTaskArithmetic.MAGNITUDE -> magnitude(m, result, block, n, s[j]);
                        default -> keepAll(m, result, block, n, s[j]);
                    }
                }
                switch (k) {
                    case 1 -> combine1(combine, s, n);
                    case 2 -> combine2(combine, s, n);
                    case 3 -> combine3(combine, s, n);
                    case 4 -> combine4(combine, s, n);
                    default -> combineAny(combine, s, n);
                }
                encode(result, outData, outType, block, n);
            }
            scalarTail.run(whole, to);
            from = to;
        }
    }

    private static float[][] scratch(int blocks) {
        float[][] s = SCRATCH.get();
        if (s.length != blocks) {
            s = new float[blocks][BLOCK];
            SCRATCH.set(s);
        }
        return s;
    }

    private static void decode(MemorySegment data, int type, long start, int n, float[] into) {
        for (int k = 0; k < n; k += N) VectorCodecs.load(data, type, start + k).intoArray(into, k);
    }

    private static void encode(float[] from, MemorySegment data, int type, long start, int n) {
        for (int k = 0; k < n; k += N) VectorCodecs.store(FloatVector.fromArray(F, from, k), data, type, start + k);
    }

    // The sparsify loops, in place over x_j's decoded block: s_j = x_j - b, divided by the density if
    // rescaled, +0 where dropped. They see f32 only: decoding x_j in its own loop keeps the f16 widening's
    // nodes out of them (with it inline, the DARE loop passed the cutoff for f16 and boxed).

    private static void keepAll(Model m, float[] b, long start, int n, float[] s) {
        final boolean rescale = m.rescale();
        final float density = m.density();
        for (int k = 0; k < n; k += N) {
            FloatVector d = FloatVector.fromArray(F, s, k).sub(FloatVector.fromArray(F, b, k));
            (rescale ? d.div(density) : d).intoArray(s, k);
        }
    }

    /** DARE: kept where the element's hash u = lowbias32(lowbias32(i ^ k0) ^ k1 ^ hi) < threshold, unsigned. */
    private static void dare(Model m, float[] b, long start, int n, float[] s) {
        final int k0 = m.k0(), k1hi = m.k1hi(), threshold = m.randomThreshold();
        final boolean rescale = m.rescale();
        final float density = m.density();
        final FloatVector zero = zero();
        for (int k = 0; k < n; k += N) {
            FloatVector d = FloatVector.fromArray(F, s, k).sub(FloatVector.fromArray(F, b, k));
            IntVector u = lowbias32(lowbias32(IOTA.add((int) (start + k)).lanewise(VectorOperators.XOR, k0))
                    .lanewise(VectorOperators.XOR, k1hi));
            VectorMask<Float> keep = u.compare(VectorOperators.ULT, threshold).cast(F);
            zero.blend(rescale ? d.div(density) : d, keep).intoArray(s, k);
        }
    }

    /** TIES trim: kept where |d| is above the threshold, or equal to it at an index below the tie cutoff. */
    private static void magnitude(Model m, float[] b, long start, int n, float[] s) {
        final int bits = m.magnitudeBits();
        final long tieCutoff = m.tieCutoff();
        final boolean rescale = m.rescale();
        final float density = m.density();
        final FloatVector zero = zero();
        for (int k = 0; k < n; k += N) {
            FloatVector d = FloatVector.fromArray(F, s, k).sub(FloatVector.fromArray(F, b, k));
            IntVector a = d.reinterpretAsInts().and(0x7FFFFFFF);
            int tieLanes = (int) Math.max(0, Math.min(N, tieCutoff - (start + k)));
            VectorMask<Integer> keep = a.compare(VectorOperators.GT, bits)
                    .or(a.compare(VectorOperators.EQ, bits).and(IOTA.compare(VectorOperators.LT, tieLanes)));
            zero.blend(rescale ? d.div(density) : d, keep.cast(F)).intoArray(s, k);
        }
    }

    // The combine loops: t_j = w_j * s_j; the plain sum or the sign election; normalize; b + lambda * mixed,
    // written over b. Apart from the model count they are the same. The election is written out in each loop
    // rather than in a helper taking all the vectors: such a helper is larger than 35 bytes of bytecode and
    // then inlined only where the profile says the call is hot, which it did not always say (see VectorCodecs).

    private static void combine1(Combine c, float[][] s, int n) {
        final float[] s0 = s[0], b = s[1];
        final float w0 = c.weights()[0];
        final int election = c.election();
        final boolean normalize = c.normalize();
        final float lambda = c.lambda(), divisor = c.constantDivisor();
        for (int k = 0; k < n; k += N) {
            FloatVector v0 = FloatVector.fromArray(F, s0, k);
            FloatVector t0 = v0.mul(w0);
            FloatVector mixed;
            if (election == NONE) {
                mixed = normalize ? t0.div(divisor) : t0;
            } else {
                FloatVector sign = sign(vote(election, v0, t0));
                VectorMask<Float> a0 = agrees(t0, sign);
                mixed = kept(t0, a0);
                if (normalize) mixed = mixed.div(guard(weightIf(w0, a0)));
            }
            mixed.mul(lambda).add(FloatVector.fromArray(F, b, k)).intoArray(b, k);
        }
    }

    private static void combine2(Combine c, float[][] s, int n) {
        final float[] s0 = s[0], s1 = s[1], b = s[2];
        final float w0 = c.weights()[0], w1 = c.weights()[1];
        final int election = c.election();
        final boolean normalize = c.normalize();
        final float lambda = c.lambda(), divisor = c.constantDivisor();
        for (int k = 0; k < n; k += N) {
            FloatVector v0 = FloatVector.fromArray(F, s0, k), v1 = FloatVector.fromArray(F, s1, k);
            FloatVector t0 = v0.mul(w0), t1 = v1.mul(w1);
            FloatVector mixed;
            if (election == NONE) {
                mixed = t0.add(t1);
                if (normalize) mixed = mixed.div(divisor);
            } else {
                FloatVector sign = sign(vote(election, v0, t0).add(vote(election, v1, t1)));
                VectorMask<Float> a0 = agrees(t0, sign), a1 = agrees(t1, sign);
                mixed = kept(t0, a0).add(kept(t1, a1));
                if (normalize) mixed = mixed.div(guard(weightIf(w0, a0).add(weightIf(w1, a1))));
            }
            mixed.mul(lambda).add(FloatVector.fromArray(F, b, k)).intoArray(b, k);
        }
    }

    private static void combine3(Combine c, float[][] s, int n) {
        final float[] s0 = s[0], s1 = s[1], s2 = s[2], b = s[3];
        final float w0 = c.weights()[0], w1 = c.weights()[1], w2 = c.weights()[2];
        final int election = c.election();
        final boolean normalize = c.normalize();
        final float lambda = c.lambda(), divisor = c.constantDivisor();
        for (int k = 0; k < n; k += N) {
            FloatVector v0 = FloatVector.fromArray(F, s0, k), v1 = FloatVector.fromArray(F, s1, k);
            FloatVector v2 = FloatVector.fromArray(F, s2, k);
            FloatVector t0 = v0.mul(w0), t1 = v1.mul(w1), t2 = v2.mul(w2);
            FloatVector mixed;
            if (election == NONE) {
                mixed = t0.add(t1).add(t2);
                if (normalize) mixed = mixed.div(divisor);
            } else {
                FloatVector sign = sign(vote(election, v0, t0).add(vote(election, v1, t1)).add(vote(election, v2, t2)));
                VectorMask<Float> a0 = agrees(t0, sign), a1 = agrees(t1, sign), a2 = agrees(t2, sign);
                mixed = kept(t0, a0).add(kept(t1, a1)).add(kept(t2, a2));
                if (normalize) {
                    mixed = mixed.div(guard(weightIf(w0, a0).add(weightIf(w1, a1)).add(weightIf(w2, a2))));
                }
            }
            mixed.mul(lambda).add(FloatVector.fromArray(F, b, k)).intoArray(b, k);
        }
    }

    private static void combine4(Combine c, float[][] s, int n) {
        final float[] s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], b = s[4];
        final float w0 = c.weights()[0], w1 = c.weights()[1], w2 = c.weights()[2], w3 = c.weights()[3];
        final int election = c.election();
        final boolean normalize = c.normalize();
        final float lambda = c.lambda(), divisor = c.constantDivisor();
        for (int k = 0; k < n; k += N) {
            FloatVector v0 = FloatVector.fromArray(F, s0, k), v1 = FloatVector.fromArray(F, s1, k);
            FloatVector v2 = FloatVector.fromArray(F, s2, k), v3 = FloatVector.fromArray(F, s3, k);
            FloatVector t0 = v0.mul(w0), t1 = v1.mul(w1), t2 = v2.mul(w2), t3 = v3.mul(w3);
            FloatVector mixed;
            if (election == NONE) {
                mixed = t0.add(t1).add(t2).add(t3);
                if (normalize) mixed = mixed.div(divisor);
            } else {
                FloatVector sign = sign(vote(election, v0, t0).add(vote(election, v1, t1)).add(vote(election, v2, t2))
                        .add(vote(election, v3, t3)));
                VectorMask<Float> a0 = agrees(t0, sign), a1 = agrees(t1, sign);
                VectorMask<Float> a2 = agrees(t2, sign), a3 = agrees(t3, sign);
                mixed = kept(t0, a0).add(kept(t1, a1)).add(kept(t2, a2)).add(kept(t3, a3));
                if (normalize) {
                    mixed = mixed.div(guard(weightIf(w0, a0).add(weightIf(w1, a1)).add(weightIf(w2, a2))
                            .add(weightIf(w3, a3))));
                }
            }
            mixed.mul(lambda).add(FloatVector.fromArray(F, b, k)).intoArray(b, k);
        }
    }

    /**
     * Any model count: an inner loop over the models. The election keeps the running sums of the positive
     * and of the negative t_j (and their weights) and picks one pair at the end: sum_j (a_j ? t_j : 0) is
     * exactly one of them, in the same j order and with the same +0 terms as the scalar loop. Vectors carried
     * around the inner loop cost more than the unrolled loops above; this serves merges of 5 or more
     * fine-tunes.
     */
    private static void combineAny(Combine c, float[][] s, int n) {
        final float[] weights = c.weights(), b = s[weights.length];
        final int election = c.election();
        final boolean normalize = c.normalize();
        final float lambda = c.lambda(), divisor = c.constantDivisor();
        final FloatVector zero = zero();
        for (int k = 0; k < n; k += N) {
            FloatVector mixed = zero, vote = zero, positiveSum = zero, negativeSum = zero;
            FloatVector positiveWeight = zero, negativeWeight = zero;
            for (int j = 0; j < weights.length; j++) {
                float w = weights[j];
                FloatVector v = FloatVector.fromArray(F, s[j], k);
                FloatVector t = v.mul(w);
                if (election == NONE) {
                    mixed = j == 0 ? t : mixed.add(t);
                    continue;
                }
                VectorMask<Float> positive = t.compare(VectorOperators.GT, 0f);
                VectorMask<Float> negative = t.compare(VectorOperators.LT, 0f);
                vote = vote.add(vote(election, v, t));
                positiveSum = positiveSum.add(zero.blend(t, positive));
                negativeSum = negativeSum.add(zero.blend(t, negative));
                if (normalize) {
                    positiveWeight = positiveWeight.add(zero.blend(w, positive));
                    negativeWeight = negativeWeight.add(zero.blend(w, negative));
                }
            }
            if (election == NONE) {
                if (normalize) mixed = mixed.div(divisor);
            } else {
                VectorMask<Float> elected = vote.compare(VectorOperators.GE, 0f);
                mixed = negativeSum.blend(positiveSum, elected);
                if (normalize) mixed = mixed.div(guard(negativeWeight.blend(positiveWeight, elected)));
            }
            mixed.mul(lambda).add(FloatVector.fromArray(F, b, k)).intoArray(b, k);
        }
    }

    // The election steps. Exactness against the scalar loop:
    //  - a_j = (up ? t_j > 0 : t_j < 0) is computed as t_j * sign > 0 with sign = up ? +1 : -1: multiplying
    //    by +-1 is exact and keeps zeros and NaNs failing the test, and it is two operations instead of five;
    //  - the sums start from their first term instead of 0f. mixed: its terms (a_j ? t_j : +0) are never -0
    //    (an agreeing t_j is non-zero) and 0f + x == x for every x but -0, so the bits are the same. The vote
    //    and the divisor: dropping "0f +" can only change the sign of a zero result (0f + x differs from x
    //    only for x = -0, and only in the zero's sign, which later additions keep or lose identically); the
    //    vote is only compared with >= 0 and the divisor only used through guard(), which maps both zeros
    //    to 1, so the results are the same bits.

    /** Model j's term of the election sum. */
    private static FloatVector vote(int election, FloatVector s, FloatVector t) {
        return election == WEIGHTED_SUM ? t : election == SUM ? s : signum(t);
    }

    /** -1, 0 or +1 (COUNT's vote; a NaN counts 0, as in the scalar kernel). */
    private static FloatVector signum(FloatVector t) {
        return zero().blend(1f, t.compare(VectorOperators.GT, 0f)).blend(-1f, t.compare(VectorOperators.LT, 0f));
    }

    /** The elected sign: +1 where the vote is >= 0, else -1. */
    private static FloatVector sign(FloatVector vote) {
        return FloatVector.broadcast(F, -1f).blend(1f, vote.compare(VectorOperators.GE, 0f));
    }

    /** a_j: t_j has the elected sign (an exact zero or a NaN never agrees). */
    private static VectorMask<Float> agrees(FloatVector t, FloatVector sign) {
        return t.mul(sign).compare(VectorOperators.GT, 0f);
    }

    private static FloatVector kept(FloatVector t, VectorMask<Float> agrees) {
        return zero().blend(t, agrees);
    }

    private static FloatVector weightIf(float w, VectorMask<Float> agrees) {
        return zero().blend(w, agrees);
    }

    /** |divisor| < 1e-8 divides by 1 instead (ResolvedTaskArithmetic.guardDivisor). */
    private static FloatVector guard(FloatVector divisor) {
        return divisor.blend(1f, divisor.abs().compare(VectorOperators.LT, 1e-8f));
    }

    /** DareMask.lowbias32 on every lane (in pieces of at most 35 bytes of bytecode, see VectorCodecs). */
    static IntVector lowbias32(IntVector x) {
        return xorShift(xorShift(xorShift(x, 16).mul(0x21F0AAAD), 15).mul(0x735A2D97), 15);
    }

    /** x ^ (x >>> shift) */
    private static IntVector xorShift(IntVector x, int shift) {
        return x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, shift));
    }

    private static FloatVector zero() {
        return FloatVector.zero(F);
    }
}
