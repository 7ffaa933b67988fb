package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs twice (pom.xml): with jdk.incubator.vector, where best() is the vector kernel, and without it, where
 * it must be the scalar one and still merge correctly. References no jdk.incubator.vector class.
 */
@Tag("fallback")
class KernelFallbackTest {

    @Test
    void bestKernelFollowsTheModuleAndMergesLikeTheReference() {
        boolean vectorModule = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        MergeKernel best = Kernels.best();
        assertEquals(vectorModule ? "vector" : "scalar", best.name());
        assertEquals(best, Kernels.byName("auto"));

        int n = 1003;
        Random random = new Random(17);
        try (Arena arena = Arena.ofConfined()) {
            TensorView base = TestTensors.of(arena, DType.BF16, TestTensors.values(random, n, null));
            float[] b = TestTensors.decode(base);
            TensorView[] models = new TensorView[3];
            float[][] x = new float[3][];
            Sparsifier[] sparsifiers = new Sparsifier[3];
            ReferenceMerge.Keep[] keeps = new ReferenceMerge.Keep[3];
            float[] weights = {0.5f, 0.3f, 0.2f};
            for (int j = 0; j < 3; j++) {
                models[j] = TestTensors.of(arena, DType.BF16, TestTensors.values(random, n, b));
                x[j] = TestTensors.decode(models[j]);
                Sparsifier.Random r = DareMask.sparsifier(42, j, "model.layers.1.mlp.gate_proj.weight", 0.4, true);
                sparsifiers[j] = r;
                keeps[j] = new ReferenceMerge.Keep("random", r.threshold(), r.k0(), r.k1(), null, r.density(), true);
            }
            TaskArithmeticOp op = new TaskArithmeticOp(weights, sparsifiers, Consensus.WEIGHTED_SUM, false, 1f);
            TensorView out = TestTensors.empty(arena, DType.BF16, n);
            best.taskArithmetic(op, base, models, out, 0, n);
            KernelEquivalenceTest.assertBits(
                    ReferenceMerge.taskArithmetic(b, x, weights, keeps, Consensus.WEIGHTED_SUM, false, 1f), out,
                    best.name() + " dare_ties");
        }
    }
}
