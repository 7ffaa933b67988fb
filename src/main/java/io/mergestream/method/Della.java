package io.mergestream.method;

/** {@code della}: DELLA's rank-based random drop (MagPrune) and rescale followed by TIES sign election. */
public final class Della extends TaskArithmeticFamily {
    public Della() {
        super("della", Sparsification.DELLA_MAGPRUNE, true);
    }
}
