package io.mergestream.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.format.TensorSource;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.tensor.BFloat16;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The L1 rule's sums ({@code rescale: true}) on every kernel: the vector kernel's lanes give the scalar reference's
 * bits, over odd lengths, several blocks, thread counts and chunk sizes, for the random and magnitude records and for
 * a computed sparsifier; those bits are the summation order restated here in plain code (16 stripes per block of
 * 16384, the stripes and then the blocks added in order), and within a tight tolerance of a plain double sum in
 * index order. Run again at 128 and 256 bits by the build (tag vector-width), so every width gives the same bits.
 */
@Tag("vector-width")
class L1SumsTest {
    private static final ValueLayout.OfInt F32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int BLOCK = 16384, STRIPES = 16;
    private static final int[] SIZES = {1, 15, 16, 17, 1001, BLOCK - 1, BLOCK + 7, 3 * BLOCK + 1001};

    private final MergeKernel scalar = Kernels.scalar();
    private final MergeKernel vector = Kernels.byName("vector");

    /** A mapped-like source over values rounded to dtype (bytes offset by one to prove unaligned reads). */
    private record Source(TensorInfo info, MemorySegment mapped) implements TensorSource {
        static Source of(Arena arena, DType dtype, float[] v) {
            MemorySegment m = arena.allocate((long) v.length * dtype.byteSize() + 1, 8).asSlice(1);
            for (int i = 0; i < v.length; i++) {
                if (dtype == DType.F32) m.set(F32, i * 4L, Float.floatToRawIntBits(v[i]));
                else m.set(BF16, i * 2L, BFloat16.fromFloat(v[i]));
            }
            long bytes = (long) v.length * dtype.byteSize();
            return new Source(new TensorInfo("t", dtype, new long[] {v.length}, 0, bytes), m.asSlice(0, bytes));
        }

        float get(long i) {
            return info.dtype() == DType.F32 ? Float.intBitsToFloat(mapped.get(F32, i * 4))
                    : Float.intBitsToFloat(mapped.get(BF16, i * 2) << 16);
        }

        @Override
        public long bytesRead() {
            return mapped.byteSize();
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            int size = info.dtype().byteSize();
            MemorySegment.copy(mapped, start * size, dst, 0, (long) count * size);
        }

        @Override
        public void doneReading(boolean evict) {}
    }

    /** Which elements a keep test keeps, for the plain references. */
    @FunctionalInterface
    private interface Keeps {
        boolean at(long i, float d);
    }

    /** The order restated: per block of 16384, |d| of block offset o into stripe o % 16; stripes, then blocks, in order. */
    private static double[] striped(float[] d, Keeps keeps) {
        double total = 0, kept = 0;
        for (int b = 0; b < d.length; b += BLOCK) {
            double[] all = new double[STRIPES], k = new double[STRIPES];
            for (int o = 0; o < Math.min(BLOCK, d.length - b); o++) {
                double a = Math.abs(d[b + o]);
                all[o % STRIPES] += a;
                if (keeps.at(b + o, d[b + o])) k[o % STRIPES] += a;
            }
            double blockAll = all[0], blockKept = k[0];
            for (int s = 1; s < STRIPES; s++) {
                blockAll += all[s];
                blockKept += k[s];
            }
            total += blockAll;
            kept += blockKept;
        }
        return new double[] {total, kept};
    }

    /** The straightforward sums: one double each, in index order. */
    private static double[] plain(float[] d, Keeps keeps) {
        double total = 0, kept = 0;
        for (int i = 0; i < d.length; i++) {
            total += Math.abs(d[i]);
            if (keeps.at(i, d[i])) kept += Math.abs(d[i]);
        }
        return new double[] {total, kept};
    }

