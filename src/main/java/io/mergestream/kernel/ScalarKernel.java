package io.mergestream.kernel;

import io.mergestream.tensor.Elements;


/**
 * The readable reference implementation of {@link MergeKernel}: one element at a time, in exactly the op
 * order of {@link TaskArithmeticOp} and {@link LinearOp}. Its static per-element methods are also what the
 * vector kernel runs on the elements that do not fill a whole vector, so there is one definition of each step.
 *
 * <p>Elements are read and written with {@link TensorView#get} and {@link TensorView#set}, the one scalar codec
 * ({@link io.mergestream.tensor.Elements}): encoding rounds to nearest even and any NaN becomes the output type's
 * canonical quiet NaN, because the JIT may propagate either operand's NaN and only a canonical NaN keeps the
 * kernels bit-identical.
 */
public final class ScalarKernel implements MergeKernel {

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void taskArithmetic(TaskArithmeticOp op, TensorView base, TensorView[] models, TensorView out,
                               long start, int count) {
        ResolvedTaskArithmetic p = new ResolvedTaskArithmetic(op);
        Views.checkTaskArithmetic(p, base, models, out, start, count);
        taskArithmeticRange(p, base, models, out, start, start + count);
    }

    /** Elements {@code [from, to)}, one at a time; arguments already checked. */
    public static void taskArithmeticRange(ResolvedTaskArithmetic p, TensorView base, TensorView[] models,
                                           TensorView out, long from, long to) {
        float[] s = new float[p.models];
        float[] t = new float[p.models];
        for (long i = from; i < to; i++) {
            out.set(i, taskArithmeticElement(p, base, models, i, s, t));
        }
    }

    /**
     * One output element in f32, before encoding. {@code s} and {@code t} are caller-owned scratch of
     * length {@code p.models} (the sparsified deltas and the weighted ones).
     */
    public static float taskArithmeticElement(ResolvedTaskArithmetic p, TensorView base, TensorView[] models,
                                              long i, float[] s, float[] t) {
        float b = base.get(i);
        for (int j = 0; j < p.models; j++) {
            float d = models[j].get(i) - b;
            s[j] = sparsify(p, j, d, i);
        }
        return combine(p, b, s, t);
    }

    /**
     * The rest of one element once every model's sparsified delta {@code s[j]} is known: weighting, election,
     * sum, normalization, lambda and the base, in {@link TaskArithmeticOp}'s order (the sparsifiers in
     * {@code p} are not consulted). {@code t} is scratch. Methods whose sparsifier is not a
     * {@link Sparsifier} record (breadcrumbs, DELLA) compute {@code s} themselves and finish here.
     */
    public static float combine(ResolvedTaskArithmetic p, float b, float[] s, float[] t) {
        for (int j = 0; j < p.models; j++) t[j] = p.weights[j] * s[j];
        float mixed;
        float divisor;
        if (p.consensus == Consensus.NONE) {
            mixed = t[0];
            for (int j = 1; j < p.models; j++) mixed += t[j];
            divisor = p.constantDivisor;
        } else {
            float election = 0f;
            for (int j = 0; j < p.models; j++) election += electionTerm(p.consensus, s[j], t[j]);
            boolean positive = election >= 0f;
            mixed = 0f;
            divisor = 0f;
            for (int j = 0; j < p.models; j++) {
                boolean agrees = positive ? t[j] > 0f : t[j] < 0f; // an exact zero never agrees
                if (agrees) {
                    mixed += t[j];
                    divisor += p.weights[j];
                }
            }
            divisor = ResolvedTaskArithmetic.guardDivisor(divisor);
        }
        if (p.normalize) mixed = mixed / divisor;
        return b + p.lambda * mixed;
    }

    /** What model j's delta contributes to the election sum. */
    static float electionTerm(Consensus consensus, float s, float t) {
        return switch (consensus) {
            case WEIGHTED_SUM -> t;
            case SUM -> s;
            case COUNT -> t > 0f ? 1f : t < 0f ? -1f : 0f;
            case NONE -> throw new IllegalStateException("no election without consensus");
        };
    }

