package io.mergestream.kernel;

/**
 * mergekit's {@code linear}: per element, in f32 and in this order,
 * {@code acc = ((w_0*x_0 + w_1*x_1) + w_2*x_2) ...}; if normalize, {@code out = acc / divisor} with
 * {@code divisor = ((w_0 + w_1) + w_2) ...} (a zero divisor is rejected earlier, as a recipe error).
 */
public record LinearOp(float[] weights, boolean normalize) {
    public int models() {
        return weights.length;
    }
}
