package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.TensorView;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * mergekit's linear merge on N lanes: {@code acc = ((w_0*x_0 + w_1*x_1) + w_2*x_2) ...}, divided if
 * normalizing. Shaped like {@link TaskArithmeticLoops} and for the same reason (every loop a small
 * compilation, far under C2's inlining cutoff, so that no vector is boxed): per block of
 * {@link TaskArithmeticLoops#BLOCK} elements, one loop per model decodes x_j and adds w_j * x_j into an f32
 * accumulator block, and one loop divides and encodes. A single loop over 4 models with f16 widening
 * inline would pass the cutoff.
 */
final class LinearLoops {
    private static final ThreadLocal<float[]> SCRATCH =
            ThreadLocal.withInitial(() -> new float[TaskArithmeticLoops.BLOCK]);

    private LinearLoops() {}

    /** Whole vectors of [from, to); {@code to - from} is a multiple of N. */
    static void run(float[] w, boolean normalize, float divisor, TensorView[] models, TensorView out,
                    long from, long to) {
        float[] acc = SCRATCH.get();
        MemorySegment outData = out.data();
        int outType = VectorCodecs.code(out.dtype());
        for (long block = from; block < to; block += TaskArithmeticLoops.BLOCK) {
            int n = (int) Math.min(TaskArithmeticLoops.BLOCK, to - block);
            first(models[0].data(), VectorCodecs.code(models[0].dtype()), w[0], block - models[0].origin(), n, acc);
            for (int j = 1; j < w.length; j++) {
                add(models[j].data(), VectorCodecs.code(models[j].dtype()), w[j], block - models[j].origin(), n, acc);
            }
            finish(acc, normalize, divisor, outData, outType, block - out.origin(), n);
        }
    }

    // start is the byte-offset element index in data: the flat index minus the view's origin.

    /** acc = w_0 * x_0 */
    private static void first(MemorySegment data, int type, float w, long start, int n, float[] acc) {
        VectorCodecs.faultable(data, start);
        for (int k = 0; k < n; k += N) VectorCodecs.load(data, type, start + k).mul(w).intoArray(acc, k);
    }

    /** acc += w_j * x_j */
    private static void add(MemorySegment data, int type, float w, long start, int n, float[] acc) {
        VectorCodecs.faultable(data, start);
        for (int k = 0; k < n; k += N) {
            FloatVector.fromArray(F, acc, k).add(VectorCodecs.load(data, type, start + k).mul(w)).intoArray(acc, k);
        }
    }

    private static void finish(float[] acc, boolean normalize, float divisor, MemorySegment data, int type,
                               long start, int n) {
        VectorCodecs.faultable(data, start);
        for (int k = 0; k < n; k += N) {
            FloatVector v = FloatVector.fromArray(F, acc, k);
            VectorCodecs.store(normalize ? v.div(divisor) : v, data, type, start + k);
        }
    }
}
