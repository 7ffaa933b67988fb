package io.mergestream.method;

/** {@code task_arithmetic}: Adds the weighted deltas of the fine-tunes to the base (Ilharco et al.). */
public final class TaskArithmetic extends TaskArithmeticFamily {
    public TaskArithmetic() {
        super("task_arithmetic", Sparsification.NONE, false);
    }
}
