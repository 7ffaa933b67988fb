package io.mergestream.method;

import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ResolvedTaskArithmetic;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;

/**
 * The task-arithmetic family of merge-semantics.md: sparsify each fine-tune's delta, weight it, optionally
 * elect a sign per element, sum, normalize, scale by lambda and add to the base. The members differ only
 * in their sparsifier and whether they elect signs, which their entry in {@code recipe.MethodCatalog} gives.
 *
 * <p>Sparsifiers that are kernel {@link Sparsifier} records (none, random, magnitude) run in the fused
 * kernels. breadcrumbs' outlier band and DELLA's rank-based keep probabilities are not records: those members
 * decide what is kept in {@link DeltaSparsifier}s, called by the kernel's computed-sparsifier op on blocks of
 * deltas it has decoded, which then finishes each element in {@link ScalarKernel#combine}'s op order (on lanes in
 * the vector kernel, bit-identical).
 *
 * <p>{@code rescale} (merge-semantics.md, "Rescale"). {@code true} / {@code l1}, mergekit's rule, for any
 * sparsifier: a reduction pass sums |delta| and |kept delta| over the whole tensor in fixed blocks
 * ({@link BlockReduction}, in double, in the fixed stripes of {@link ScalarKernel#absSumsRange}: the same
 * for any threads, chunk size, kernel and vector width); kept values are then divided by
 * {@code q = (float) (kept / total)}, one scalar per tensor and model, unless either sum is below 1e-7 (then
 * kept values are left as they are, as mergekit does). The divisor goes into the sparsifier record's per-model
 * rescale factor, so the fused kernels run it without a stage of their own. mergekit multiplies by
 * {@code total / kept} instead: the two agree to f32 rounding. {@code inverse}, the DARE paper's rule: kept
 * values divided by the density (DELLA: by the element's keep probability). {@code false}: kept as they are.
 *
 * <p>A recipe whose only model is the base has no delta: the output is the base, as in mergekit.
 */
public class TaskArithmeticFamily implements MergeMethod {

    private final String name;
    private final Sparsification sparsification;
    private final boolean electsSign;

    /** The member called {@code name} in recipes, as its catalogue entry describes it. */
    public TaskArithmeticFamily(String name, Sparsification sparsification, boolean electsSign) {
        this.name = name;
        this.sparsification = sparsification;
        this.electsSign = electsSign;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (p.models() == 0) return Combination.copy(in.base());
        Consensus consensus = electsSign ? p.consensus() : Consensus.NONE;
        if (sparsification == Sparsification.MAGNITUDE_OUTLIERS || sparsification == Sparsification.DELLA_MAGPRUNE) {
            DeltaSparsifier[] sp = new DeltaSparsifier[p.models()];
            for (int j = 0; j < p.models(); j++) sp[j] = deltaSparsifier(tensor, p, j, in, kernel, runner);
            Sparsifier[] none = new Sparsifier[p.models()];
            java.util.Arrays.fill(none, new Sparsifier.None());
            ResolvedTaskArithmetic r = new ResolvedTaskArithmetic(new TaskArithmeticOp(p.weights().clone(), none,
                    consensus, p.normalize(), p.lambda()));
            return computed(r, sp, in);
        }
        Sparsifier[] sparsifiers = new Sparsifier[p.models()];
        for (int j = 0; j < p.models(); j++) {
            sparsifiers[j] = sparsifier(tensor, p, j, in, kernel, runner);
        }
        TaskArithmeticOp op = new TaskArithmeticOp(p.weights().clone(), sparsifiers, consensus, p.normalize(),
                p.lambda());
        return (k, out, start, count) -> in.forEachPiece(start, count,
                (s, c, base, models) -> k.taskArithmetic(op, base, models, out, s, c));
    }

    @Override
    public final boolean drawsDareMask() {
        return sparsification == Sparsification.RANDOM;
    }

