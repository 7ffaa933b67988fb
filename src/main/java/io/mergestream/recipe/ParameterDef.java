package io.mergestream.recipe;

import java.util.List;
import java.util.Optional;

/**
 * What a merge method accepts for one parameter: its type, its default (none means required), the numbers
 * allowed, and for choices the words allowed (for a flag, the words it takes besides true and false, e.g.
 * {@code rescale: l1 | inverse}). Values mergekit knows but mergestream does not implement yet can be listed in
 * {@code notSupportedYet}, so they get a "not supported yet" error rather than a type error.
 */
public record ParameterDef(
        String name,
        Type type,
        Optional<Setting.Leaf> defaultValue,
        NumberRange range,
        List<String> choices,
        List<String> notSupportedYet) {

    public enum Type { NUMBER, BOOLEAN, CHOICE }

    /** An interval of allowed numbers; every parameter value must at least be finite. */
    public record NumberRange(double low, boolean lowInclusive, double high, boolean highInclusive) {
        public static final NumberRange FINITE =
                new NumberRange(Double.NEGATIVE_INFINITY, false, Double.POSITIVE_INFINITY, false);
        /** (0, 1]: a density keeps a positive fraction of the delta, at most all of it. */
        public static final NumberRange DENSITY = new NumberRange(0, false, 1, true);
        /** (0, ∞): nearswap's threshold, multislerp's eps. */
        public static final NumberRange POSITIVE = new NumberRange(0, false, Double.POSITIVE_INFINITY, false);
        /** [0, ∞): karcher's iteration count and tolerance. */
        public static final NumberRange NON_NEGATIVE = new NumberRange(0, true, Double.POSITIVE_INFINITY, false);

        public boolean contains(double v) {
            return Double.isFinite(v)
                    && (lowInclusive ? v >= low : v > low)
                    && (highInclusive ? v <= high : v < high);
        }

        public String describe() {
            if (this.equals(FINITE)) return "a finite number";
            return (lowInclusive ? "[" : "(") + fmt(low) + ", " + fmt(high) + (highInclusive ? "]" : ")");
        }

        private static String fmt(double v) {
            return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
        }
    }

    public ParameterDef {
        choices = List.copyOf(choices);
        notSupportedYet = List.copyOf(notSupportedYet);
    }

    public static ParameterDef requiredNumber(String name) {
        return new ParameterDef(name, Type.NUMBER, Optional.empty(), NumberRange.FINITE, List.of(), List.of());
    }

    public static ParameterDef requiredNumber(String name, NumberRange range) {
        return new ParameterDef(name, Type.NUMBER, Optional.empty(), range, List.of(), List.of());
    }

    public static ParameterDef number(String name, double defaultValue, NumberRange range) {
        return new ParameterDef(name, Type.NUMBER, Optional.of(new Setting.Scalar(defaultValue)), range,
                List.of(), List.of());
    }

    public static ParameterDef flag(String name, boolean defaultValue, String... notSupportedYet) {
        return new ParameterDef(name, Type.BOOLEAN, Optional.of(new Setting.Flag(defaultValue)),
                NumberRange.FINITE, List.of(), List.of(notSupportedYet));
    }

    /**
     * A flag that also takes some words, e.g. {@code rescale: true | false | l1 | inverse}: {@code words} are accepted
     * (as {@link Setting.Word}), {@code notSupportedYet} are recognised and reported.
     */
    public static ParameterDef flagOrWord(String name, boolean defaultValue, List<String> words,
                                          String... notSupportedYet) {
        return new ParameterDef(name, Type.BOOLEAN, Optional.of(new Setting.Flag(defaultValue)),
                NumberRange.FINITE, words, List.of(notSupportedYet));
    }

    public static ParameterDef choice(String name, String defaultValue, String... choices) {
        return new ParameterDef(name, Type.CHOICE, Optional.of(new Setting.Word(defaultValue)),
                NumberRange.FINITE, List.of(choices), List.of());
    }

    public boolean isRequired() {
        return defaultValue.isEmpty();
    }
}
