package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Properties and hand-computed cases, for both kernels. */
class MergePropertiesTest {
    private final List<MergeKernel> kernels = List.of(Kernels.scalar(), Kernels.byName("vector"));

    @Test
    void dareLinearKeepsEitherTheBaseOrTheRescaledDelta() {
        int n = 200_003;
        double density = 0.3;
        Random random = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            float[] b = new float[n], x = new float[n];
            for (int i = 0; i < n; i++) {
                b[i] = (float) random.nextGaussian();
                x[i] = b[i] + 0.25f + random.nextFloat(); // never a zero delta: dropped and kept differ
            }
            TensorView base = TestTensors.of(arena, DType.F32, b), model = TestTensors.of(arena, DType.F32, x);
            Sparsifier.Random dare = DareMask.sparsifier(99, 0, "model.layers.3.self_attn.o_proj.weight", density, true);
            TaskArithmeticOp op = new TaskArithmeticOp(new float[]{1f}, new Sparsifier[]{dare}, Consensus.NONE, false, 1f);
            for (MergeKernel kernel : kernels) {
                TensorView out = TestTensors.empty(arena, DType.BF16, n);
                kernel.taskArithmetic(op, base, new TensorView[]{model}, out, 0, n);
                float[] merged = TestTensors.decode(out);
                long kept = 0;
                for (int i = 0; i < n; i++) {
                    float dropped = round(b[i]), keptValue = round(b[i] + (x[i] - b[i]) / (float) density);
                    assertTrue(merged[i] == dropped || merged[i] == keptValue, kernel.name() + " element " + i);
                    if (merged[i] == keptValue) kept++;
                }
                double sigma = Math.sqrt(n * density * (1 - density));
                assertTrue(Math.abs(kept - n * density) < 4 * sigma, kernel.name() + " kept " + kept);
            }
        }
    }

    private static float round(float f) {
        return Float.intBitsToFloat(TestTensors.encodeBits(DType.BF16, f) << 16);
    }

    /** Runs one op on f32 tensors, repeated so the vector kernel's whole vectors see it too, on each kernel. */
    private void assertTies(float[] b, float[][] x, float[] w, Sparsifier[] sparsifiers, Consensus consensus,
                            boolean normalize, float[] expected) {
        int reps = 40, n = b.length;
        try (Arena arena = Arena.ofConfined()) {
            TensorView base = TestTensors.of(arena, DType.F32, repeat(b, reps));
            TensorView[] models = new TensorView[x.length];
            for (int j = 0; j < x.length; j++) models[j] = TestTensors.of(arena, DType.F32, repeat(x[j], reps));
            // Magnitude tie cutoffs refer to flat indices: they only hold in the first repetition.
            TaskArithmeticOp op = new TaskArithmeticOp(w, sparsifiers, consensus, normalize, 1f);
            for (MergeKernel kernel : kernels) {
                TensorView out = TestTensors.empty(arena, DType.F32, n * reps);
                kernel.taskArithmetic(op, base, models, out, 0, n * reps);
                float[] merged = TestTensors.decode(out);
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(merged[i]),
                            kernel.name() + " element " + i + ": " + merged[i] + " expected " + expected[i]);
                }
            }
        }
    }

    private static float[] repeat(float[] v, int times) {
        float[] out = new float[v.length * times];
        for (int r = 0; r < times; r++) System.arraycopy(v, 0, out, r * v.length, v.length);
        return out;
    }

    @Test
    void tiesHandComputed() {
        float[] b = {0f, 1f, 0f, 0f, 2f, 0f};
        float[][] x = {
                {0.5f, 1.5f, -0.25f, 0f, 2f, 0.5f},
                {-0.5f, 0.5f, 0.5f, 0f, 2f, 0.5f},
                {0.5f, 2f, -0.75f, 0f, 2f, -0.5f}};
        // |delta| 0.5 is the threshold bits for model 0 and ties at elements 0, 1, 5: a cutoff of 2 keeps 0 and 1.
        Sparsifier m0 = new Sparsifier.Magnitude(Float.floatToRawIntBits(0.5f), 2, 0.5f, false);
        Sparsifier all = new Sparsifier.None();
        float[] w = {1f, 1f, 1f};
        // element 0: t = (0.5, -0.5, 0.5), sum 0.5 elects +: agreeing 0.5 + 0.5, divisor 2 -> 0.5
        // element 1: t = (0.5, -0.5, 1), sum 1 elects +: 0.5 + 1 = 1.5 / 2 = 0.75 -> 1.75
        // element 2: t = (-0.25 kept? |.25| < .5 dropped -> 0, 0.5, -0.75): sum -0.25 elects -: -0.75 / 1 -> -0.75
        // element 3: all deltas 0: sum 0 elects +1, zeros never agree: mixed 0, divisor 0 -> divides by 1 -> b
        // element 4: all deltas 0 on base 2 -> 2
        // element 5: t = (0 (tie beyond the cutoff), 0.5, -0.5): sum 0 elects +: 0.5 / 1 = 0.5
        assertTies(b, x, w, new Sparsifier[]{m0, all, all}, Consensus.WEIGHTED_SUM, true,
                new float[]{0.5f, 1.75f, -0.75f, 0f, 2f, 0.5f});
        // Without normalize: mixed is the agreeing sum.
        assertTies(b, x, w, new Sparsifier[]{m0, all, all}, Consensus.WEIGHTED_SUM, false,
                new float[]{1f, 2.5f, -0.75f, 0f, 2f, 0.5f});
        // COUNT: element 2 has signs (0, +, -): sum 0 elects +: 0.5; element 1 (+, -, +) elects +.
        assertTies(b, x, w, new Sparsifier[]{m0, all, all}, Consensus.COUNT, false,
                new float[]{1f, 2.5f, 0.5f, 0f, 2f, 0.5f});
    }

    @Test
    void sumElectionIgnoresWeightsAndWeightedSumDoesNot() {
        float[] b = {0f};
        float[][] x = {{1f}, {-0.5f}};
        float[] w = {0.25f, 1f};
        Sparsifier[] none = {new Sparsifier.None(), new Sparsifier.None()};
        // SUM: 1 - 0.5 > 0 elects +: t_0 = 0.25. WEIGHTED_SUM: 0.25 - 0.5 < 0 elects -: t_1 = -0.5.
        assertTies(b, x, w, none, Consensus.SUM, false, new float[]{0.25f});
        assertTies(b, x, w, none, Consensus.WEIGHTED_SUM, false, new float[]{-0.5f});
        // normalize with consensus divides by the agreeing weights only.
        assertTies(b, x, w, none, Consensus.WEIGHTED_SUM, true, new float[]{-0.5f});
    }

    @Test
    void withoutConsensusTheSumStartsWithTheFirstTermSoNegativeZeroSurvives() {
        // d = -0 - (-0) = +0, t_0 = -1 * +0 = -0; out = -0 + 1 * -0 = -0 (0 + t_0 would give +0).
        assertTies(new float[]{-0f}, new float[][]{{-0f}}, new float[]{-1f}, new Sparsifier[]{new Sparsifier.None()},
                Consensus.NONE, false, new float[]{-0f});
    }

    @Test
    void normalizeWithAZeroDivisorDividesByOne() {
        // weights cancel: divisor 1 - 1 = 0 -> divide by 1.
        assertTies(new float[]{1f}, new float[][]{{2f}, {3f}}, new float[]{1f, -1f},
                new Sparsifier[]{new Sparsifier.None(), new Sparsifier.None()}, Consensus.NONE, true,
                new float[]{1f + (1f - 2f)});
    }

    @Test
    void magnitudeSelectionPassesMatchANaiveCount() {
        Random random = new Random(8);
        int n = 5003;
        try (Arena arena = Arena.ofConfined()) {
            float[] b = TestTensors.values(random, n, null);
            TensorView base = TestTensors.of(arena, DType.BF16, b);
            TensorView model = TestTensors.of(arena, DType.F16, TestTensors.values(random, n, TestTensors.decode(base)));
            float[] bd = TestTensors.decode(base), xd = TestTensors.decode(model);
            int[] a = new int[n];
            for (int i = 0; i < n; i++) a[i] = Float.floatToRawIntBits(Math.abs(xd[i] - bd[i]));
            int start = 17, count = n - 40;
            int tieBits = Float.floatToRawIntBits(0.0625f); // present many times (repeated magnitudes)
            for (MergeKernel kernel : kernels) {
                long[] high = new long[65536], expectedHigh = new long[65536];
                kernel.absDeltaHistogramHigh(base, model, start, count, high);
                for (int i = start; i < start + count; i++) expectedHigh[a[i] >>> 16]++;
                assertEquals(java.util.Arrays.toString(expectedHigh), java.util.Arrays.toString(high));
                int bin = a[start + 5] >>> 16;
                long[] low = new long[65536], expectedLow = new long[65536];
                kernel.absDeltaHistogramLow(base, model, bin, start, count, low);
                for (int i = start; i < start + count; i++) if (a[i] >>> 16 == bin) expectedLow[a[i] & 0xFFFF]++;
                assertEquals(java.util.Arrays.toString(expectedLow), java.util.Arrays.toString(low));
                for (int bits : new int[]{tieBits, a[start + 5], 0, 0x12345}) {
                    long equal = 0;
                    for (int i = start; i < start + count; i++) if (a[i] == bits) equal++;
                    assertEquals(equal, kernel.countAbsDeltaEqual(base, model, bits, start, count));
                    for (long nth = 1; nth <= equal + 1; nth += Math.max(1, equal / 5)) {
                        long expectedIndex = -1, seen = 0;
                        for (int i = start; i < start + count; i++) {
                            if (a[i] == bits && ++seen == nth) { expectedIndex = i; break; }
                        }
                        assertEquals(expectedIndex, kernel.indexOfNthAbsDeltaEqual(base, model, bits, nth, start, count));
                    }
                }
            }
        }
    }
}
