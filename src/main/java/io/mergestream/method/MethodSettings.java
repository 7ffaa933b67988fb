package io.mergestream.method;

import java.util.Map;

/**
 * A method's own parameters beyond the common ones of {@link TensorParams}, resolved for one tensor by name:
 * merge-wide numbers (slerp's {@code t}, karcher's {@code tol}, sce's {@code select_topk} ...), flags
 * ({@code filter_wise} ...), words (choices a method reads itself), and per-model numbers other than {@code weight} and
 * {@code density} (passthrough's {@code scale}, breadcrumbs' {@code gamma}, della's {@code epsilon}), in
 * model order.
 */
public record MethodSettings(Map<String, Double> numbers, Map<String, Boolean> flags, Map<String, String> words,
                             Map<String, double[]> perModel) {

    public static final MethodSettings NONE = new MethodSettings(Map.of(), Map.of(), Map.of(), Map.of());

    public MethodSettings {
        numbers = Map.copyOf(numbers);
        flags = Map.copyOf(flags);
        words = Map.copyOf(words);
        perModel = Map.copyOf(perModel);
    }

    /** A word-valued setting; empty when the recipe gave a plain flag or nothing. */
    public java.util.Optional<String> word(String name) {
        return java.util.Optional.ofNullable(words.get(name));
    }

    public double number(String name) {
        Double v = numbers.get(name);
        if (v == null) throw new IllegalArgumentException("no number parameter '" + name + "' resolved");
        return v;
    }

    public boolean flag(String name) {
        Boolean v = flags.get(name);
        if (v == null) throw new IllegalArgumentException("no flag parameter '" + name + "' resolved");
        return v;
    }

    public double[] perModel(String name) {
        double[] v = perModel.get(name);
        if (v == null) throw new IllegalArgumentException("no per-model parameter '" + name + "' resolved");
        return v.clone();
    }
}