    /** Model j's delta after its sparsifier: kept (and maybe rescaled) or +0. */
    public static float sparsify(ResolvedTaskArithmetic p, int j, float d, long i) {
        boolean kept = switch (p.kind[j]) {
            case ResolvedTaskArithmetic.KEEP_ALL -> true;
            case ResolvedTaskArithmetic.RANDOM ->
                    Integer.compareUnsigned(DareMask.u(i, p.k0[j], p.k1[j]), p.randomThreshold[j]) < 0;
            case ResolvedTaskArithmetic.MAGNITUDE -> {
                int a = Float.floatToRawIntBits(d) & 0x7FFFFFFF;
                yield a > p.magnitudeBits[j] || (a == p.magnitudeBits[j] && i < p.tieCutoff[j]);
            }
            default -> throw new IllegalStateException("sparsifier kind " + p.kind[j]);
        };
        if (!kept) return 0f;
        return p.rescale[j] ? d / p.density[j] : d;
    }

    @Override
    public void linear(LinearOp op, TensorView[] models, TensorView out, long start, int count) {
        float[] w = op.weights();
        Views.checkLinear(op, models, out, start, count);
        linearRange(w, linearDivisor(op), models, out, start, start + count);
    }

    /** ((w_0 + w_1) + w_2) ... if normalize, else NaN (unused). */
    public static float linearDivisor(LinearOp op) {
        if (!op.normalize()) return Float.NaN;
        float divisor = op.weights()[0];
        for (int j = 1; j < op.models(); j++) divisor += op.weights()[j];
        return divisor;
    }

    /** Elements {@code [from, to)} of linear; divisor is NaN when not normalizing. */
    public static void linearRange(float[] w, float divisor, TensorView[] models, TensorView out,
                                   long from, long to) {
        boolean normalize = !Float.isNaN(divisor);
        for (long i = from; i < to; i++) {
            float acc = w[0] * models[0].get(i);
            for (int j = 1; j < w.length; j++) acc += w[j] * models[j].get(i);
            if (normalize) acc = acc / divisor;
            out.set(i, acc);
        }
    }

    @Override
    public void convert(TensorView in, TensorView out, long start, int count) {
        Views.checkConvert(in, out, start, count);
        convertRange(in, out, start, start + count);
    }

    public static void convertRange(TensorView in, TensorView out, long from, long to) {
        for (long i = from; i < to; i++) out.set(i, in.get(i));
    }




    // The block operations of MergeKernel (the methods whose passes are not one fused op), element by element: the
    // reference the vector kernel's lanes are tested against, and what those run on elements that fill no vector.

    /** {@code d[at + o]} = model - base (or the model's value, base null) at {@code start + o}, {@code o < count}. */
    public static void deltasRange(TensorView base, TensorView model, long start, int at, int count, float[] d) {
        for (int o = 0; o < count; o++) {
            long i = start + o;
            float x = model.get(i);
            d[at + o] = base == null ? x : x - base.get(i);
        }
    }

    /** Encodes {@code values[at + o]} as element {@code start + o}, {@code o < count}. */
    public static void encodeRange(float[] values, TensorView out, long start, int at, int count) {
        for (int o = 0; o < count; o++) out.set(start + o, values[at + o]);
    }

    /**
     * SCE's score of element o: the population variance across the models, {@code var = Σ_j (d_j − mean)² / M} with
     * {@code mean = (Σ_j d_j) / M} (f32, j order, each sum starting from +0 for the squares), as raw bits with the
     * sign cleared (for non-negative floats int order is value order); a NaN variance is the canonical NaN's bits,
     * so that its ranking cannot depend on which operand's payload the hardware propagated.
     */
    public static int varianceBits(float[][] d, int o) {
        int m = d.length;
        float sum = d[0][o];
        for (int j = 1; j < m; j++) sum += d[j][o];
        float mean = sum / m;
        float sq = 0f;
        for (int j = 0; j < m; j++) {
            float e = d[j][o] - mean;
            sq += e * e;
        }
        float var = sq / m;
        return Float.isNaN(var) ? Elements.CANONICAL_F32_NAN : Float.floatToRawIntBits(var) & 0x7FFFFFFF;
    }

