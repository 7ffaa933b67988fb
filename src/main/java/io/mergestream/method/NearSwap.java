package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.TensorView;

/**
 * {@code nearswap}: mergekit's NearSwap: per element, in f32, with the base {@code v0}, the other model
 * {@code v1} and threshold {@code t}:
 * <pre>
 *   c = max(|v0 − v1|, 1e-6f);   w = clamp((float) t · (1 / c), 0, 1);   out = w · v1 + (1 − w) · v0
 * </pre>
 * where the models are within {@code t} of each other the other model's value is taken, further apart they are
 * interpolated towards the base; {@code t ≤ 0} gives the base. The weight is {@code t} times the reciprocal,
 * not a division, because that is how torch evaluates mergekit's {@code t / absdiff} (a scalar divided by a
 * tensor is the tensor's reciprocal times the scalar): so the result is mergekit's bit for bit. No reduction.
 * The map step is a scalar loop over the decoded elements (the kernel has no op for it). With only the base,
 * the output is the base.
 */
public final class NearSwap implements MergeMethod {

    @Override
    public String name() {
        return "nearswap";
    }

    @Override
    public ChunkOp prepare(String tensor, TensorParams p, MergeInputs in, MergeKernel kernel, ChunkRunner runner) {
        if (in.modelCount() == 0) return Combination.copy(in.base());
        float t = (float) p.settings().number("t");
        TensorView v0 = in.base();
        TensorView v1 = in.models()[0];
        return (k, out, start, count) -> {
            for (long i = start; i < start + count; i++) {
                out.set(i, element(t, v0.get(i), v1.get(i)));
            }
        };
    }

    /** mergekit's lower bound on |v0 − v1| (its {@code clamp(min=1e-6)}, in f32). */
    private static final float MIN_DIFF = 1e-6f;

    static float element(float t, float v0, float v1) {
        float c = Math.max(Math.abs(v0 - v1), MIN_DIFF);
        float w = Math.clamp(t * (1f / c), 0f, 1f);
        return w * v1 + (1f - w) * v0;
    }
}
