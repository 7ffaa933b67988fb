package io.mergestream.kernel;

import io.mergestream.tensor.Elements;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The C kernels (native/mergestream_kernels.c through {@link NativeKernel}) == scalar == vector == reference,
 * bit for bit: every case of {@link KernelEquivalenceTest} (inherited, run on all three kernels), the
 * normative DARE mask vectors through the C u(i) and through the C kernel (including a range across 2^32),
 * and the fallback for heap segments.
 */
class NativeKernelEquivalenceTest extends KernelEquivalenceTest {

    @BeforeEach
    void needsTheLibrary() {
        assumeTrue(NativeKernel.isAvailable(), "libmergestream_native.so is not built (the Maven build runs"
                + " native/build.sh only when /usr/bin/gcc exists): " + NativeKernel.unavailableReason());
    }

    @Override
    List<MergeKernel> kernels() {
        return List.of(Kernels.scalar(), Kernels.byName("vector"), Kernels.byName("native"));
    }

    @Test
    void isRegisteredAsNative() {
        assertEquals("native", Kernels.byName("native").name());
        assertTrue(NativeKernel.libraryPath() != null);
    }

    /**
     * The C library's fused hot path (one dtype for base, models and output; 2..4 models; all rescaled DARE
     * draws; no consensus or weighted-sum election) is taken only by such ops, which the inherited mixed-dtype
     * cases rarely build: run it on the same sizes, chunked.
     */
    @Test
    void dareHotPathAgreesWithTheReferenceBitForBit() {
        Random random = new Random(44);
        for (int size : new int[]{1, 13, 207, 4098, 10007}) {
            for (DType dtype : new DType[]{DType.BF16, DType.F32}) {
                for (int models = 2; models <= 4; models++) {
                    for (Consensus consensus : new Consensus[]{Consensus.NONE, Consensus.WEIGHTED_SUM}) {
                        for (boolean normalize : new boolean[]{false, true}) {
                            try (Arena arena = Arena.ofConfined()) {
                                TensorView base = TestTensors.of(arena, dtype, TestTensors.values(random, size, null));
                                float[] b = TestTensors.decode(base);
                                TensorView[] views = new TensorView[models];
                                float[][] x = new float[models][];
                                float[] weights = new float[models];
                                Sparsifier[] sparsifiers = new Sparsifier[models];
                                ReferenceMerge.Keep[] keeps = new ReferenceMerge.Keep[models];
                                for (int j = 0; j < models; j++) {
                                    views[j] = TestTensors.of(arena, dtype, TestTensors.values(random, size, b));
                                    x[j] = TestTensors.decode(views[j]);
                                    weights[j] = random.nextInt(5) == 0 ? -0.4f : 0.2f + random.nextFloat();
                                    var r = DareMask.sparsifier(random.nextLong(), j, "w", 0.05 + 0.9 * random.nextDouble(), true);
                                    sparsifiers[j] = r;
                                    keeps[j] = new ReferenceMerge.Keep("random", r.threshold(), r.k0(), r.k1(), null, r.density(), true);
                                }
                                float lambda = random.nextBoolean() ? 1f : 0.7f;
                                TaskArithmeticOp op = new TaskArithmeticOp(weights, sparsifiers, consensus, normalize, lambda);
                                float[] expected = ReferenceMerge.taskArithmetic(b, x, weights, keeps, consensus, normalize, lambda);
                                for (MergeKernel kernel : kernels()) {
                                    TensorView out = TestTensors.empty(arena, dtype, size);
                                    for (int[] chunk : chunks(random, size)) {
                                        kernel.taskArithmetic(op, base, views, out, chunk[0], chunk[1]);
                                    }
                                    assertBits(expected, out, kernel.name() + " hot path size " + size + " " + dtype
                                            + " models " + models + " " + consensus + " normalize " + normalize);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void reproducesTheDareMaskVectorsInCAndInTheKernel() {
        List<DareMaskVectors.Case> cases = DareMaskVectors.load();
        assertTrue(cases.size() > 0);
        for (DareMaskVectors.Case c : cases) {
            long seed = c.seed();
            int model = c.model();
            String name = c.name();
            long start = c.start();
            double density = c.density();
            long key = DareMask.streamKey(seed, model, name);
            int n = c.u().length;
            for (int k = 0; k < n; k++) {
                assertEquals(c.u()[k],
                        Integer.toUnsignedLong(NativeKernel.dareU(start + k, DareMask.k0(key), DareMask.k1(key))),
                        name + " u(" + (start + k) + ")");
            }
            // The kernel at flat index `start`: base 0, models of 1s, model 0 weighs 1 and the others 0, all drawn
            // with this case's key and rescaled: out = keep ? 1 / density : 0. Four models take the fused hot
            // path, one the general path: both must draw these bits.
            for (int models : new int[]{1, 4}) {
                try (Arena arena = Arena.ofConfined()) {
                    TensorView base = TestTensors.of(arena, DType.F32, new float[n]);
                    float[] ones = new float[n];
                    Arrays.fill(ones, 1f);
                    TensorView[] views = new TensorView[models];
                    Sparsifier[] sparsifiers = new Sparsifier[models];
                    float[] weights = new float[models];
                    for (int j = 0; j < models; j++) {
                        views[j] = TestTensors.of(arena, DType.F32, ones);
                        sparsifiers[j] = DareMask.sparsifier(seed, model, name, density, true);
                        weights[j] = j == 0 ? 1f : 0f;
                    }
                    TaskArithmeticOp op = new TaskArithmeticOp(weights, sparsifiers, Consensus.NONE, false, 1f);
                    TensorView out = TestTensors.empty(arena, DType.F32, n);
                    NativeKernel.taskArithmeticAt(new ResolvedTaskArithmetic(op), base, views, out, 0, start, n);
                    float[] got = TestTensors.decode(out);
                    for (int k = 0; k < n; k++) {
                        float want = c.keep()[k] ? 1f / (float) density : 0f;
                        assertEquals(want, got[k], 0f,
                                name + " kernel keep(" + (start + k) + "), " + models + " models");
                    }
                }
            }
        }
    }

    @Test
    void dareTiesAcrossTwoToTheThirtyTwoAgreesWithTheScalarFormula() {
        Random random = new Random(7);
        int n = 5000;
        long index = (1L << 32) - 2345; // the range crosses hi32(i) = 0 -> 1
        for (DType dtype : new DType[]{DType.BF16, DType.F32, DType.F16}) {
            try (Arena arena = Arena.ofConfined()) {
                TensorView base = TestTensors.of(arena, dtype, TestTensors.values(random, n, null));
                float[] b = TestTensors.decode(base);
                TensorView[] views = new TensorView[3];
                float[][] x = new float[3][];
                Sparsifier[] sparsifiers = new Sparsifier[3];
                float[] weights = {0.5f, 0.8f, -0.4f};
                for (int j = 0; j < 3; j++) {
                    views[j] = TestTensors.of(arena, dtype, TestTensors.values(random, n, b));
                    x[j] = TestTensors.decode(views[j]);
                    var r = DareMask.sparsifier(99, j, "model.layers.3.mlp.up_proj.weight", 0.3 + 0.2 * j, true);
                    sparsifiers[j] = r;
                }
                for (Consensus consensus : Consensus.values()) {
                    TaskArithmeticOp op = new TaskArithmeticOp(weights, sparsifiers, consensus, consensus != Consensus.NONE, 0.9f);
                    ResolvedTaskArithmetic p = new ResolvedTaskArithmetic(op);
                    TensorView out = TestTensors.empty(arena, dtype, n);
                    NativeKernel.taskArithmeticAt(p, base, views, out, 0, index, n);
                    int[] bits = TestTensors.bits(out);
                    float[] s = new float[3], t = new float[3];
                    for (int k = 0; k < n; k++) {
                        // ScalarKernel's per-element definition at flat index `index + k`, on views shifted by k
                        float want = element(p, b[k], x, k, index + k, s, t);
                        assertEquals(TestTensors.encodeBits(dtype, want), bits[k],
                                dtype + " " + consensus + " element " + (index + k));
                    }
                }
            }
        }
    }

    /** TaskArithmeticOp's op order for one element at flat index i (as ScalarKernel.taskArithmeticElement). */
    private static float element(ResolvedTaskArithmetic p, float b, float[][] x, int k, long i, float[] s, float[] t) {
        for (int j = 0; j < p.models; j++) {
            s[j] = ScalarKernel.sparsify(p, j, x[j][k] - b, i);
            t[j] = p.weights[j] * s[j];
        }
        float mixed, divisor;
        if (p.consensus == Consensus.NONE) {
            mixed = t[0];
            for (int j = 1; j < p.models; j++) mixed += t[j];
            divisor = p.constantDivisor;
        } else {
            float election = 0f;
            for (int j = 0; j < p.models; j++) election += ScalarKernel.electionTerm(p.consensus, s[j], t[j]);
            boolean positive = election >= 0f;
            mixed = 0f;
            divisor = 0f;
            for (int j = 0; j < p.models; j++) {
                if (positive ? t[j] > 0f : t[j] < 0f) {
                    mixed += t[j];
                    divisor += p.weights[j];
                }
            }
            divisor = ResolvedTaskArithmetic.guardDivisor(divisor);
        }
        if (p.normalize) mixed = mixed / divisor;
        return b + p.lambda * mixed;
    }

    @Test
    void heapSegmentsAndClosedArenasAreHandled() {
        MergeKernel kernel = Kernels.byName("native");
        float[] values = {1f, -2f, 3.5f, Float.NaN, 1e-40f};
        TensorView in = new TensorView(MemorySegment.ofArray(new int[values.length]), DType.F32);
        for (int i = 0; i < values.length; i++) in.data().set(Elements.F32_BITS, 4L * i, Float.floatToRawIntBits(values[i]));
        TensorView out = new TensorView(MemorySegment.ofArray(new short[values.length]), DType.BF16);
        kernel.convert(in, out, 0, values.length); // heap segments: the scalar path
        assertBits(values, out, "heap convert");
        TensorView closed;
        try (Arena arena = Arena.ofConfined()) {
            closed = TestTensors.empty(arena, DType.F32, 4);
        }
        assertThrows(IllegalStateException.class, () -> kernel.convert(closed, out, 0, 4));
    }

    @Test
    void streamFiguresArePositive() {
        assertTrue(NativeKernel.streamCopy(4 << 20, 1) > 0);
        assertTrue(NativeKernel.streamTriad(4 << 20, 2) > 0);
    }
}