    public static void varianceBitsRange(float[][] d, int from, int to, int[] bits) {
        for (int o = from; o < to; o++) bits[o] = varianceBits(d, o);
    }

    /**
     * SCE's select of element o (flat index {@code start + o}), its variance bits (as {@link #varianceBits}) at
     * {@code bits[at + o]}: kept iff they pass the top-k test {@code bits > thresholdBits || (bits == thresholdBits
     * && start + o < tieCutoff)}; a dropped element's {@code d_j[o]} all become +0.
     */
    public static void sceDropRange(float[][] d, int[] bits, int at, long start, int thresholdBits, long tieCutoff,
                                    int from, int to) {
        for (int o = from; o < to; o++) {
            int b = bits[at + o];
            boolean kept = b > thresholdBits || (b == thresholdBits && start + o < tieCutoff);
            if (!kept) for (float[] dj : d) dj[o] = 0f;
        }
    }

    /**
     * SCE's erase and mix of element o: {@code s = (Σ_j v_j ≥ 0) ? +1 : −1} (f32, j order), {@code a_j = sign(v_j)
     * == s} (a zero never agrees), {@code b + (Σ_j a_j · (v_j · w_j)) / max(Σ_j a_j · w_j, 1e-6)} (f32, j order,
     * both sums from +0).
     */
    public static float sceElement(float[][] v, int o, float[] w, float b) {
        int m = v.length;
        float vote = v[0][o];
        for (int j = 1; j < m; j++) vote += v[j][o];
        boolean positive = vote >= 0f;
        float mixed = 0f, divisor = 0f;
        for (int j = 0; j < m; j++) {
            float x = v[j][o];
            if (positive ? x > 0f : x < 0f) {
                mixed += x * w[j];
                divisor += w[j];
            }
        }
        return b + mixed / Math.max(divisor, 1e-6f);
    }

    public static void sceRange(float[][] v, float[] w, float[] b, int from, int to) {
        for (int o = from; o < to; o++) b[o] = sceElement(v, o, w, b[o]);
    }

    /**
     * RAM's element o: with {@code a_j = |d_j| > epsilon} and {@code c = Σ_j a_j}, {@code b + Σ_j (a_j ? (c == 1 ?
     * d_j · λ_j : d_j / c) : nothing)} (f32, j order, the sum starting from +0).
     */
    public static float ramElement(float[][] d, int o, float epsilon, float[] lambda, float b) {
        int c = 0;
        for (float[] dj : d) if (Math.abs(dj[o]) > epsilon) c++;
        float mixed = 0f;
        for (int j = 0; j < d.length; j++) {
            float x = d[j][o];
            if (Math.abs(x) > epsilon) mixed += c == 1 ? x * lambda[j] : x / c;
        }
        return b + mixed;
    }

    public static void ramRange(float[][] d, float epsilon, float[] lambda, float[] b, int from, int to) {
        for (int o = from; o < to; o++) b[o] = ramElement(d, o, epsilon, lambda, b[o]);
    }

    // The L1 rule's sums (rescale: true; merge-semantics.md "Rescale"), Σ|delta| and Σ|kept delta| over one fixed
    // block of a whole-tensor reduction (parallel.BlockReduction: blocks start at multiples of its BLOCK). Their
    // order is part of the output, so it is defined here, independently of any vector width: element o of the block
    // (array offset o, the block's first element at o = 0) is added, in double and in element order, to stripe
    // o % L1_STRIPES of its sum; the block's sum is then the stripes added in stripe order, from stripe 0
    // (stripeTotal). 16 stripes are whole vectors of doubles at every width the vector kernel runs (128 to 512
    // bits: 2 to 8 doubles), so each of its lanes holds exactly one stripe's running sum; the scalar reference and
    // every kernel add the same numbers in the same order, and the divisor is the same bits for any thread count,
    // chunk size, kernel and width. (Before: one running double per block in element order. Each |delta| is an
    // f32, exact in double, so the two orders differ only in the last bits of a double sum, far below the f32 the
    // divisor is rounded to: a divisor can change by one f32 ulp only when its ratio lies that close to a rounding
    // boundary. The bench family's dare_ties output stayed byte-identical to the old order's.)

