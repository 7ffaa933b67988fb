package io.mergestream.plan;

import java.util.Map;

/**
 * The parameters of a method outside the task-arithmetic family, resolved for one tensor by name: merge-wide
 * numbers (slerp's {@code t}, karcher's {@code tol} ...) and flags ({@code filter_wise} ...), and per-model
 * numbers other than {@code weight} and {@code density} (passthrough's {@code scale}), in model order.
 */
public record MethodSettings(Map<String, Double> numbers, Map<String, Boolean> flags, Map<String, double[]> perModel) {

    public static final MethodSettings NONE = new MethodSettings(Map.of(), Map.of(), Map.of());

    public MethodSettings {
        numbers = Map.copyOf(numbers);
        flags = Map.copyOf(flags);
        perModel = Map.copyOf(perModel);
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
