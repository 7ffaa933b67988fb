package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;

/**
 * {@code passthrough}: the one input model's tensor, times its {@code scale} (default 1) — mergekit's way to
 * stack layers with {@code slices:} or to scale a model. Map: the kernel's linear op with the one weight.
 */
public final class Passthrough implements MergeMethod {

    @Override
    public String name() {
        return "passthrough";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        float scale = (float) p.settings().perModel("scale")[0];
        io.mergestream.kernel.LinearOp op = new io.mergestream.kernel.LinearOp(new float[] {scale}, false);
        return (k, out, start, count) -> k.linear(op, in.windows(start, count), out, start, count);
    }

    @Override
    public boolean streamsInputs(TensorParams params) {
        return true;
    }
}
