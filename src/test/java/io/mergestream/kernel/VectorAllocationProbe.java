package io.mergestream.kernel;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.MergeEngine;
import io.mergestream.kernel.vector.VectorKernel;
import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.Random;

/**
 * Run by {@link VectorAllocationTest} in a JVM of its own, as a merge runs: a dare_ties of 3 bf16 models over
 * {@code 2 Mi} elements (argument {@code dare_ties}, the default) or a linear merge of one f16 model into f16
 * ({@code linear-f16}: the case JMH found boxed until its loops became stages), warmed on small
 * ranges, then whole passes until the bytes one pass allocates fall under the limit (C2's code is in place)
 * or the passes run out. Prints the width and the least bytes seen.
 */
public final class VectorAllocationProbe {

    static final int N = 2 << 20;
    static final long LIMIT = 1 << 20;

    private VectorAllocationProbe() {}

    public static void main(String[] args) {
        MergeKernel vector = Kernels.byName("vector");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random random = new Random(3);
        String kind = args.length > 0 ? args[0] : "dare_ties";
        try (Arena arena = Arena.ofConfined()) {
            if (kind.equals("linear-f16")) {
                // shared, as the mapped inputs and the engine's output buffers are (and as JMH's were)
                Arena shared = Arena.ofAuto();
                TensorView model = TestTensors.of(shared, DType.F16, TestTensors.values(random, N, null));
                TensorView out = TestTensors.empty(shared, DType.F16, N);
                LinearOp op = new LinearOp(new float[] {0.7f}, true);
                // chunk by chunk through the engine's ChunkRunner, as a merge and JMH call it. Note: the boxing JMH
                // measured in the old loops (77 MB per pass) does not reproduce here (old loops: 7.9 KB), so this
                // guards the stage shape against boxing but does not replay that benchmark's compilation
                try (ChunkRunner runner = new ChunkRunner(1, MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS)) {
                    Pass pass = (from, count) -> runner.forEachChunk(count, (s, c) ->
                            vector.linear(op, new TensorView[] {model}, out, from + s, c));
                    System.out.println("bits " + VectorKernel.vectorBits() + " least " + leastAllocated(pass, threads));
                }
                return;
            }
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
            Pass pass = (from, count) -> vector.taskArithmetic(op, base, models, out, from, count);
            System.out.println("bits " + VectorKernel.vectorBits() + " least " + leastAllocated(pass, threads));
        }
    }

    /** One kernel call over elements [from, from + count). */
    private interface Pass {
        void run(long from, int count);
    }

    private static long leastAllocated(Pass pass, com.sun.management.ThreadMXBean threads) {
        // interpreted vector code is slow (boxed): warm up on small ranges first
        for (int i = 0; i < 2000; i++) pass.run((i * 8192L) % (N - 8192), 8192);
        long least = Long.MAX_VALUE;
        for (int p = 0; p < 60 && least >= LIMIT; p++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            pass.run(0, N);
            least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
        }
        return least;
    }
}
