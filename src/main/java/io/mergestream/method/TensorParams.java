package io.mergestream.method;

import io.mergestream.kernel.Consensus;
import java.util.Locale;

/**
 * A merge method's parameters resolved for one tensor (gradients and filters already applied). Per-model
 * arrays are in fine-tune order; {@code ordinals[j]} is fine-tune j's position among the recipe's non-base
 * models, the DARE mask's model number. Methods without a {@code weight} get weights of 1; their own
 * parameters are in {@code settings}.
 */
public record TensorParams(float[] weights, double[] densities, int[] ordinals, Rescale rescale,
                           boolean normalize, float lambda, Consensus consensus, long seed, MethodSettings settings) {

    /** What a sparsifier does to the delta elements it keeps (merge-semantics.md, "Rescale"). */
    public enum Rescale {
        /** {@code rescale: false}: kept elements as they are. */
        NONE,
        /**
         * {@code rescale: true} (or {@code l1}), mergekit's rule: the kept tensor is scaled by Σ|δ| / Σ|kept| over
         * the whole tensor, so its L1 norm equals the delta's.
         */
        L1,
        /** {@code rescale: inverse}, the DARE paper's rule: each kept element divided by its keep probability. */
        INVERSE;

        /** The value of a recipe's {@code rescale:} ("true", "false", "l1" or "inverse"). */
        public static Rescale fromRecipe(String value) {
            return switch (value) {
                case "true", "l1" -> L1;
                case "false" -> NONE;
                case "inverse" -> INVERSE;
                default -> throw new IllegalArgumentException("rescale '" + value + "'");
            };
        }

        /** The word for messages and model cards: none, l1, inverse. */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public int models() {
        return weights.length;
    }
}
