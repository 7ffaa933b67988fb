package io.mergestream.plan;

import io.mergestream.kernel.Consensus;

/**
 * A merge method's parameters resolved for one tensor (gradients and filters already applied). Per-model
 * arrays are in fine-tune order; {@code ordinals[j]} is fine-tune j's position among the recipe's non-base
 * models, the DARE mask's model number. Methods without a {@code weight} get weights of 1; their own
 * parameters are in {@code settings}.
 */
public record TensorParams(float[] weights, double[] densities, int[] ordinals, boolean rescale,
                           boolean normalize, float lambda, Consensus consensus, long seed, MethodSettings settings) {

    public int models() {
        return weights.length;
    }

    /** {@code rescale: l1}: the kept delta is scaled so that its L1 norm equals the delta's. */
    public boolean rescaleL1() {
        return settings.word("rescale").filter("l1"::equals).isPresent();
    }
}
