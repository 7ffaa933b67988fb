package io.mergestream.kernel;

/**
 * A {@link TaskArithmeticOp} unpacked into flat per-model arrays once per call, so that the per-element
 * loops of both kernels read primitives instead of dispatching on sealed records. Shared by
 * {@link ScalarKernel} and the vector kernel; holds no per-element state.
 */
public final class ResolvedTaskArithmetic {

    /** Sparsifier kinds. */
    public static final int KEEP_ALL = 0, RANDOM = 1, MAGNITUDE = 2;

    public final int models;
    public final float[] weights;
    public final int[] kind;
    /** RANDOM: the unsigned threshold, below 2^32 (a threshold of 2^32 is resolved to KEEP_ALL). */
    public final int[] randomThreshold;
    public final int[] k0, k1;
    /** MAGNITUDE: kept iff a > thresholdBits, or a == thresholdBits and i < tieCutoff. */
    public final int[] magnitudeBits;
    public final long[] tieCutoff;
    /**
     * Whether kept values are divided by {@link #density}: the model's per-tensor rescale divisor (its density
     * for {@code rescale: inverse}, the L1 ratio Σ|kept| / Σ|delta| for {@code rescale: true}).
     */
    public final boolean[] rescale;
    public final float[] density;
    public final Consensus consensus;
    public final boolean normalize;
    public final float lambda;
    /** Without consensus the divisor is the same for every element: ((w_0 + w_1) + w_2) ..., guarded. */
    public final float constantDivisor;

    public ResolvedTaskArithmetic(TaskArithmeticOp op) {
        models = op.models();
        if (models < 1) throw new IllegalArgumentException("task arithmetic needs at least one model");
        weights = op.weights().clone();
        kind = new int[models];
        randomThreshold = new int[models];
        k0 = new int[models];
        k1 = new int[models];
        magnitudeBits = new int[models];
        tieCutoff = new long[models];
        rescale = new boolean[models];
        density = new float[models];
        for (int j = 0; j < models; j++) {
            switch (op.sparsifiers()[j]) {
                case Sparsifier.None none -> kind[j] = KEEP_ALL;
                case Sparsifier.Random r -> {
                    if (r.threshold() < 0 || r.threshold() > DareMask.KEEP_ALL) {
                        throw new IllegalArgumentException("DARE threshold out of [0, 2^32]: " + r.threshold());
                    }
                    // u < 2^32 always holds: such a mask keeps all, only the rescale is left.
                    kind[j] = r.threshold() == DareMask.KEEP_ALL ? KEEP_ALL : RANDOM;
                    randomThreshold[j] = (int) r.threshold();
                    k0[j] = r.k0();
                    k1[j] = r.k1();
                    rescale[j] = r.rescale();
                    density[j] = r.density();
                }
                case Sparsifier.Magnitude m -> {
                    kind[j] = MAGNITUDE;
                    magnitudeBits[j] = m.thresholdBits();
                    tieCutoff[j] = m.tieCutoff();
                    rescale[j] = m.rescale();
                    density[j] = m.density();
                }
                case null -> throw new IllegalArgumentException("sparsifier " + j + " is null");
            }
        }
        consensus = op.consensus();
        normalize = op.normalize();
        lambda = op.lambda();
        float divisor = weights[0];
        for (int j = 1; j < models; j++) divisor += weights[j];
        constantDivisor = guardDivisor(divisor);
    }

    /** |divisor| < 1e-8 divides by 1 instead (merge-semantics.md). */
    public static float guardDivisor(float divisor) {
        return Math.abs(divisor) < 1e-8f ? 1f : divisor;
    }
}
