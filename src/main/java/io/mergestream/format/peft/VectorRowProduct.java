package io.mergestream.format.peft;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link RowProduct} on the preferred vector width: per k one small loop (a broadcast coefficient times a row of the
 * tile, added to the accumulator), each far below C2's inlining limits so that no vector is boxed (see
 * kernel/vector/TaskArithmeticLoops on why loops stay this small). Lanes are independent f32 multiply and add,
 * exactly the scalar reference's operations; the tail runs scalar. Load only with jdk.incubator.vector present.
 */
final class VectorRowProduct implements RowProduct {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    @Override
    public void accumulate(float[] coef, int rank, float[] tile, int off, int stride, int w, float[] acc) {
        first(coef[0], tile, off, w, acc);
        for (int k = 1; k < rank; k++) add(coef[k], tile, off + k * stride, w, acc);
    }

    private static void first(float c, float[] tile, int off, int w, float[] acc) {
        int x = 0;
        for (int upper = F.loopBound(w); x < upper; x += F.length()) {
            FloatVector.fromArray(F, tile, off + x).mul(c).intoArray(acc, x);
        }
        for (; x < w; x++) acc[x] = c * tile[off + x];
    }

    private static void add(float c, float[] tile, int off, int w, float[] acc) {
        int x = 0;
        for (int upper = F.loopBound(w); x < upper; x += F.length()) {
            FloatVector.fromArray(F, acc, x).add(FloatVector.fromArray(F, tile, off + x).mul(c)).intoArray(acc, x);
        }
        for (; x < w; x++) acc[x] += c * tile[off + x];
    }
}
