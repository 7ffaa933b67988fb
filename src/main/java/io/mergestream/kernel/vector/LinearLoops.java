package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.N;

import io.mergestream.kernel.TensorView;
import io.mergestream.kernel.vector.TaskArithmeticLoops.Stage;
import io.mergestream.kernel.vector.TaskArithmeticLoops.WidenF16;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * mergekit's linear merge on N lanes: {@code acc = ((w_0*x_0 + w_1*x_1) + w_2*x_2) ...}, divided if
 * normalizing. Built from {@link TaskArithmeticLoops}' stages and run by its block loop
 * ({@link TaskArithmeticLoops#runBlocks}), for the same reason (every loop a small compilation, far under
 * C2's inlining cutoff, so that no vector is boxed): per block of {@link TaskArithmeticLoops#BLOCK}
 * elements, f16 inputs are widened by {@link WidenF16}, one stage per model adds w_j * x_j into an f32
 * accumulator block, and one stage divides and encodes.
 *
 * <p>Why not static methods called from a block loop of its own, as before: with one f16 model the loop
 * called just two of them, C2 inlined both (the f16 widening and the f16 rounding) into the block loop, the
 * graph passed the cutoff and every vector was boxed (77 MB allocated per 2 Mi elements, 2.08 GB/s against
 * 17 for the C kernel). Behind the shared virtual call site, with WidenF16 as a third receiver whenever f16
 * is involved, no stage is inlined into the block loop.
 */
final class LinearLoops {
    private static final ThreadLocal<float[]> SCRATCH =
            ThreadLocal.withInitial(() -> new float[TaskArithmeticLoops.BLOCK]);

    private LinearLoops() {}

    /** Whole vectors of [from, to); {@code to - from} is a multiple of N. */
    static void run(float[] w, boolean normalize, float divisor, TensorView[] models, TensorView out,
                    long from, long to) {
        float[] acc = SCRATCH.get();
        MemorySegment widened = TaskArithmeticLoops.widenedBlock();
        Stage[] stages = new Stage[2 * w.length + 1];
        int count = 0;
        for (int j = 0; j < w.length; j++) {
            MemorySegment x = models[j].data();
            int type = VectorCodecs.code(models[j].dtype());
            boolean wide = type == VectorCodecs.F16;
            if (wide) stages[count++] = new WidenF16(x, models[j].origin(), widened);
            stages[count++] = new Accumulate(wide ? widened : x, models[j].origin(), wide ? VectorCodecs.F32 : type,
                    wide, w[j], j == 0, acc);
        }
        stages[count++] = new Finish(acc, normalize, divisor, out.data(), out.origin(), VectorCodecs.code(out.dtype()));
        TaskArithmeticLoops.runBlocks(stages, count, from, to);
    }

    /**
     * acc = w_0 * x_0 for the first model, acc += w_j * x_j for the others. x_j (bf16 or f32) is read where
     * it lies (element i at (i - origin)) or, widened, from the block at k.
     */
    static final class Accumulate extends Stage {
        private final MemorySegment x;
        private final long origin;
        private final int type;
        private final boolean inBlock, first;
        private final float w;
        private final float[] acc;

        Accumulate(MemorySegment x, long origin, int type, boolean inBlock, float w, boolean first, float[] acc) {
            this.x = x;
            this.origin = origin;
            this.type = type;
            this.inBlock = inBlock;
            this.w = w;
            this.first = first;
            this.acc = acc;
        }

        @Override
        void run(long block, int n) {
            final MemorySegment x = this.x;
            final int type = this.type;
            final float w = this.w;
            final float[] acc = this.acc;
            final long at = inBlock ? 0 : block - origin;
            VectorCodecs.faultable(x, at);
            if (first) {
                for (int k = 0; k < n; k += N) VectorCodecs.loadBf16OrF32(x, type, at + k).mul(w).intoArray(acc, k);
            } else {
                for (int k = 0; k < n; k += N) {
                    FloatVector.fromArray(F, acc, k).add(VectorCodecs.loadBf16OrF32(x, type, at + k).mul(w))
                            .intoArray(acc, k);
                }
            }
        }
    }

    /** out = acc, divided by the divisor if normalizing, rounded to the output dtype. */
    static final class Finish extends Stage {
        private final float[] acc;
        private final boolean normalize;
        private final float divisor;
        private final MemorySegment data;
        private final long origin;
        private final int type;

        Finish(float[] acc, boolean normalize, float divisor, MemorySegment data, long origin, int type) {
            this.acc = acc;
            this.normalize = normalize;
            this.divisor = divisor;
            this.data = data;
            this.origin = origin;
            this.type = type;
        }

        @Override
        void run(long block, int n) {
            final float[] acc = this.acc;
            final boolean normalize = this.normalize;
            final float divisor = this.divisor;
            final MemorySegment data = this.data;
            final int type = this.type;
            final long at = block - origin;
            VectorCodecs.faultable(data, at);
            for (int k = 0; k < n; k += N) {
                FloatVector v = FloatVector.fromArray(F, acc, k);
                VectorCodecs.store(normalize ? v.div(divisor) : v, data, type, at + k);
            }
        }
    }
}
