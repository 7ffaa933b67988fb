package io.mergestream.kernel;

/** Argument checks shared by the kernels: done once per call, never per element. */
public final class Views {
    private Views() {}

    /** The view decodes to f32 and holds elements {@code [start, start + count)}. */
    public static void checkMergeable(TensorView view, String role, long start, int count) {
        if (!view.dtype().isMergeable()) {
            throw new IllegalArgumentException(role + " has dtype " + view.dtype()
                    + "; the merge kernels take F32, F16 and BF16 only (other types are copied, not merged)");
        }
        if (start < view.origin() || count < 0 || start + count > view.end()) {
            throw new IllegalArgumentException(role + ": elements [" + start + ", " + (start + count)
                    + ") are outside the view's [" + view.origin() + ", " + view.end() + ")");
        }
    }

    public static void checkModels(TensorView[] models, int expected, long start, int count) {
        if (models.length != expected) {
            throw new IllegalArgumentException("the op has " + expected + " models but " + models.length + " views were given");
        }
        for (int j = 0; j < models.length; j++) {
            // the role's text only on failure: this runs once per chunk, and per tensor of a 300,000-tensor merge
            TensorView m = models[j];
            if (!m.dtype().isMergeable() || start < m.origin() || count < 0 || start + count > m.end()) {
                checkMergeable(m, "model " + j, start, count);
            }
        }
    }

    /** The views of one task-arithmetic call: base, one per model of the op, output. */
    public static void checkTaskArithmetic(ResolvedTaskArithmetic p, TensorView base, TensorView[] models,
                                           TensorView out, long start, int count) {
        checkMergeable(base, "base", start, count);
        checkModels(models, p.models, start, count);
        checkMergeable(out, "output", start, count);
    }

    /** The views of one linear call: at least one model, one per weight, and the output. */
    public static void checkLinear(LinearOp op, TensorView[] models, TensorView out, long start, int count) {
        if (op.weights().length < 1) throw new IllegalArgumentException("linear needs at least one model");
        checkModels(models, op.weights().length, start, count);
        checkMergeable(out, "output", start, count);
    }

    /** The views of one convert call. */
    public static void checkConvert(TensorView in, TensorView out, long start, int count) {
        checkMergeable(in, "input", start, count);
        checkMergeable(out, "output", start, count);
    }
}
