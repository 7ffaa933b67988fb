package io.mergestream.method;

/** {@code dare_ties}: DARE's random drop and rescale followed by TIES sign election. */
public final class DareTies extends TaskArithmeticFamily {
    public DareTies() {
        super("dare_ties", Sparsification.RANDOM, true);
    }
}
