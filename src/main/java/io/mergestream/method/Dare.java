package io.mergestream.method;

/**
 * {@code mergestream dare}: the DARE paper's operation on one fine-tune, base + sparsify(delta), as a member
 * of the task-arithmetic family with one model of weight 1, lambda 1 and no sign election. {@link #random()}
 * draws the DARE keep-mask (docs/dare-mask.md, model ordinal 0); {@link #magnitude()} keeps the
 * {@code floor(density * n)} largest |delta| of each tensor (the exact {@link MagnitudeSelection}). Not a
 * recipe method: recipes spell the same operation {@code dare_linear} with one model.
 */
public final class Dare extends TaskArithmeticFamily {

    private Dare(String name, Sparsification sparsification) {
        super(name, sparsification, false);
    }

    /** Random drop (the DARE keep-mask), rescaled unless the plan says otherwise. */
    public static Dare random() {
        return new Dare("dare", Sparsification.RANDOM);
    }

    /** Drops the smallest |delta| of each tensor, keeping the floor(density * n) largest. */
    public static Dare magnitude() {
        return new Dare("dare_magnitude", Sparsification.MAGNITUDE);
    }
}
