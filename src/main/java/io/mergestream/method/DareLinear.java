package io.mergestream.method;

/** {@code dare_linear}: DARE: drop delta elements at random with probability 1 - density, rescale the survivors, add (Yu et al.). */
public final class DareLinear extends TaskArithmeticFamily {
    public DareLinear() {
        super("dare_linear", Sparsification.RANDOM, false);
    }
}
