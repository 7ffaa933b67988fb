package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The block operations of the methods that are not one fused op (breadcrumbs and DELLA through computed sparsifiers,
 * SCE's variance, select and erase/mix, RAM, the block decoding of their passes): the vector kernel gives the scalar kernel's bits, and
 * both give an independent restatement (plain decoding, plain formulas, or the record-sparsifier op whose own
 * reference is tested in KernelEquivalenceTest), over odd sizes, every dtype, windows with an origin, and
 * non-finite values. Run again at 128 and 256 bits by the build.
 */
@Tag("vector-width")
class MethodLoopsEquivalenceTest {
    private static final int[] SIZES = {1, 7, 16, 33, 207, 1500, 4098};
    private static final DType[] FLOATS = {DType.F32, DType.BF16, DType.F16};

    private final MergeKernel scalar = Kernels.scalar();
    private final MergeKernel vector = Kernels.byName("vector");

    /** Values with non-finite ones and subnormals sprinkled in. */
    private static float[] values(Random random, int n, float[] near) {
        float[] v = TestTensors.values(random, n, near);
        for (int i = 0; i < n; i++) {
            int roll = random.nextInt(200);
            if (roll == 0) v[i] = Float.NaN;
            else if (roll == 1) v[i] = Float.POSITIVE_INFINITY;
            else if (roll == 2) v[i] = -Float.MIN_NORMAL / 3;
        }
        return v;
    }

    @Test
    void deltasAreTheDecodedDifferenceOnEveryKernel() {
        Random random = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            for (int size : SIZES) {
                for (DType bt : FLOATS) {
                    for (DType xt : FLOATS) {
                        TensorView base = TestTensors.of(arena, bt, values(random, size, null));
                        TensorView model = TestTensors.of(arena, xt, values(random, size, TestTensors.decode(base)));
                        float[] b = TestTensors.decode(base), x = TestTensors.decode(model);
                        int start = size / 3, count = size - start;
                        float[] expected = new float[count], plain = new float[count];
                        for (int o = 0; o < count; o++) {
                            expected[o] = x[start + o] - b[start + o];
                            plain[o] = x[start + o];
                        }
                        for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
                            float[] d = new float[count + 3];
                            k.deltas(TestTensors.window(base, start, count), TestTensors.window(model, start, count),
                                    start, count, d);
                            assertBits(expected, d, count, k.name() + " deltas " + bt + "/" + xt + " n=" + size);
                            k.deltas(null, model, start, count, d);
                            assertBits(plain, d, count, k.name() + " decode " + xt + " n=" + size);
                        }
                    }
                }
            }
        }
    }

    @Test
    void encodeRoundsOnceLikeTheCodecs() {
        Random random = new Random(12);
        try (Arena arena = Arena.ofConfined()) {
            for (int size : SIZES) {
                float[] v = values(random, size, null);
                for (int i = 0; i < size; i += 5) v[i] = Float.intBitsToFloat(random.nextInt()); // any bits, ties and NaN payloads
                for (DType t : FLOATS) {
                    int[] expected = new int[size];
                    for (int i = 0; i < size; i++) expected[i] = TestTensors.encodeBits(t, v[i]);
                    for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
                        TensorView out = TestTensors.buffer(arena, t, 100, size);
                        k.encode(v, out, 100, size);
                        assertArrayEquals(expected, TestTensors.bits(out), k.name() + " encode " + t + " n=" + size);
                    }
                }
            }
        }
    }

    @Test
    void varianceBitsMatchHandComputedValues() {
        // columns: (1, 2, 3): mean 2, variance (1 + 0 + 1) / 3; all equal: 0; a NaN
        float[][] d = {{1f, -1f, 0.25f, Float.NaN}, {2f, 1f, 0.25f, 1f}, {3f, 0f, 0.25f, 1f}};
        float[][] two = {d[0], d[1]};
        for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
            int[] bits = new int[4];
            k.varianceBits(d, 4, bits);
            assertEquals(Float.floatToRawIntBits(2f / 3f), bits[0], k.name());
            assertEquals(Float.floatToRawIntBits(2f / 3f), bits[1], k.name()); // (-1, 1, 0): mean 0, (1 + 1 + 0) / 3
            assertEquals(0, bits[2], k.name());
            assertEquals(io.mergestream.tensor.Elements.CANONICAL_F32_NAN, bits[3], k.name() + ": a NaN variance is the canonical NaN");
            k.varianceBits(two, 2, bits);
            assertEquals(Float.floatToRawIntBits(0.25f), bits[0], k.name()); // (1, 2): mean 1.5, (0.25 + 0.25) / 2
            assertEquals(Float.floatToRawIntBits(1f), bits[1], k.name());
        }
    }

    @Test
    void varianceBitsAgreeAcrossKernelsAndWithThePlainFormula() {
        Random random = new Random(13);
        for (int size : SIZES) {
            for (int m = 1; m <= 5; m++) {
                float[][] d = new float[m][];
                for (int j = 0; j < m; j++) d[j] = values(random, size, null);
                int[] expected = new int[size];
                for (int o = 0; o < size; o++) {
                    float sum = 0f;
                    for (int j = 0; j < m; j++) sum = j == 0 ? d[0][o] : sum + d[j][o];
                    float mean = sum / m, sq = 0f;
                    for (int j = 0; j < m; j++) sq += (d[j][o] - mean) * (d[j][o] - mean);
                    float var = sq / m;
                    expected[o] = Float.isNaN(var) ? 0x7FC00000 : Float.floatToRawIntBits(var) & 0x7FFFFFFF;
                }
                for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
                    int[] bits = new int[size];
                    k.varianceBits(d, size, bits);
                    assertArrayEquals(expected, bits, k.name() + " m=" + m + " n=" + size);
                }
            }
        }
    }

    @Test
    void sceMatchesHandComputedValues() {
        float[] w = {0.5f, 0.25f, 0.25f};
        // element 0: vote +0.5 >= 0, models 0 and 2 agree; 1: vote -1, only model 1 agrees; 2: all zero (the vote +0
        // elects +, a zero never agrees, the divisor's floor 1e-6 divides +0); 3: a NaN vote elects -, model 2 agrees
        float[][] v = {{1f, 0.5f, 0f, Float.NaN}, {-1f, -2f, 0f, 1f}, {0.5f, 0.5f, 0f, -1f}};
        for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
            float[] b = {1f, 1f, 1f, 1f};
            k.sce(v, w, b, 4);
            assertEquals(1f + (1f * 0.5f + 0.5f * 0.25f) / (0.5f + 0.25f), b[0], 0f, k.name());
            assertEquals(1f + (-2f * 0.25f) / 0.25f, b[1], 0f, k.name());
            assertEquals(1f, b[2], 0f, k.name());
            assertEquals(1f + (-1f * 0.25f) / 0.25f, b[3], 0f, k.name());
        }
    }

    @Test
    void sceAgreesAcrossKernelsAndWithThePlainFormula() {
        Random random = new Random(16);
        for (int size : SIZES) {
            for (int m = 1; m <= 5; m++) {
                float[][] v = new float[m][];
                float[] w = new float[m];
                for (int j = 0; j < m; j++) {
                    v[j] = values(random, size, null);
                    for (int o = 0; o < size; o++) if (random.nextInt(4) == 0) v[j][o] = random.nextBoolean() ? 0f : -0f;
                    w[j] = random.nextInt(8) == 0 ? 0f : random.nextFloat();
                }
                float[] b0 = values(random, size, null);
                float[] expected = new float[size];
                for (int o = 0; o < size; o++) {
                    float vote = v[0][o];
                    for (int j = 1; j < m; j++) vote = vote + v[j][o];
                    float mixed = 0f, divisor = 0f;
                    for (int j = 0; j < m; j++) {
                        boolean agrees = vote >= 0f ? v[j][o] > 0f : v[j][o] < 0f;
                        if (agrees) {
                            mixed = mixed + v[j][o] * w[j];
                            divisor = divisor + w[j];
                        }
                    }
                    expected[o] = b0[o] + mixed / (divisor >= 1e-6f || Float.isNaN(divisor) ? divisor : 1e-6f);
                }
                for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
                    float[] b = b0.clone();
                    k.sce(v, w, b, size);
                    assertBits(expected, b, size, k.name() + " sce m=" + m + " n=" + size);
                }
            }
        }
    }

    @Test
    void sceDropZeroesExactlyTheElementsTheTopKTestDrops() {
        Random random = new Random(17);
        for (int size : SIZES) {
            for (int m = 1; m <= 4; m++) {
                float[][] d0 = new float[m][];
                for (int j = 0; j < m; j++) d0[j] = values(random, size, null);
                int at = random.nextInt(5);
                int[] bits = new int[at + size];
                // few distinct scores, so that the threshold has ties on both sides of the cutoff
                for (int o = 0; o < size; o++) bits[at + o] = random.nextInt(6) * 1000;
                long start = random.nextInt(1000);
                int threshold = 2000 + (random.nextBoolean() ? 0 : 500);
                long[] cutoffs = {start - 5, start, start + size / 3, start + size + 7, Long.MAX_VALUE};
                for (long cutoff : cutoffs) {
                    float[][] expected = new float[m][size];
                    for (int o = 0; o < size; o++) {
                        int x = bits[at + o];
                        boolean kept = x > threshold || (x == threshold && start + o < cutoff);
                        for (int j = 0; j < m; j++) expected[j][o] = kept ? d0[j][o] : 0f;
                    }
                    for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
                        float[][] d = new float[m][];
                        for (int j = 0; j < m; j++) d[j] = d0[j].clone();
                        k.sceDrop(d, bits, at, start, size, threshold, cutoff);
                        for (int j = 0; j < m; j++) {
                            assertBits(expected[j], d[j], size, k.name() + " sceDrop m=" + m + " n=" + size + " cutoff " + cutoff);
                        }
                    }
                }
            }
        }
    }

    @Test
    void ramMatchesHandComputedValues() {
        float eps = 1e-5f;
        float[] lambda = {1.1f, 1f, 1.2f};
        // element 0: only model 0 changes it (times lambda_0); 1: models 0 and 1 share it (each / 2);
        // 2: every |d| at most epsilon (nothing added); 3: all three, each / 3
        float[][] d = {{0.5f, 0.3f, 1e-5f, 0.3f}, {0f, 0.6f, -1e-5f, -0.9f}, {1e-6f, 0f, 0f, 0.6f}};
        for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
            float[] b = {1f, 1f, 1f, 1f};
            k.ram(d, eps, lambda, b, 4);
            assertEquals(1f + 0.5f * 1.1f, b[0], 0f, k.name());
            assertEquals(1f + (0.3f / 2 + 0.6f / 2), b[1], 0f, k.name());
            assertEquals(1f, b[2], 0f, k.name());
            assertEquals(1f + ((0.3f / 3 + -0.9f / 3) + 0.6f / 3), b[3], 0f, k.name());
        }
    }

    @Test
    void ramAgreesAcrossKernelsAndWithThePlainFormula() {
        Random random = new Random(14);
        for (int size : SIZES) {
            for (int m = 1; m <= 4; m++) {
                float[][] d = new float[m][size];
                float[] lambda = new float[m];
                for (int j = 0; j < m; j++) {
                    lambda[j] = 1f + random.nextFloat() / 4;
                    for (int o = 0; o < size; o++) d[j][o] = random.nextInt(3) == 0 ? 0f : (float) random.nextGaussian() * 1e-4f;
                }
                float eps = random.nextBoolean() ? 1e-5f : 0f;
                float[] b0 = values(random, size, null);
                float[] expected = new float[size];
                for (int o = 0; o < size; o++) {
                    int c = 0;
                    for (int j = 0; j < m; j++) if (Math.abs(d[j][o]) > eps) c++;
                    float mixed = 0f;
                    for (int j = 0; j < m; j++) {
                        if (Math.abs(d[j][o]) > eps) mixed = mixed + (c == 1 ? d[j][o] * lambda[j] : d[j][o] / c);
                    }
                    expected[o] = b0[o] + mixed;
                }
                for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
                    float[] b = b0.clone();
                    k.ram(d, eps, lambda, b, size);
                    assertBits(expected, b, size, k.name() + " ram m=" + m + " n=" + size);
                }
            }
        }
    }

    /**
     * A computed sparsifier that restates a kernel record (magnitude trim, DARE mask) must give exactly the
     * record op's output, on both kernels, for every election, normalize, model count and dtype mix, whole and
     * in windows.
     */
    @Test
    void computedSparsifiersGiveTheRecordOpsBits() {
        Random random = new Random(15);
        int combination = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (int size : SIZES) {
                for (Consensus consensus : Consensus.values()) {
                    for (boolean normalize : new boolean[] {false, true}) {
                        checkComputed(arena, random, combination++, size, consensus, normalize);
                    }
                }
            }
        }
    }

    private void checkComputed(Arena arena, Random random, int combination, int size, Consensus consensus,
                               boolean normalize) {
        int models = combination % 5 + 1;
        TensorView base = TestTensors.of(arena, FLOATS[combination % 3], TestTensors.values(random, size, null));
        float[] b = TestTensors.decode(base);
        TensorView[] views = new TensorView[models];
        float[] weights = new float[models];
        Sparsifier[] records = new Sparsifier[models];
        ComputedSparsifier[] computed = new ComputedSparsifier[models];
        for (int j = 0; j < models; j++) {
            views[j] = TestTensors.of(arena, FLOATS[random.nextInt(3)], TestTensors.values(random, size, b));
            weights[j] = random.nextInt(5) == 0 ? -0.4f : 0.2f + random.nextFloat();
            boolean rescale = random.nextBoolean();
            float density = 0.1f + 0.8f * random.nextFloat();
            if (random.nextBoolean()) {
                int bits = Float.floatToRawIntBits(0.01f * random.nextFloat());
                long tie = random.nextInt(size + 1);
                records[j] = new Sparsifier.Magnitude(bits, tie, density, rescale);
                computed[j] = (start, count, d, s) -> {
                    for (int o = 0; o < count; o++) {
                        int a = Float.floatToRawIntBits(d[o]) & 0x7FFFFFFF;
                        boolean kept = a > bits || (a == bits && start + o < tie);
                        s[o] = kept ? (rescale ? d[o] / density : d[o]) : 0f;
                    }
                };
            } else {
                Sparsifier.Random r = DareMask.sparsifier(random.nextLong(), j, "t" + j, density, rescale);
                records[j] = r;
                computed[j] = (start, count, d, s) -> {
                    for (int o = 0; o < count; o++) {
                        boolean kept = DareMask.keep(start + o, r.k0(), r.k1(), r.threshold());
                        s[o] = kept ? (rescale ? d[o] / r.density() : d[o]) : 0f;
                    }
                };
            }
        }
        float lambda = combination % 2 == 0 ? 1f : 0.7f;
        TaskArithmeticOp op = new TaskArithmeticOp(weights, records, consensus, normalize, lambda);
        ResolvedTaskArithmetic p = new ResolvedTaskArithmetic(op);
        DType outType = FLOATS[(combination / 3) % 3];
        TensorView expected = TestTensors.empty(arena, outType, size);
        scalar.taskArithmetic(op, base, views, expected, 0, size);
        String what = "models=" + models + " n=" + size + " " + consensus + " normalize=" + normalize + " out=" + outType;
        for (MergeKernel k : new MergeKernel[] {scalar, vector}) {
            TensorView whole = TestTensors.empty(arena, outType, size);
            k.taskArithmetic(p, computed, base, views, whole, 0, size);
            assertArrayEquals(TestTensors.bits(expected), TestTensors.bits(whole), k.name() + " whole " + what);
            TensorView chunked = TestTensors.empty(arena, outType, size);
            for (int start = 0; start < size; start += 1000) {
                int count = Math.min(1000, size - start);
                TensorView[] w = new TensorView[models];
                for (int j = 0; j < models; j++) w[j] = TestTensors.window(views[j], start, count);
                TensorView out = TestTensors.buffer(arena, outType, start, count);
                k.taskArithmetic(p, computed, TestTensors.window(base, start, count), w, out, start, count);
                TestTensors.place(out, chunked);
            }
            assertArrayEquals(TestTensors.bits(expected), TestTensors.bits(chunked), k.name() + " windows " + what);
        }
    }

    private static void assertBits(float[] expected, float[] actual, int count, String what) {
        for (int o = 0; o < count; o++) {
            int e = Float.floatToRawIntBits(expected[o]), a = Float.floatToRawIntBits(actual[o]);
            if (Float.isNaN(expected[o]) && Float.isNaN(actual[o])) continue; // payloads are not part of the contract
            assertEquals(e, a, what + " at " + o + ": " + expected[o] + " vs " + actual[o]);
        }
    }
}
