package io.mergestream.method;

/** {@code della_linear}: DELLA's rank-based random drop (MagPrune) and rescale, then add (Deep et al.). */
public final class DellaLinear extends TaskArithmeticFamily {
    public DellaLinear() {
        super("della_linear", Sparsification.DELLA_MAGPRUNE, false);
    }
}
