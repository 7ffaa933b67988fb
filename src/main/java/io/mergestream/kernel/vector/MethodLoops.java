package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.ComputedSparsifier;
import io.mergestream.kernel.ResolvedTaskArithmetic;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.TensorView;
import io.mergestream.kernel.ThreadScratch;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The vector loops of the methods whose passes are not one fused task-arithmetic op: breadcrumbs and DELLA (their
 * sparsifiers are computed by the method, everything around them runs here), SCE's variance, RAM's map step, and
 * the block decoding every other pass of theirs (selection histograms, sums, the spherical Gram reductions) reads
 * through. Each loop does ScalarKernel's per-element reference on N lanes in the same op order, so the bits are the
 * same; elements that fill no vector go through that reference.
 *
 * <p>Shape, for the reasons given in {@link TaskArithmeticLoops}: every loop is small (a handful of Vector API
 * calls) so that the compilation it is inlined into stays far under C2's inlining cutoff, and the computed
 * task-arithmetic pipeline reuses TaskArithmeticLoops' decode, combine and encode stages behind the same kind of
 * megamorphic stage call.
 */
final class MethodLoops {

    /** Per thread: s_0 .. s_{m-1}, then b (the combine stage's result), then the deltas, each as long as a range. */
    private static final ThreadScratch SCRATCH = new ThreadScratch();

    private MethodLoops() {}

    /** d[o] = x - b (or x, base null) for o < count: whole vectors here, the rest by the reference. */
    static void deltas(TensorView base, TensorView model, long start, int count, float[] d) {
        int whole = count / N * N;
        if (whole > 0) {
            MemorySegment x = model.data();
            long xAt = start - model.origin();
            int xType = VectorCodecs.code(model.dtype());
            if (base == null) {
                decode(x, xType, xAt, whole, d);
            } else {
                subtract(x, xType, xAt, base.data(), VectorCodecs.code(base.dtype()), start - base.origin(), whole, d);
            }
        }
        ScalarKernel.deltasRange(base, model, start + whole, whole, count - whole, d);
    }

    private static void decode(MemorySegment x, int type, long at, int n, float[] d) {
        VectorCodecs.faultable(x, at);
        for (int k = 0; k < n; k += N) VectorCodecs.load(x, type, at + k).intoArray(d, k);
    }

    private static void subtract(MemorySegment x, int xType, long xAt, MemorySegment b, int bType, long bAt, int n,
                                 float[] d) {
        VectorCodecs.faultable(x, xAt);
        VectorCodecs.faultable(b, bAt);
        for (int k = 0; k < n; k += N) {
            VectorCodecs.load(x, xType, xAt + k).sub(VectorCodecs.load(b, bType, bAt + k)).intoArray(d, k);
        }
    }

    /** Encodes values[o] as element start + o of out. */
    static void encode(float[] values, TensorView out, long start, int count) {
        int whole = count / N * N;
        if (whole > 0) {
            MemorySegment data = out.data();
            int type = VectorCodecs.code(out.dtype());
            long at = start - out.origin();
            VectorCodecs.faultable(data, at);
            for (int k = 0; k < whole; k += N) VectorCodecs.store(FloatVector.fromArray(F, values, k), data, type, at + k);
        }
        ScalarKernel.encodeRange(values, out, start + whole, whole, count - whole);
    }

