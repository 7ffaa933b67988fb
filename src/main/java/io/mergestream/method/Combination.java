package io.mergestream.method;

import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.LinearOp;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import java.util.Arrays;

/**
 * The map step of the spherical and reference methods, once their coefficients are known: per element, in
 * f32, {@code out = c_0 x_0 + c_1 x_1 + ...} without a base, or {@code out = b + (c_0 (x_0 − b) + c_1 (x_1 − b)
 * + ...)} with one. With one set of coefficients for the whole tensor this is the kernel's {@code linear}
 * (normalize off) or {@code taskArithmetic} (no sparsifier, no election, lambda 1) op, and so it is per row, piece
 * by piece; with coefficients per column it is a plain scalar loop in the same operation order, so all give the
 * same bits.
 */
final class Combination {

    private Combination() {}

    /** The map step with one coefficient per model for the whole tensor; {@code base} may be null. */
    static ChunkOp whole(float[] c, TensorView base, TensorView[] xs) {
        if (base == null) {
            LinearOp op = new LinearOp(c.clone(), false);
            return (k, out, start, count) -> k.linear(op, xs, out, start, count);
        }
        Sparsifier[] none = new Sparsifier[c.length];
        Arrays.fill(none, new Sparsifier.None());
        TaskArithmeticOp op = new TaskArithmeticOp(c.clone(), none, Consensus.NONE, false, 1f);
        return (k, out, start, count) -> k.taskArithmetic(op, base, xs, out, start, count);
    }

    /** A copy of one input (a lone model, or the base when nothing else is merged). */
    static ChunkOp copy(TensorView x) {
        return whole(new float[] {1f}, null, new TensorView[] {x});
    }

    /** The map step with coefficients {@code c[v][j]} for each vector {@code v} of the layout. */
    static ChunkOp perVector(float[][] c, VectorLayout layout, TensorView base, TensorView[] xs) {
        if (layout.isWhole()) return whole(c[0], base, xs);
        if (layout.elementStride() == 1) return perRow(c, layout, base, xs);
        return (k, out, start, count) -> {
            for (long i = start; i < start + count; i++) {
                float[] cv = c[(int) layout.vectorOf(i)];
                out.set(i, element(cv, base, xs, i));
            }
        };
    }

    /**
     * Contiguous vectors (rows): each row's piece of a chunk is the whole-tensor op with that row's coefficients, on
     * the kernel's lanes; the op order is the same as {@link #element}'s, so are the bits.
     */
    private static ChunkOp perRow(float[][] c, VectorLayout layout, TensorView base, TensorView[] xs) {
        ChunkOp[] rows = new ChunkOp[c.length];
        for (int v = 0; v < c.length; v++) rows[v] = whole(c[v], base, xs);
        long length = layout.vectorStride();
        return (k, out, start, count) -> {
            long end = start + count;
            for (long from = start; from < end; ) {
                long v = from / length;
                long to = Math.min(end, (v + 1) * length);
                rows[(int) v].run(k, out, from, (int) (to - from));
                from = to;
            }
        };
    }

    private static float element(float[] c, TensorView base, TensorView[] xs, long i) {
        if (base == null) {
            float acc = c[0] * xs[0].get(i);
            for (int j = 1; j < c.length; j++) acc += c[j] * xs[j].get(i);
            return acc;
        }
        float b = base.get(i);
        float mixed = c[0] * (xs[0].get(i) - b);
        for (int j = 1; j < c.length; j++) mixed += c[j] * (xs[j].get(i) - b);
        return b + mixed;
    }

    static float[] toFloat(double[] c) {
        float[] f = new float[c.length];
        for (int j = 0; j < c.length; j++) f[j] = (float) c[j];
        return f;
    }
}
