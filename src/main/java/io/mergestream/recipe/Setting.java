package io.mergestream.recipe;

import java.util.List;
import java.util.Optional;

/**
 * One parameter as written in a recipe, in mergekit's three shapes: a scalar, a gradient (a list of numbers
 * interpolated over the layers) or a list of {@code {filter, value}} conditions. Values are type-checked
 * against the method's {@link ParameterDef} when parsed, so resolution never meets a wrong type.
 */
public sealed interface Setting {

    /** What a condition (or the whole setting, if unconditional) finally yields: no further choices. */
    sealed interface Leaf extends Setting {}

    record Scalar(double value) implements Leaf {}

    record Flag(boolean value) implements Leaf {}

    /** A string choice, e.g. {@code sign_election: count}. */
    record Word(String value) implements Leaf {}

    /** Anchors spread evenly over the layers; see {@link ParameterResolver#gradientPosition}. */
    record Gradient(List<Double> anchors) implements Leaf {
        public Gradient {
            anchors = List.copyOf(anchors);
            if (anchors.isEmpty()) throw new IllegalArgumentException("a gradient needs at least one anchor");
        }

        /** mergekit's interpolation: position t·(n−1) in the list, linear between the two neighbouring anchors. */
        public double at(double t) {
            int last = anchors.size() - 1;
            double scaled = t * last;
            int i0 = (int) Math.floor(scaled);
            int i1 = Math.min(last, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * anchors.get(i0) + frac * anchors.get(i1);
        }
    }

    /** Conditions tried in order; the first that matches the tensor name wins. */
    record Conditional(List<Condition> conditions) implements Setting {
        public Conditional {
            conditions = List.copyOf(conditions);
        }

        public Optional<Leaf> select(String tensorName) {
            return conditions.stream().filter(c -> c.matches(tensorName)).map(Condition::value).findFirst();
        }
    }

    /** {@code filter} is a plain substring of the tensor name; no filter (or mergekit's "*") matches every tensor. */
    record Condition(Optional<String> filter, Leaf value) {
        public boolean matches(String tensorName) {
            return filter.isEmpty() || filter.get().equals("*") || tensorName.contains(filter.get());
        }
    }

    /** The value for this tensor, or empty when no condition matches (resolution then falls through a level). */
    default Optional<Leaf> select(String tensorName) {
        return switch (this) {
            case Leaf leaf -> Optional.of(leaf);
            case Conditional conditional -> conditional.select(tensorName);
        };
    }
}