    /**
     * Chunk-local unless a pass reads the whole tensor: the kernel sparsifiers none and random (the DARE mask is a
     * function of the element index) with any rescale but l1; magnitude only when it keeps everything (density 1).
     * The top-k of magnitude, the L1 sums and the breadcrumbs/DELLA ranks read whole tensors.
     */
    @Override
    public boolean streamsInputs(TensorParams p) {
        if (p.models() == 0) return false; // the base alone is copied through Combination, over whole views
        boolean keepsAll = true;
        for (double d : p.densities()) keepsAll &= d >= 1;
        return switch (sparsification) {
            case NONE -> true;
            case RANDOM -> keepsAll || p.rescale() != TensorParams.Rescale.L1;
            case MAGNITUDE -> keepsAll;
            case MAGNITUDE_OUTLIERS, DELLA_MAGPRUNE -> false;
        };
    }

    private Sparsifier sparsifier(String tensor, TensorParams p, int j, MergeInputs in, MergeKernel kernel,
                                  ChunkRunner runner) {
        double density = p.densities()[j];
        if (sparsification == Sparsification.NONE || density >= 1) return new Sparsifier.None();
        boolean inverse = p.rescale() == TensorParams.Rescale.INVERSE;
        Sparsifier s = switch (sparsification) {
            case RANDOM -> DareMask.sparsifier(p.seed(), p.ordinals()[j], tensor, density, inverse);
            case MAGNITUDE -> MagnitudeSelection.select(kernel, runner, in.base(), in.models()[j],
                    in.modelElements()[j], in.elements(), density, inverse);
            default -> throw new AssertionError(sparsification);
        };
        if (p.rescale() != TensorParams.Rescale.L1) return s;
        // s keeps the raw delta (no inverse rescale): its kept values are divided by q instead.
        float q = l1Divisor(kernel, in, j, runner, s);
        if (Float.isNaN(q)) return s;
        return switch (s) {
            case Sparsifier.Random r -> new Sparsifier.Random(r.threshold(), r.k0(), r.k1(), q, true);
            case Sparsifier.Magnitude m -> new Sparsifier.Magnitude(m.thresholdBits(), m.tieCutoff(), q, true);
            default -> s;
        };
    }

    private DeltaSparsifier deltaSparsifier(String tensor, TensorParams p, int j, MergeInputs in, MergeKernel kernel,
                                            ChunkRunner runner) {
        double density = p.densities()[j];
        if (density >= 1) return DeltaSparsifier.KEEP_ALL;
        boolean inverse = p.rescale() == TensorParams.Rescale.INVERSE;
        DeltaSparsifier s = switch (sparsification) {
            case MAGNITUDE_OUTLIERS -> OutlierBand.select(kernel, runner, in, j, density,
                    p.settings().perModel("gamma")[j], inverse);
            case DELLA_MAGPRUNE -> new DellaMagprune(kernel, in, j, DareMask.streamKey(p.seed(), p.ordinals()[j], tensor),
                    density, p.settings().perModel("epsilon")[j], inverse);
            default -> throw new AssertionError(sparsification);
        };
        if (p.rescale() != TensorParams.Rescale.L1) return s;
        if (s instanceof DellaMagprune della && della.recordable()) {
            // DELLA ranks every row once: the L1 pass records what it keeps, the merge pass reads the bits
            long[] keep = new long[(int) ((in.elements() + 63) >>> 6)];
            float q = l1Divisor(kernel, in, j, runner, della.recording(keep));
            return Float.isNaN(q) ? DellaMagprune.replaying(keep) : DellaMagprune.replaying(keep, q);
        }
        float q = l1Divisor(kernel, in, j, runner, s);
        return Float.isNaN(q) ? s : DeltaSparsifier.dividedBy(s, q);
    }

    /**
     * {@code rescale: true / l1}: {@code (float) (Σ|kept| / Σ|delta|)} over the whole tensor ({@link #l1Pass}'s
     * order), or NaN when either sum is below 1e-7 (no rescale).
     */
    static float l1Divisor(MergeKernel kernel, MergeInputs in, int j, ChunkRunner runner, DeltaSparsifier s) {
        double[] sums = l1Pass(kernel, in, j, runner, (scratch, start, count) -> {
            s.apply(start, count, scratch.d, scratch.kept);
            kernel.absSums(scratch.d, scratch.kept, count, scratch.stripes);
        });
        return Sparsifier.l1Divisor(total(in, j, sums[0]), sums[1]);
    }

