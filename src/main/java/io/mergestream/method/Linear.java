package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.LinearOp;
import io.mergestream.kernel.MergeKernel;

/** {@code linear}: the weighted average of the models' parameters (Wortsman et al., model soups). */
public final class Linear implements MergeMethod {

    @Override
    public String name() {
        return "linear";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        LinearOp op = new LinearOp(p.weights().clone(), p.normalize());
        return (k, out, start, count) -> k.linear(op, in.windows(start, count), out, start, count);
    }

    @Override
    public boolean streamsInputs(TensorParams params) {
        return true;
    }
}
