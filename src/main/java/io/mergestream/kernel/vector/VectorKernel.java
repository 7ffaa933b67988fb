package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.ComputedSparsifier;
import io.mergestream.kernel.LinearOp;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ResolvedTaskArithmetic;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import io.mergestream.kernel.Views;
import java.lang.foreign.MemorySegment;

/**
 * The Vector API implementation of {@link MergeKernel}, bit-identical to {@link ScalarKernel}: each step
 * of {@link TaskArithmeticOp}'s op order runs on N lanes at once, block by block through small loops that
 * pass f32 values in L1-resident scratch ({@link TaskArithmeticLoops}, {@link LinearLoops}: see there why
 * this shape, and not one fused loop, is what keeps C2 inlining everything and no vector boxed).
 * Elements that do not fill a vector go through ScalarKernel's per-element methods.
 *
 * <p>Load this class only when jdk.incubator.vector is in the boot layer (see Kernels).
 */
public final class VectorKernel implements MergeKernel {

    @Override
    public String name() {
        return "vector";
    }

    /** The vector width in bits (the species is fixed at class initialisation). */
    public static int vectorBits() {
        return Lanes.BITS;
    }

    @Override
    public void taskArithmetic(TaskArithmeticOp op, TensorView base, TensorView[] models, TensorView out,
                               long start, int count) {
        ResolvedTaskArithmetic p = new ResolvedTaskArithmetic(op);
        Views.checkTaskArithmetic(p, base, models, out, start, count);
        if (!vectorAccessible(base, out) || !vectorAccessible(models)) {
            ScalarKernel.taskArithmeticRange(p, base, models, out, start, start + count);
            return;
        }
        TaskArithmeticLoops.forEachRange(p, base, models, out, start, start + count,
                (from, to) -> ScalarKernel.taskArithmeticRange(p, base, models, out, from, to));
    }

    @Override
    public void linear(LinearOp op, TensorView[] models, TensorView out, long start, int count) {
        float[] w = op.weights();
        Views.checkLinear(op, models, out, start, count);
        float divisor = ScalarKernel.linearDivisor(op);
        if (!vectorAccessible(out) || !vectorAccessible(models)) {
            ScalarKernel.linearRange(w, divisor, models, out, start, start + count);
            return;
        }
        long whole = start + (long) (count / N) * N;
        LinearLoops.run(w, op.normalize(), divisor, models, out, start, whole);
        ScalarKernel.linearRange(w, divisor, models, out, whole, start + count);
    }

    @Override
    public void convert(TensorView in, TensorView out, long start, int count) {
        Views.checkConvert(in, out, start, count);
        int k = 0;
        if (vectorAccessible(in, out)) {
            int inType = VectorCodecs.code(in.dtype());
            int outType = VectorCodecs.code(out.dtype());
            if (count >= N) {
                VectorCodecs.faultable(in.data(), start - in.origin());
                VectorCodecs.faultable(out.data(), start - out.origin());
            }
            for (; k <= count - N; k += N) {
                long i = start + k;
                VectorCodecs.store(VectorCodecs.load(in.data(), inType, i - in.origin()), out.data(), outType,
                        i - out.origin());
            }
        }
        ScalarKernel.convertRange(in, out, start + k, start + count);
    }

    @Override
    public void taskArithmetic(ResolvedTaskArithmetic p, ComputedSparsifier[] sparsifiers, TensorView base,
                               TensorView[] models, TensorView out, long start, int count) {
        Views.checkTaskArithmetic(p, base, models, out, start, count);
        if (!vectorAccessible(base, out) || !vectorAccessible(models)) {
            ScalarKernel.computedTaskArithmeticRange(p, sparsifiers, base, models, out, start, count);
            return;
        }
        MethodLoops.computedTaskArithmetic(p, sparsifiers, base, models, out, start, count);
    }

    @Override
    public void deltas(TensorView base, TensorView model, long start, int count, float[] d) {
        if (base != null) Views.checkMergeable(base, "base", start, count);
        Views.checkMergeable(model, "model", start, count);
        if (d.length < count) throw new IllegalArgumentException(count + " deltas asked into " + d.length);
        if (!vectorAccessible(model) || (base != null && !vectorAccessible(base))) {
            ScalarKernel.deltasRange(base, model, start, 0, count, d);
            return;
        }
        MethodLoops.deltas(base, model, start, count, d);
    }

    @Override
    public void encode(float[] values, TensorView out, long start, int count) {
        Views.checkMergeable(out, "output", start, count);
        if (values.length < count) throw new IllegalArgumentException(count + " values asked from " + values.length);
        if (!vectorAccessible(out)) {
            ScalarKernel.encodeRange(values, out, start, 0, count);
            return;
        }
        MethodLoops.encode(values, out, start, count);
    }

    @Override
    public void absSums(float[] d, float[] kept, int count, double[] stripes) {
        L1Loops.absSums(d, kept, count, stripes);
    }

    @Override
    public void keptAbsSums(Sparsifier s, long start, float[] d, int count, double[] stripes) {
        L1Loops.keptAbsSums(s, start, d, count, stripes);
    }

    @Override
    public void varianceBits(float[][] d, int count, int[] bits) {
        MethodLoops.varianceBits(d, count, bits);
    }

    @Override
    public void sceDrop(float[][] d, int[] bits, int at, long start, int count, int thresholdBits, long tieCutoff) {
        MethodLoops.sceDrop(d, bits, at, start, count, thresholdBits, tieCutoff);
    }

    @Override
    public void sce(float[][] v, float[] w, float[] b, int count) {
        MethodLoops.sce(v, w, b, count);
    }

    @Override
    public void ram(float[][] d, float epsilon, float[] lambda, float[] b, int count) {
        MethodLoops.ram(d, epsilon, lambda, b, count);
    }

    /** The Vector API reads native segments and heap segments over byte[] only. */
    private static boolean vectorAccessible(TensorView... views) {
        for (TensorView v : views) {
            MemorySegment data = v.data();
            if (!data.isNative() && !(data.heapBase().orElse(null) instanceof byte[])) return false;
        }
        return true;
    }

}
