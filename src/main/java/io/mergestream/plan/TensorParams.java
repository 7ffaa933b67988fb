package io.mergestream.plan;

import io.mergestream.kernel.Consensus;
import java.util.Map;
import java.util.Optional;

/**
 * A merge method's parameters resolved for one tensor (gradients and filters already applied). Per-model
 * arrays are in fine-tune order; {@code ordinals[j]} is fine-tune j's position among the recipe's non-base
 * models, the DARE mask's model number. Methods without weights get weight 1 for every model.
 *
 * @param extra the method's own parameters beyond the common ones (gamma, epsilon, select_topk, r, alpha,
 *              {@code rescale: l1})
 */
public record TensorParams(float[] weights, double[] densities, int[] ordinals, boolean rescale,
                           boolean normalize, float lambda, Consensus consensus, long seed, Extra extra) {

    public TensorParams(float[] weights, double[] densities, int[] ordinals, boolean rescale, boolean normalize,
                        float lambda, Consensus consensus, long seed) {
        this(weights, densities, ordinals, rescale, normalize, lambda, consensus, seed, Extra.NONE);
    }

    public int models() {
        return weights.length;
    }

    /** {@code rescale: l1}: the kept delta is scaled so that its L1 norm equals the delta's. */
    public boolean rescaleL1() {
        return extra.word("rescale").filter("l1"::equals).isPresent();
    }

    /**
     * Method-specific values by parameter name: per-model numbers in fine-tune order ({@code gamma},
     * {@code epsilon} of della), merge-wide numbers ({@code select_topk}, {@code r}, {@code alpha}) and words
     * ({@code rescale: l1}).
     */
    public record Extra(Map<String, double[]> perModel, Map<String, Double> numbers, Map<String, String> words) {
        public static final Extra NONE = new Extra(Map.of(), Map.of(), Map.of());

        public Extra {
            perModel = Map.copyOf(perModel);
            numbers = Map.copyOf(numbers);
            words = Map.copyOf(words);
        }

        public double[] perModel(String name) {
            double[] v = perModel.get(name);
            if (v == null) throw new IllegalArgumentException("no per-model parameter '" + name + "' was resolved");
            return v;
        }

        public double number(String name) {
            Double v = numbers.get(name);
            if (v == null) throw new IllegalArgumentException("no parameter '" + name + "' was resolved");
            return v;
        }

        public Optional<String> word(String name) {
            return Optional.ofNullable(words.get(name));
        }
    }
}
