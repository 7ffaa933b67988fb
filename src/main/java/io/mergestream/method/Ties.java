package io.mergestream.method;

/** {@code ties}: TIES-merging: trim each delta to its largest magnitudes, elect a sign per element, add the agreeing deltas (Yadav et al.). */
public final class Ties extends TaskArithmeticFamily {
    public Ties() {
        super("ties", Sparsification.MAGNITUDE, true);
    }
}
