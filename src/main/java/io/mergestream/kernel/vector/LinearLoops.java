package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.TensorView;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * mergekit's linear merge on N lanes: {@code acc = ((w_0*x_0 + w_1*x_1) + w_2*x_2) ...}, divided if
 * normalizing. As in {@link TaskArithmeticLoops}, one loop per model count 1..4 with the models unrolled and
 * their segments, dtypes and weights in final locals, so that the whole loop body is one inlined graph and no
 * vector is boxed; more models take the loop over j.
 */
final class LinearLoops {
    private LinearLoops() {}

    /** Whole vectors of [from, to); {@code to - from} is a multiple of N. */
    static void run(float[] w, boolean normalize, float divisor, TensorView[] models, TensorView out,
                    long from, long to) {
        MemorySegment outData = out.data();
        int outType = VectorCodecs.code(out.dtype());
        MemorySegment[] data = new MemorySegment[w.length];
        int[] types = new int[w.length];
        for (int j = 0; j < w.length; j++) {
            data[j] = models[j].data();
            types[j] = VectorCodecs.code(models[j].dtype());
        }
        switch (w.length) {
            case 1 -> loop1(data[0], types[0], w[0], normalize, divisor, outData, outType, from, to);
            case 2 -> loop2(data[0], types[0], w[0], data[1], types[1], w[1], normalize, divisor, outData, outType,
                    from, to);
            case 3 -> loop3(data, types, w, normalize, divisor, outData, outType, from, to);
            case 4 -> loop4(data, types, w, normalize, divisor, outData, outType, from, to);
            default -> loopAny(data, types, w, normalize, divisor, outData, outType, from, to);
        }
    }

    private static void loop1(MemorySegment x0, int type0, float w0, boolean normalize, float divisor,
                              MemorySegment outData, int outType, long from, long to) {
        for (long i = from; i < to; i += N) {
            FloatVector acc = VectorCodecs.load(x0, type0, i).mul(w0);
            VectorCodecs.store(normalize ? acc.div(divisor) : acc, outData, outType, i);
        }
    }

    private static void loop2(MemorySegment x0, int type0, float w0, MemorySegment x1, int type1, float w1,
                              boolean normalize, float divisor, MemorySegment outData, int outType, long from, long to) {
        for (long i = from; i < to; i += N) {
            FloatVector acc = VectorCodecs.load(x0, type0, i).mul(w0).add(VectorCodecs.load(x1, type1, i).mul(w1));
            VectorCodecs.store(normalize ? acc.div(divisor) : acc, outData, outType, i);
        }
    }

    private static void loop3(MemorySegment[] data, int[] types, float[] w, boolean normalize, float divisor,
                              MemorySegment outData, int outType, long from, long to) {
        final MemorySegment x0 = data[0], x1 = data[1], x2 = data[2];
        final int type0 = types[0], type1 = types[1], type2 = types[2];
        final float w0 = w[0], w1 = w[1], w2 = w[2];
        for (long i = from; i < to; i += N) {
            FloatVector acc = VectorCodecs.load(x0, type0, i).mul(w0).add(VectorCodecs.load(x1, type1, i).mul(w1))
                    .add(VectorCodecs.load(x2, type2, i).mul(w2));
            VectorCodecs.store(normalize ? acc.div(divisor) : acc, outData, outType, i);
        }
    }

    private static void loop4(MemorySegment[] data, int[] types, float[] w, boolean normalize, float divisor,
                              MemorySegment outData, int outType, long from, long to) {
        final MemorySegment x0 = data[0], x1 = data[1], x2 = data[2], x3 = data[3];
        final int type0 = types[0], type1 = types[1], type2 = types[2], type3 = types[3];
        final float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        for (long i = from; i < to; i += N) {
            FloatVector acc = VectorCodecs.load(x0, type0, i).mul(w0).add(VectorCodecs.load(x1, type1, i).mul(w1))
                    .add(VectorCodecs.load(x2, type2, i).mul(w2)).add(VectorCodecs.load(x3, type3, i).mul(w3));
            VectorCodecs.store(normalize ? acc.div(divisor) : acc, outData, outType, i);
        }
    }

    private static void loopAny(MemorySegment[] data, int[] types, float[] w, boolean normalize, float divisor,
                                MemorySegment outData, int outType, long from, long to) {
        for (long i = from; i < to; i += N) {
            FloatVector acc = VectorCodecs.load(data[0], types[0], i).mul(w[0]);
            for (int j = 1; j < w.length; j++) acc = acc.add(VectorCodecs.load(data[j], types[j], i).mul(w[j]));
            VectorCodecs.store(normalize ? acc.div(divisor) : acc, outData, outType, i);
        }
    }
}
