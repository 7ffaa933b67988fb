package io.mergestream.kernel;

import io.mergestream.kernel.vector.VectorKernel;
import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.Random;

/**
 * Run by {@link VectorAllocationTest} in a JVM of its own, as a merge runs: a dare_ties of 3 bf16 models over
 * {@code 2 Mi} elements, warmed on small ranges, then whole passes until the bytes one pass allocates fall
 * under the limit (C2's code is in place) or the passes run out. Prints the width and the least bytes seen.
 */
public final class VectorAllocationProbe {

    static final int N = 2 << 20;
    static final long LIMIT = 1 << 20;

    private VectorAllocationProbe() {}

    public static void main(String[] args) {
        MergeKernel vector = Kernels.byName("vector");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random random = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            TensorView base = TestTensors.of(arena, DType.BF16, TestTensors.values(random, N, null));
            float[] b = TestTensors.decode(base);
            TensorView[] models = new TensorView[3];
            Sparsifier[] sparsifiers = new Sparsifier[3];
            for (int j = 0; j < 3; j++) {
                models[j] = TestTensors.of(arena, DType.BF16, TestTensors.values(random, N, b));
                sparsifiers[j] = DareMask.sparsifier(7, j, "model.layers.0.mlp.up_proj.weight", 0.3, true);
            }
            TaskArithmeticOp op = new TaskArithmeticOp(new float[] {0.5f, 0.3f, 0.2f}, sparsifiers,
                    Consensus.WEIGHTED_SUM, false, 1f);
            TensorView out = TestTensors.empty(arena, DType.BF16, N);
            // interpreted vector code is slow (boxed): warm up on small ranges first
            for (int i = 0; i < 2000; i++) vector.taskArithmetic(op, base, models, out, (i * 8192L) % (N - 8192), 8192);
            long least = Long.MAX_VALUE;
            for (int pass = 0; pass < 60 && least >= LIMIT; pass++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                vector.taskArithmetic(op, base, models, out, 0, N);
                least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
            }
            System.out.println("bits " + VectorKernel.vectorBits() + " least " + least);
        }
    }
}
