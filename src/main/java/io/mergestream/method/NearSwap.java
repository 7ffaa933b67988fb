package io.mergestream.method;

import io.mergestream.engine.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.TensorView;
import io.mergestream.plan.TensorParams;

/**
 * {@code nearswap}: mergekit's NearSwap: per element, in f32, with the base {@code v0}, the other model
 * {@code v1} and threshold {@code t > 0}: {@code w = clamp(t / |v0 − v1|, 0, 1)} (1 where the models are
 * equal), {@code out = w v1 + (1 − w) v0} — where the models are within {@code t} of each other the other
 * model's value is taken, further apart they are interpolated towards the base. No reduction. The map step
 * is a scalar loop over the decoded elements (the kernel has no op for it). With only the base, the output
 * is the base.
 */
public final class NearSwap implements MergeMethod {

    @Override
    public String name() {
        return "nearswap";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 0) return Combination.copy(in.base(), in.out());
        float t = (float) p.settings().number("t");
        TensorView v0 = in.base();
        TensorView v1 = in.models()[0];
        TensorView out = in.out();
        return (k, start, count) -> {
            for (long i = start; i < start + count; i++) {
                ScalarKernel.encode(out, i, element(t, ScalarKernel.decode(v0, i), ScalarKernel.decode(v1, i)));
            }
        };
    }

    static float element(float t, float v0, float v1) {
        float w = t / Math.abs(v0 - v1);
        if (Float.isNaN(w) || Float.isInfinite(w)) w = 1f;
        w = Math.clamp(w, 0f, 1f);
        return w * v1 + (1f - w) * v0;
    }
}