    /** Σ|delta| of fine-tune j: summed here, unless its source is a kept delta that knows its whole delta's (a pack). */
    private static double total(MergeInputs in, int j, double summed) {
        double stored = in.deltaL1(j);
        return Double.isNaN(stored) ? summed : stored;
    }

    /** The same divisor for a kernel sparsifier record (random, magnitude): its keep test runs on the kernel's lanes. */
    static float l1Divisor(MergeKernel kernel, MergeInputs in, int j, ChunkRunner runner, Sparsifier s) {
        double[] sums = l1Sums(kernel, in, j, runner, s);
        return Sparsifier.l1Divisor(total(in, j, sums[0]), sums[1]);
    }

    /**
     * {@code {Σ|delta|, Σ|kept delta|}} of fine-tune j over the whole tensor for a kernel sparsifier record, in the
     * L1 rule's order: what {@code mergestream pack} records so that a pack's kept delta rescales exactly as the
     * fine-tune would (with any kernel: they all give these bits).
     */
    public static double[] l1Sums(MergeKernel kernel, MergeInputs in, int j, ChunkRunner runner, Sparsifier s) {
        if (s instanceof Sparsifier.None) throw new IllegalArgumentException("nothing dropped, nothing to rescale");
        return l1Pass(kernel, in, j, runner,
                (scratch, start, count) -> kernel.keptAbsSums(s, start, scratch.d, count, scratch.stripes));
    }

    /** One thread's arrays for the L1 pass: a block's deltas and kept deltas, and its stripe sums. */
    private static final class L1Scratch {
        final float[] d = new float[BlockReduction.BLOCK];
        final float[] kept = new float[BlockReduction.BLOCK];
        final double[] stripes = new double[2 * ScalarKernel.L1_STRIPES];
    }

    /** What the L1 pass does with one block's deltas (in {@code scratch.d}): add into {@code scratch.stripes}. */
    @FunctionalInterface
    private interface L1Step {
        void sum(L1Scratch scratch, long start, int count);
    }

    /**
     * The L1 rule's two sums over the whole tensor: per fixed block of {@link BlockReduction} (whatever the threads
     * and chunk size), the deltas decoded on the kernel's lanes, summed in the stripes of {@link
     * ScalarKernel#absSumsRange} (the order defined there, the same on every kernel and vector width), each block's
     * stripes added in stripe order, and the blocks in block order. Allocates nothing per block.
     */
    private static double[] l1Pass(MergeKernel kernel, MergeInputs in, int j, ChunkRunner runner, L1Step step) {
        return BlockReduction.run(runner, in.elements(), BlockReduction.BLOCK, 2, L1Scratch::new,
                (L1Scratch scratch, long start, int count, double[] acc) -> {
                    java.util.Arrays.fill(scratch.stripes, 0);
                    deltas(kernel, in, j, start, count, scratch.d);
                    step.sum(scratch, start, count);
                    acc[0] = ScalarKernel.stripeTotal(scratch.stripes, 0);
                    acc[1] = ScalarKernel.stripeTotal(scratch.stripes, ScalarKernel.L1_STRIPES);
                }).totals();
    }

    /**
     * d[o] = model_j - base at start + o, in f32, as the kernels compute it (the base minus itself where the model has
     * no rows), decoded on the kernel's lanes.
     */
    static void deltas(MergeKernel kernel, MergeInputs in, int j, long start, int count, float[] d) {
        int own = (int) Math.max(0, Math.min(count, in.modelElements()[j] - start));
        if (own > 0) kernel.deltas(in.base(), in.models()[j], start, own, d);
        // past the model's rows (a shorter vocabulary): rare, and the reference loop writes at an offset
        if (own < count) ScalarKernel.deltasRange(in.base(), in.base(), start + own, own, count - own, d);
    }

    /** The computed-sparsifier path: the kernel decodes and combines on its lanes, the sparsifiers decide what is kept. */
    private static ChunkOp computed(ResolvedTaskArithmetic r, DeltaSparsifier[] sp, MergeInputs in) {
        return (k, out, start, count) -> in.forEachPiece(start, count,
                (s, c, base, models) -> k.taskArithmetic(r, sp, base, models, out, s, c));
    }
}
