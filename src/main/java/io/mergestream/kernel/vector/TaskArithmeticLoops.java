package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.IOTA;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.ResolvedTaskArithmetic;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import java.lang.foreign.Arena;
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
 * <p>So each range is processed in blocks of {@link #BLOCK} elements by a pipeline of {@link Stage}s, each
 * one small loop that is its own compilation, well under the cutoff, passing f32 values through per-thread
 * L1-resident scratch blocks (no allocation per element):
 * <ol>
 * <li>{@link DecodeBase}: b, decoded to f32;</li>
 * <li>per model, one sparsify stage per sparsifier kind ({@link KeepAll}, {@link Dare}, {@link Magnitude}):
 *     read x_j (bf16 or f32 where it lies; f16 is first widened by {@link WidenF16}, its widening being too
 *     big to share a loop with the DARE hash), subtract b, rescale, drop, store s_j. No switch on the kind
 *     inside a loop; the model's parameters are final fields read into locals before the loop;</li>
 * <li>one combine stage per model count 1..4 ({@link Combine1} ...; more go through {@link CombineAny}):
 *     weights, election, normalize, lambda, + b. The models are unrolled by hand, so their vectors are plain
 *     locals rather than values carried around an inner loop over j;</li>
 * <li>{@link Encode}: rounding to the output dtype and the store.</li>
 * </ol>
 * The stages are called through one virtual call site with at least four receiver classes: C2 never
 * inlines a megamorphic call, so each stage's loop stays a compilation of its own. (When the loops were
 * static methods, C2 inlined the small ones into the block loop, whose graph then passed the cutoff and
 * boxed the f16 decoding.) Dtypes are loop-invariant ints. The DARE hash's high word of the element index is
 * fixed per range ({@link #forEachRange} cuts at multiples of 2^32), so no loop checks it per vector. Loops
 * run over whole vectors only; the rest of a call goes to the scalar kernel. Every reordering of the op
 * order below is exact; each one says why.
 */
final class TaskArithmeticLoops {
    static final int NONE = 0, WEIGHTED_SUM = 1, SUM = 2, COUNT = 3;
    /**
     * Elements per block, a multiple of N: the scratch blocks of 4 models and the base (20 KB) and the
     * input blocks being read stay in L1; blocks this long make the per-block calls negligible.
     */
    static final int BLOCK = 1024;

    /** Per thread: block j holds s_j; the last block holds b, then the result. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[0][]);

    /**
     * Per thread: one block of f16 input widened to f32. Off-heap like the tensors on purpose: with a heap
     * segment, the segment loads' type profile mixed heap and native, C2 could not intrinsify the load on
     * one path, and the vectors merging with it were boxed on every path.
     */
    private static final ThreadLocal<MemorySegment> WIDENED =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(BLOCK * 4L, 64));

    private TaskArithmeticLoops() {}

    @FunctionalInterface
    interface ScalarTail {
        void run(long from, long to);
    }

    /** One loop of the pipeline over elements [block, block + n) (n a multiple of N). */
    abstract static class Stage {
        abstract void run(long block, int n);
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
        int k = p.models;
        float[][] s = scratch(k + 1);
        float[] b = s[k];
        MemorySegment widened = WIDENED.get();
        for (long from = start; from < end; ) {
            long to = Math.min(end, (from | 0xFFFFFFFFL) + 1); // the next multiple of 2^32
            int hi = (int) (from >>> 32);
            Stage[] stages = new Stage[2 * k + 3];
            int count = 0;
            stages[count++] = new DecodeBase(base.data(), base.origin(), VectorCodecs.code(base.dtype()), b);
            for (int j = 0; j < k; j++) {
                MemorySegment x = views[j].data();
                int type = VectorCodecs.code(views[j].dtype());
                boolean wide = type == VectorCodecs.F16;
                if (wide) stages[count++] = new WidenF16(x, views[j].origin(), widened);
                // x_j is read where it lies (element i at byte offset (i - origin) * size) or, widened, from the block.
                MemorySegment from16 = wide ? widened : x;
                int readType = wide ? VectorCodecs.F32 : type;
                boolean inBlock = wide;
                long xOrigin = views[j].origin();
                stages[count++] = switch (p.kind[j]) {
                    case ResolvedTaskArithmetic.RANDOM -> new Dare(from16, xOrigin, readType, inBlock, b, s[j], p.rescale[j],
                            p.density[j], p.k0[j], p.k1[j] ^ hi, p.randomThreshold[j]);
                    case ResolvedTaskArithmetic.MAGNITUDE -> new Magnitude(from16, xOrigin, readType, inBlock, b, s[j],
                            p.rescale[j], p.density[j], p.magnitudeBits[j], p.tieCutoff[j]);
                    default -> new KeepAll(from16, xOrigin, readType, inBlock, b, s[j], p.rescale[j], p.density[j]);
                };
            }
            stages[count++] = switch (k) {
                case 1 -> new Combine1(s, p.weights, election, p.normalize, p.lambda, p.constantDivisor);
                case 2 -> new Combine2(s, p.weights, election, p.normalize, p.lambda, p.constantDivisor);
                case 3 -> new Combine3(s, p.weights, election, p.normalize, p.lambda, p.constantDivisor);
                case 4 -> new Combine4(s, p.weights, election, p.normalize, p.lambda, p.constantDivisor);
                default -> new CombineAny(s, p.weights, election, p.normalize, p.lambda, p.constantDivisor);
            };
            stages[count++] = new Encode(b, out.data(), out.origin(), VectorCodecs.code(out.dtype()));
            long whole = from + (to - from) / N * N;
            runBlocks(stages, count, from, whole);
            scalarTail.run(whole, to);
            from = to;
        }
    }

    /**
     * Runs {@code stages[0 .. count)} block by block over [from, to) (a multiple of N elements). The one
     * call site of every stage of every kernel (task arithmetic and linear): the more receiver classes it
     * sees, the surer C2 keeps it a virtual call and each stage's loop a compilation of its own.
     */
    static void runBlocks(Stage[] stages, int count, long from, long to) {
        for (long block = from; block < to; block += BLOCK) {
            int n = (int) Math.min(BLOCK, to - block);
            for (int st = 0; st < count; st++) stages[st].run(block, n);
        }
    }

    /** This thread's block for f16 input widened to f32 (one model at a time: each stage reads it right after). */
    static MemorySegment widenedBlock() {
        return WIDENED.get();
    }

    private static float[][] scratch(int blocks) {
        float[][] s = SCRATCH.get();
        if (s.length != blocks) {
            s = new float[blocks][BLOCK];
            SCRATCH.set(s);
        }
        return s;
    }

    static final class DecodeBase extends Stage {
        private final MemorySegment data;
        private final long origin;
        private final int type;
        private final float[] b;

        DecodeBase(MemorySegment data, long origin, int type, float[] b) {
            this.data = data;
            this.origin = origin;
            this.type = type;
            this.b = b;
        }

        @Override
        void run(long block, int n) {
            final MemorySegment data = this.data;
            final int type = this.type;
            final float[] b = this.b;
            final long at = block - origin;
            VectorCodecs.faultable(data, at);
            for (int k = 0; k < n; k += N) VectorCodecs.load(data, type, at + k).intoArray(b, k);
        }
    }

    static final class WidenF16 extends Stage {
        private final MemorySegment data, into;
        private final long origin;

        WidenF16(MemorySegment data, long origin, MemorySegment into) {
            this.data = data;
            this.origin = origin;
            this.into = into;
        }

        @Override
        void run(long block, int n) {
            final MemorySegment data = this.data, into = this.into;
            final long at = block - origin;
            VectorCodecs.faultable(data, at);
            for (int k = 0; k < n; k += N) VectorCodecs.storeF32Raw(VectorCodecs.loadF16(data, at + k), into, k);
        }
    }

    static final class Encode extends Stage {
        private final float[] result;
        private final MemorySegment data;
        private final long origin;
        private final int type;

        Encode(float[] result, MemorySegment data, long origin, int type) {
            this.result = result;
            this.data = data;
            this.origin = origin;
            this.type = type;
        }

        @Override
        void run(long block, int n) {
            final float[] result = this.result;
            final MemorySegment data = this.data;
            final int type = this.type;
            final long at = block - origin;
            VectorCodecs.faultable(data, at);
            for (int k = 0; k < n; k += N) {
                VectorCodecs.store(FloatVector.fromArray(F, result, k), data, type, at + k);
            }
        }
    }

    // The sparsify stages: s_j = x_j - b, divided by the density if rescaled, +0 where dropped. x_j is read
    // from (x, type) at element block + k - origin, or at k when inBlock (widened f16); element indices are
    // block + k. They never see f16: inline, its widening made the DARE loop pass the cutoff.

    abstract static class Sparsify extends Stage {
        final MemorySegment x;
        final long origin;
        final int type;
        final boolean inBlock;
        final float[] b, s;
        final boolean rescale;
        final float density;

        Sparsify(MemorySegment x, long origin, int type, boolean inBlock, float[] b, float[] s, boolean rescale,
                 float density) {
            this.x = x;
            this.origin = origin;
            this.type = type;
            this.inBlock = inBlock;
            this.b = b;
            this.s = s;
            this.rescale = rescale;
            this.density = density;
        }
    }

    static final class KeepAll extends Sparsify {
        KeepAll(MemorySegment x, long origin, int type, boolean inBlock, float[] b, float[] s, boolean rescale,
                float density) {
            super(x, origin, type, inBlock, b, s, rescale, density);
        }

        @Override
        void run(long block, int n) {
            final MemorySegment x = this.x;
            final int type = this.type;
            final long at = inBlock ? 0 : block - origin;
            VectorCodecs.faultable(x, at);
            final float[] b = this.b, s = this.s;
            final boolean rescale = this.rescale;
            final float density = this.density;
            for (int k = 0; k < n; k += N) {
                FloatVector d = VectorCodecs.loadBf16OrF32(x, type, at + k).sub(FloatVector.fromArray(F, b, k));
                (rescale ? d.div(density) : d).intoArray(s, k);
            }
        }
    }

    /** DARE: kept where the element's hash u = lowbias32(lowbias32(i ^ k0) ^ k1 ^ hi) < threshold, unsigned. */
    static final class Dare extends Sparsify {
        private final int k0, k1hi, threshold;

        Dare(MemorySegment x, long origin, int type, boolean inBlock, float[] b, float[] s, boolean rescale,
             float density, int k0, int k1hi, int threshold) {
            super(x, origin, type, inBlock, b, s, rescale, density);
            this.k0 = k0;
            this.k1hi = k1hi;
            this.threshold = threshold;
        }

        @Override
        void run(long block, int n) {
            final MemorySegment x = this.x;
            final int type = this.type, k0 = this.k0, k1hi = this.k1hi, threshold = this.threshold;
            final long at = inBlock ? 0 : block - origin;
            VectorCodecs.faultable(x, at);
            final float[] b = this.b, s = this.s;
            final boolean rescale = this.rescale;
            final float density = this.density;
            final FloatVector zero = zero();
            for (int k = 0; k < n; k += N) {
                FloatVector d = VectorCodecs.loadBf16OrF32(x, type, at + k).sub(FloatVector.fromArray(F, b, k));
                IntVector u = lowbias32(lowbias32(IOTA.add((int) (block + k)).lanewise(VectorOperators.XOR, k0))
                        .lanewise(VectorOperators.XOR, k1hi));
                VectorMask<Float> keep = u.compare(VectorOperators.ULT, threshold).cast(F);
                zero.blend(rescale ? d.div(density) : d, keep).intoArray(s, k);
            }
        }
    }

    /** TIES trim: kept where |d| is above the threshold, or equal to it at an index below the tie cutoff. */
    static final class Magnitude extends Sparsify {
        private final int bits;
        private final long tieCutoff;

        Magnitude(MemorySegment x, long origin, int type, boolean inBlock, float[] b, float[] s, boolean rescale,
                  float density, int bits, long tieCutoff) {
            super(x, origin, type, inBlock, b, s, rescale, density);
            this.bits = bits;
            this.tieCutoff = tieCutoff;
        }

        @Override
        void run(long block, int n) {
            final MemorySegment x = this.x;
            final int type = this.type, bits = this.bits;
            final long at = inBlock ? 0 : block - origin, tieCutoff = this.tieCutoff;
            VectorCodecs.faultable(x, at);
            final float[] b = this.b, s = this.s;
            final boolean rescale = this.rescale;
            final float density = this.density;
            final FloatVector zero = zero();
            for (int k = 0; k < n; k += N) {
                FloatVector d = VectorCodecs.loadBf16OrF32(x, type, at + k).sub(FloatVector.fromArray(F, b, k));
                IntVector a = d.reinterpretAsInts().and(0x7FFFFFFF);
                int tieLanes = (int) Math.max(0, Math.min(N, tieCutoff - (block + k)));
                VectorMask<Integer> keep = a.compare(VectorOperators.GT, bits)
                        .or(a.compare(VectorOperators.EQ, bits).and(IOTA.compare(VectorOperators.LT, tieLanes)));
                zero.blend(rescale ? d.div(density) : d, keep.cast(F)).intoArray(s, k);
            }
        }
    }

    // The combine stages: t_j = w_j * s_j; the plain sum or the sign election; normalize; b + lambda * mixed,
    // written over b. Apart from the model count they are the same. The election is written out in each loop
    // rather than in a helper taking all the vectors: such a helper is larger than 35 bytes of bytecode and
    // then inlined only where the profile says the call is hot, which it did not always say (see VectorCodecs).

    abstract static class Combine extends Stage {
        final float[][] s;
        final float[] weights;
        final int election;
        final boolean normalize;
        final float lambda, divisor;

        Combine(float[][] s, float[] weights, int election, boolean normalize, float lambda, float divisor) {
            this.s = s;
            this.weights = weights;
            this.election = election;
            this.normalize = normalize;
            this.lambda = lambda;
            this.divisor = divisor;
        }
    }

    static final class Combine1 extends Combine {
        Combine1(float[][] s, float[] weights, int election, boolean normalize, float lambda, float divisor) {
            super(s, weights, election, normalize, lambda, divisor);
        }

        @Override
        void run(long block, int n) {
            final float[] s0 = s[0], b = s[1];
            final float w0 = weights[0];
            final int election = this.election;
            final boolean normalize = this.normalize;
            final float lambda = this.lambda, divisor = this.divisor;
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
    }

    static final class Combine2 extends Combine {
        Combine2(float[][] s, float[] weights, int election, boolean normalize, float lambda, float divisor) {
            super(s, weights, election, normalize, lambda, divisor);
        }

        @Override
        void run(long block, int n) {
            final float[] s0 = s[0], s1 = s[1], b = s[2];
            final float w0 = weights[0], w1 = weights[1];
            final int election = this.election;
            final boolean normalize = this.normalize;
            final float lambda = this.lambda, divisor = this.divisor;
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
    }

    static final class Combine3 extends Combine {
        Combine3(float[][] s, float[] weights, int election, boolean normalize, float lambda, float divisor) {
            super(s, weights, election, normalize, lambda, divisor);
        }

        @Override
        void run(long block, int n) {
            final float[] s0 = s[0], s1 = s[1], s2 = s[2], b = s[3];
            final float w0 = weights[0], w1 = weights[1], w2 = weights[2];
            final int election = this.election;
            final boolean normalize = this.normalize;
            final float lambda = this.lambda, divisor = this.divisor;
            for (int k = 0; k < n; k += N) {
                FloatVector v0 = FloatVector.fromArray(F, s0, k), v1 = FloatVector.fromArray(F, s1, k);
                FloatVector v2 = FloatVector.fromArray(F, s2, k);
                FloatVector t0 = v0.mul(w0), t1 = v1.mul(w1), t2 = v2.mul(w2);
                FloatVector mixed;
                if (election == NONE) {
                    mixed = t0.add(t1).add(t2);
                    if (normalize) mixed = mixed.div(divisor);
                } else {
                    FloatVector sign = sign(vote(election, v0, t0).add(vote(election, v1, t1))
                            .add(vote(election, v2, t2)));
                    VectorMask<Float> a0 = agrees(t0, sign), a1 = agrees(t1, sign), a2 = agrees(t2, sign);
                    mixed = kept(t0, a0).add(kept(t1, a1)).add(kept(t2, a2));
                    if (normalize) {
                        mixed = mixed.div(guard(weightIf(w0, a0).add(weightIf(w1, a1)).add(weightIf(w2, a2))));
                    }
                }
                mixed.mul(lambda).add(FloatVector.fromArray(F, b, k)).intoArray(b, k);
            }
        }
    }

    static final class Combine4 extends Combine {
        Combine4(float[][] s, float[] weights, int election, boolean normalize, float lambda, float divisor) {
            super(s, weights, election, normalize, lambda, divisor);
        }

        @Override
        void run(long block, int n) {
            final float[] s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], b = s[4];
            final float w0 = weights[0], w1 = weights[1], w2 = weights[2], w3 = weights[3];
            final int election = this.election;
            final boolean normalize = this.normalize;
            final float lambda = this.lambda, divisor = this.divisor;
            for (int k = 0; k < n; k += N) {
                FloatVector v0 = FloatVector.fromArray(F, s0, k), v1 = FloatVector.fromArray(F, s1, k);
                FloatVector v2 = FloatVector.fromArray(F, s2, k), v3 = FloatVector.fromArray(F, s3, k);
                FloatVector t0 = v0.mul(w0), t1 = v1.mul(w1), t2 = v2.mul(w2), t3 = v3.mul(w3);
                FloatVector mixed;
                if (election == NONE) {
                    mixed = t0.add(t1).add(t2).add(t3);
                    if (normalize) mixed = mixed.div(divisor);
                } else {
                    FloatVector sign = sign(vote(election, v0, t0).add(vote(election, v1, t1))
                            .add(vote(election, v2, t2)).add(vote(election, v3, t3)));
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
    }

    /**
     * Any model count: an inner loop over the models. The election keeps the running sums of the positive
     * and of the negative t_j (and their weights) and picks one pair at the end: sum_j (a_j ? t_j : 0) is
     * exactly one of them, in the same j order and with the same +0 terms as the scalar loop. Vectors carried
     * around the inner loop cost more than the unrolled loops above; this serves merges of 5 or more
     * fine-tunes.
     */
    static final class CombineAny extends Combine {
        CombineAny(float[][] s, float[] weights, int election, boolean normalize, float lambda, float divisor) {
            super(s, weights, election, normalize, lambda, divisor);
        }

        @Override
        void run(long block, int n) {
            final float[][] s = this.s;
            final float[] weights = this.weights, b = s[weights.length];
            final int election = this.election;
            final boolean normalize = this.normalize;
            final float lambda = this.lambda, divisor = this.divisor;
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