    /** ScalarKernel.varianceBits on lanes: the same sums in the same order, a NaN canonical. */
    static void varianceBits(float[][] d, int count, int[] bits) {
        int m = d.length;
        float models = m;
        int whole = count / N * N;
        FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k < whole; k += N) {
            FloatVector sum = FloatVector.fromArray(F, d[0], k);
            for (int j = 1; j < m; j++) sum = sum.add(FloatVector.fromArray(F, d[j], k));
            FloatVector mean = sum.div(models);
            FloatVector sq = zero;
            for (int j = 0; j < m; j++) {
                FloatVector e = FloatVector.fromArray(F, d[j], k).sub(mean);
                sq = sq.add(e.mul(e));
            }
            FloatVector var = sq.div(models);
            VectorMask<Integer> nan = var.compare(VectorOperators.NE, var).cast(Lanes.I);
            var.reinterpretAsInts().and(0x7FFFFFFF).blend(io.mergestream.tensor.Elements.CANONICAL_F32_NAN, nan).intoArray(bits, k);
        }
        ScalarKernel.varianceBitsRange(d, whole, count, bits);
    }

    /**
     * ScalarKernel.sceDropRange on lanes: the top-k test on the lanes (the tie cutoff as an offset into the range,
     * clamped to it), the dropped lanes of every d_j blended to +0. (Its variances come from varianceBits, not
     * from a helper shared by the two loops: a helper returning a vector, compiled on its own before the Vector
     * API's methods, ran them in their Java fallback, 2x the CPU of the whole SCE merge.)
     */
    static void sceDrop(float[][] d, int[] bits, int at, long start, int count, int thresholdBits, long tieCutoff) {
        int whole = count / N * N;
        int cut = (int) Math.max(0, Math.min(whole, tieCutoff - start)); // o < cut iff start + o < tieCutoff, o < whole
        for (int k = 0; k < whole; k += N) {
            IntVector b = IntVector.fromArray(Lanes.I, bits, at + k);
            VectorMask<Integer> kept = b.compare(VectorOperators.GT, thresholdBits)
                    .or(b.compare(VectorOperators.EQ, thresholdBits).and(Lanes.IOTA.add(k).compare(VectorOperators.LT, cut)));
            VectorMask<Float> dropped = kept.not().cast(F);
            for (float[] dj : d) FloatVector.fromArray(F, dj, k).blend(0f, dropped).intoArray(dj, k);
        }
        ScalarKernel.sceDropRange(d, bits, at, start, thresholdBits, tieCutoff, whole, count);
    }

    /**
     * ScalarKernel.sceElement on lanes: the vote in j order, each agreeing lane's term and weight added (the others
     * keep their running sums, as the scalar loop skips them), the divisor's floor by max (Math.max's NaN rule).
     */
    static void sce(float[][] v, float[] w, float[] b, int count) {
        int m = v.length;
        int whole = count / N * N;
        FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k < whole; k += N) {
            FloatVector vote = FloatVector.fromArray(F, v[0], k);
            for (int j = 1; j < m; j++) vote = vote.add(FloatVector.fromArray(F, v[j], k));
            VectorMask<Float> positive = vote.compare(VectorOperators.GE, 0f);
            FloatVector mixed = zero, divisor = zero;
            for (int j = 0; j < m; j++) {
                FloatVector x = FloatVector.fromArray(F, v[j], k);
                VectorMask<Float> agrees = x.compare(VectorOperators.GT, 0f).and(positive)
                        .or(x.compare(VectorOperators.LT, 0f).andNot(positive));
                mixed = mixed.blend(mixed.add(x.mul(w[j])), agrees);
                divisor = divisor.blend(divisor.add(w[j]), agrees);
            }
            FloatVector.fromArray(F, b, k).add(mixed.div(divisor.max(1e-6f))).intoArray(b, k);
        }
        ScalarKernel.sceRange(v, w, b, whole, count);
    }

    /**
     * ScalarKernel.ramElement on lanes: the active count c as an exact f32, both terms formed and the one the
     * scalar branch takes blended in; inactive lanes keep their running sum unchanged, as the scalar loop skips them.
     */
    static void ram(float[][] d, float epsilon, float[] lambda, float[] b, int count) {
        int m = d.length;
        int whole = count / N * N;
        FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k < whole; k += N) {
            FloatVector c = zero;
            for (int j = 0; j < m; j++) {
                c = c.add(zero.blend(1f, FloatVector.fromArray(F, d[j], k).abs().compare(VectorOperators.GT, epsilon)));
            }
            VectorMask<Float> alone = c.compare(VectorOperators.EQ, 1f);
            FloatVector mixed = zero;
            for (int j = 0; j < m; j++) {
                FloatVector x = FloatVector.fromArray(F, d[j], k);
                FloatVector term = x.div(c).blend(x.mul(lambda[j]), alone);
                mixed = mixed.blend(mixed.add(term), x.abs().compare(VectorOperators.GT, epsilon));
            }
            FloatVector.fromArray(F, b, k).add(mixed).intoArray(b, k);
        }
        ScalarKernel.ramRange(d, epsilon, lambda, b, whole, count);
    }

    /**
     * The computed-sparsifier task arithmetic over [start, start + count): each model's deltas on lanes and its
     * sparsifier over the whole range (one call per model: DELLA ranks each row it touches once per call), then
     * TaskArithmeticLoops' decode, combine and encode stages over the range's whole vectors, through one stage call
     * site; the elements that fill no vector by the reference.
     */
    static void computedTaskArithmetic(ResolvedTaskArithmetic p, ComputedSparsifier[] sparsifiers, TensorView base,
                                       TensorView[] models, TensorView out, long start, int count) {
        int m = p.models;
        float[][] blocks = SCRATCH.floats(m + 2, count);
        float[][] s = java.util.Arrays.copyOf(blocks, m + 1); // s_0 .. s_{m-1}, b: the combine stages' layout
        float[] b = blocks[m], d = blocks[m + 1];
        for (int j = 0; j < m; j++) {
            deltas(base, models[j], start, count, d);
            sparsifiers[j].apply(start, count, d, s[j]);
        }
        int whole = count / N * N;
        TaskArithmeticLoops.Stage[] stages = {
            new TaskArithmeticLoops.DecodeBase(base.data(), base.origin(), VectorCodecs.code(base.dtype()), b),
            combine(p, s),
            new TaskArithmeticLoops.Encode(b, out.data(), out.origin(), VectorCodecs.code(out.dtype()))};
        if (whole > 0) for (TaskArithmeticLoops.Stage stage : stages) stage.run(start, whole);
        ScalarKernel.deltasRange(null, base, start + whole, whole, count - whole, b);
        ScalarKernel.combineRange(p, b, s, out, start, whole, count);
    }

    /** TaskArithmeticLoops' combine stage for p's model count and election, over s (s[m] = b, the result). */
    private static TaskArithmeticLoops.Stage combine(ResolvedTaskArithmetic p, float[][] s) {
        int election = switch (p.consensus) {
            case NONE -> TaskArithmeticLoops.NONE;
            case WEIGHTED_SUM -> TaskArithmeticLoops.WEIGHTED_SUM;
            case SUM -> TaskArithmeticLoops.SUM;
            case COUNT -> TaskArithmeticLoops.COUNT;
        };
        float[] w = p.weights;
        return switch (p.models) {
            case 1 -> new TaskArithmeticLoops.Combine1(s, w, election, p.normalize, p.lambda, p.constantDivisor);
            case 2 -> new TaskArithmeticLoops.Combine2(s, w, election, p.normalize, p.lambda, p.constantDivisor);
            case 3 -> new TaskArithmeticLoops.Combine3(s, w, election, p.normalize, p.lambda, p.constantDivisor);
            case 4 -> new TaskArithmeticLoops.Combine4(s, w, election, p.normalize, p.lambda, p.constantDivisor);
            default -> new TaskArithmeticLoops.CombineAny(s, w, election, p.normalize, p.lambda, p.constantDivisor);
        };
    }
}
