package io.mergestream.method;

import io.mergestream.engine.ChunkRunner;
import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.plan.TensorParams;

/**
 * The task-arithmetic family of merge-semantics.md: sparsify each fine-tune's delta, weight it, optionally
 * elect a sign per element, sum, normalize, scale by lambda and add to the base. The members differ only
 * in their sparsifier and whether they elect signs; each is a one-line subclass.
 */
public abstract class TaskArithmeticFamily implements MergeMethod {

    /** How a member drops delta elements. */
    protected enum Sparsification { NONE, RANDOM, MAGNITUDE }

    private final String name;
    private final Sparsification sparsification;
    private final boolean electsSign;

    protected TaskArithmeticFamily(String name, Sparsification sparsification, boolean electsSign) {
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
        Sparsifier[] sparsifiers = new Sparsifier[p.models()];
        for (int j = 0; j < p.models(); j++) {
            sparsifiers[j] = sparsifier(tensor, p, j, in, kernel, runner);
        }
        TaskArithmeticOp op = new TaskArithmeticOp(p.weights().clone(), sparsifiers,
                electsSign ? p.consensus() : Consensus.NONE, p.normalize(), p.lambda());
        return (k, start, count) -> in.forEachPiece(start, count,
                (s, c, models) -> k.taskArithmetic(op, in.base(), models, in.out(), s, c));
    }

    private Sparsifier sparsifier(String tensor, TensorParams p, int j, MergeInputs in, MergeKernel kernel,
                                  ChunkRunner runner) {
        double density = p.densities()[j];
        if (sparsification == Sparsification.NONE || density >= 1) return new Sparsifier.None();
        return switch (sparsification) {
            case RANDOM -> DareMask.sparsifier(p.seed(), p.ordinals()[j], tensor, density, p.rescale());
            case MAGNITUDE -> MagnitudeSelection.select(kernel, runner, in.base(), in.models()[j],
                    in.modelElements()[j], in.elements(), density, p.rescale());
            case NONE -> throw new AssertionError();
        };
    }
}