    /** Stripes per sum of the L1 rule's block sums; a stripe array holds Σ|delta|'s, then Σ|kept|'s. */
    public static final int L1_STRIPES = 16;

    /**
     * Adds {@code |d[o]|} to {@code stripes[o % 16]} and {@code |kept[o]|} to {@code stripes[16 + o % 16]}, in
     * double, for {@code from <= o < to}, in that order.
     */
    public static void absSumsRange(float[] d, float[] kept, int from, int to, double[] stripes) {
        for (int o = from; o < to; o++) {
            int stripe = o & (L1_STRIPES - 1);
            stripes[stripe] += Math.abs(d[o]);
            stripes[L1_STRIPES + stripe] += Math.abs(kept[o]);
        }
    }

    /**
     * As {@link #absSumsRange} with the kept delta given by a kernel sparsifier record (random or magnitude; no
     * rescale): {@code |d[o]|} counts as kept where the record keeps the flat element {@code start + o}.
     */
    public static void keptAbsSumsRange(Sparsifier s, long start, float[] d, int from, int to, double[] stripes) {
        for (int o = from; o < to; o++) {
            long i = start + o;
            float a = Math.abs(d[o]);
            int stripe = o & (L1_STRIPES - 1);
            stripes[stripe] += a;
            if (keeps(s, i, d[o])) stripes[L1_STRIPES + stripe] += a;
        }
    }

    /** Whether the record keeps flat element i of delta d (the test of {@link #sparsify}, for the L1 sums). */
    private static boolean keeps(Sparsifier s, long i, float d) {
        return switch (s) {
            case Sparsifier.Random r -> Integer.toUnsignedLong(DareMask.u(i, r.k0(), r.k1())) < r.threshold();
            case Sparsifier.Magnitude m -> {
                int a = Float.floatToRawIntBits(d) & 0x7FFFFFFF;
                yield a > m.thresholdBits() || (a == m.thresholdBits() && i < m.tieCutoff());
            }
            case Sparsifier.None none -> true;
        };
    }

    /** The block sum of stripes {@code [at, at + 16)}: added in stripe order, starting from stripe {@code at}. */
    public static double stripeTotal(double[] stripes, int at) {
        double sum = stripes[at];
        for (int k = 1; k < L1_STRIPES; k++) sum += stripes[at + k];
        return sum;
    }

    /**
     * The task-arithmetic family with computed sparsifiers, element by element over {@code [start, start + count)}:
     * decode the base, each model's deltas over the whole range and its sparsifier on them (one call per model and
     * range, so that a sparsifier working per row ranks each row once), then {@link #combine} and encode.
     */
    public static void computedTaskArithmeticRange(ResolvedTaskArithmetic p, ComputedSparsifier[] sparsifiers,
                                                   TensorView base, TensorView[] models, TensorView out,
                                                   long start, int count) {
        int m = p.models;
        float[] b = new float[count];
        float[][] sv = new float[m][count];
        float[] d = new float[count];
        deltasRange(null, base, start, 0, count, b);
        for (int j = 0; j < m; j++) {
            deltasRange(base, models[j], start, 0, count, d);
            sparsifiers[j].apply(start, count, d, sv[j]);
        }
        combineRange(p, b, sv, out, start, 0, count);
    }

    /** Encodes {@link #combine}{@code (p, b[o], s[.][o])} as element {@code start + o}, {@code from <= o < to}. */
    public static void combineRange(ResolvedTaskArithmetic p, float[] b, float[][] sv, TensorView out, long start,
                                    int from, int to) {
        int m = p.models;
        float[] s = new float[m];
        float[] t = new float[m];
        for (int o = from; o < to; o++) {
            for (int j = 0; j < m; j++) s[j] = sv[j][o];
            out.set(start + o, combine(p, b[o], s, t));
        }
    }

}