    private static float[] values(Random random, int n, float[] near, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double roll = random.nextDouble();
            float center = near == null ? (float) random.nextGaussian() * 0.05f : near[i];
            if (near != null && roll < 0.05) v[i] = near[i];                                  // zero delta
            else if (roll < 0.07) v[i] = center + 0.0625f;                                    // ties
            else v[i] = center + (float) (random.nextGaussian() * scale * (roll < 0.09 ? 300 : 1)); // outliers too
        }
        return v;
    }

    @Test
    void everyKernelThreadCountAndChunkSizeGivesTheDefinedSums() {
        Random random = new Random(2026);
        try (Arena arena = Arena.ofShared()) {
            for (int n : SIZES) {
                for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
                    float[] bv = values(random, n, null, 0);
                    Source base = Source.of(arena, dtype, bv);
                    float[] xv = new float[n];
                    for (int i = 0; i < n; i++) xv[i] = base.get(i);
                    Source model = Source.of(arena, dtype, values(random, n, xv, 1e-3));
                    float[] d = new float[n];
                    for (int i = 0; i < n; i++) d[i] = model.get(i) - base.get(i);

                    long key = DareMask.streamKey(7, 1, "t");
                    Sparsifier.Random dare = DareMask.sparsifier(7, 1, "t", 0.3, false);
                    Keeps dareKeeps = (i, x) -> DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), DareMask.threshold(0.3));
                    // magnitude: keep |d| above the median's bits, and the ties at it below index n / 2
                    int[] bits = new int[n];
                    for (int i = 0; i < n; i++) bits[i] = Float.floatToRawIntBits(d[i]) & 0x7FFFFFFF;
                    int threshold = java.util.Arrays.stream(bits).sorted().toArray()[n / 2];
                    Sparsifier.Magnitude magnitude = new Sparsifier.Magnitude(threshold, n / 2, 0.5f, false);
                    Keeps magnitudeKeeps = (i, x) -> {
                        int a = Float.floatToRawIntBits(x) & 0x7FFFFFFF;
                        return a > threshold || (a == threshold && i < n / 2);
                    };
                    // a computed sparsifier (breadcrumbs/DELLA's path): keeps |d| in a band
                    DeltaSparsifier band = (start, count, dd, s) -> {
                        for (int o = 0; o < count; o++) s[o] = Math.abs(dd[o]) > 1e-4f && Math.abs(dd[o]) < 2e-3f ? dd[o] : 0f;
                    };
                    Keeps bandKeeps = (i, x) -> Math.abs(x) > 1e-4f && Math.abs(x) < 2e-3f;

                    String what = dtype + " n=" + n;
                    check(d, base, model, dare, null, dareKeeps, what + " random");
                    check(d, base, model, magnitude, null, magnitudeKeeps, what + " magnitude");
                    check(d, base, model, null, band, bandKeeps, what + " computed");
                    // the computed path with the DARE mask is the random record's divisor, bit for bit
                    DeltaSparsifier dareComputed = (start, count, dd, s) -> {
                        for (int o = 0; o < count; o++) s[o] = dareKeeps.at(start + o, dd[o]) ? dd[o] : 0f;
                    };
                    try (MergeInputs in = inputs(base, model, new ChunkRunner(2, 4096))) {
                        ChunkRunner runner = new ChunkRunner(2, 4096);
                        assertEquals(Float.floatToRawIntBits(TaskArithmeticFamily.l1Divisor(vector, in, 0, runner, dare)),
                                Float.floatToRawIntBits(TaskArithmeticFamily.l1Divisor(vector, in, 0, runner, dareComputed)),
                                what + ": the record and the computed DARE mask give one divisor");
                    }
                }
            }
        }
    }

    private void check(float[] d, Source base, Source model, Sparsifier record, DeltaSparsifier computed, Keeps keeps,
                       String what) {
        double[] expected = striped(d, keeps), reference = plain(d, keeps);
        for (int s = 0; s < 2; s++) {
            assertTrue(Math.abs(expected[s] - reference[s]) <= 1e-12 * reference[s],
                    what + ": the striped sum " + expected[s] + " is the plain one " + reference[s]);
        }
        for (MergeKernel kernel : new MergeKernel[] {scalar, vector}) {
            for (int threads : new int[] {1, 2, 3}) {
                for (int chunk : new int[] {1000, 16384, 1 << 20}) {
                    ChunkRunner runner = new ChunkRunner(threads, chunk);
                    try (MergeInputs in = inputs(base, model, runner)) {
                        String where = what + " " + kernel.name() + " threads=" + threads + " chunk=" + chunk;
                        if (record != null) {
                            assertArrayEquals(expected, TaskArithmeticFamily.l1Sums(kernel, in, 0, runner, record), 0,
                                    where);
                        }
                        float q = computed != null ? TaskArithmeticFamily.l1Divisor(kernel, in, 0, runner, computed)
                                : TaskArithmeticFamily.l1Divisor(kernel, in, 0, runner, record);
                        assertEquals(Float.floatToRawIntBits(Sparsifier.l1Divisor(expected[0], expected[1])),
                                Float.floatToRawIntBits(q), where + " divisor");
                    }
                }
            }
        }
    }

    private static MergeInputs inputs(Source base, Source model, ChunkRunner runner) {
        return new MergeInputs(base, new TensorSource[] {model}, base.info().shape(), null, runner, true);
    }

    @Test
    void blockSumsOfArraysAreTheStripedOrderOnEveryKernel() {
        // MergeKernel.absSums directly, lengths that end at every lane of every width, values of any magnitude
        Random random = new Random(9);
        for (int n = 0; n <= 70; n++) {
            float[] d = new float[n], kept = new float[n];
            for (int o = 0; o < n; o++) {
                d[o] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(12) - 6));
                kept[o] = random.nextBoolean() ? d[o] : 0f;
            }
            double[] all = new double[STRIPES], k = new double[STRIPES];
            for (int o = 0; o < n; o++) {
                all[o % STRIPES] += Math.abs(d[o]);
                k[o % STRIPES] += Math.abs(kept[o]);
            }
            double[] expected = new double[2 * STRIPES];
            System.arraycopy(all, 0, expected, 0, STRIPES);
            System.arraycopy(k, 0, expected, STRIPES, STRIPES);
            for (MergeKernel kernel : new MergeKernel[] {scalar, vector}) {
                double[] stripes = new double[2 * STRIPES];
                kernel.absSums(d, kept, n, stripes);
                assertArrayEquals(expected, stripes, 0, kernel.name() + " n=" + n);
            }
        }
    }
}
