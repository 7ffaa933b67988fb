package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.Warnings;
import io.mergestream.kernel.TensorView;
import io.mergestream.tensor.BFloat16;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Float16;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NonFiniteTest {

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Every one of the 65536 bf16 and f16 bit patterns, counted at every tail length, as the JDK classifies them. */
    @Test
    void countsEveryHalfPatternAsTheJdkClassifiesIt() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment all = arena.allocate(65536 * 2L);
            for (int b = 0; b < 65536; b++) all.set(SHORT, b * 2L, (short) b);
            long bf = 0, f16 = 0;
            for (int b = 0; b < 65536; b++) {
                if (!Float.isFinite(BFloat16.toFloat((short) b))) bf++;
                if (!Float.isFinite(Float16.toFloat((short) b))) f16++;
            }
            assertEquals(bf, NonFinite.count(new TensorView(all, DType.BF16)));
            assertEquals(f16, NonFinite.count(new TensorView(all, DType.F16)));
            for (int tail = 1; tail <= 3; tail++) {
                MemorySegment s = all.asSlice((65536 - 4 - tail) * 2L, (4L + tail) * 2);
                long expectBf = 0, expectF16 = 0;
                for (long o = 0; o < s.byteSize(); o += 2) {
                    short v = s.get(SHORT, o);
                    if (!Float.isFinite(BFloat16.toFloat(v))) expectBf++;
                    if (!Float.isFinite(Float16.toFloat(v))) expectF16++;
                }
                assertEquals(expectBf, NonFinite.count(new TensorView(s, DType.BF16)), "bf16 tail " + tail);
                assertEquals(expectF16, NonFinite.count(new TensorView(s, DType.F16)), "f16 tail " + tail);
            }
        }
    }

    /** f32: the boundary patterns around ±Inf, NaNs with any payload, and random values; an odd count (a tail). */
    @Test
    void countsF32AroundEveryBoundary() {
        int[] edge = {0x7F800000, 0x7F7FFFFF, 0xFF800000, 0xFF7FFFFF, 0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0, 0x80000000,
                0x00000001, 0x7FFFFFFF};
        SplittableRandom r = new SplittableRandom(9);
        int n = 10_001;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(n * 4L);
            long expect = 0;
            for (int i = 0; i < n; i++) {
                int bits = i < edge.length ? edge[i] : r.nextInt();
                s.set(INT, i * 4L, bits);
                if (!Float.isFinite(Float.intBitsToFloat(bits))) expect++;
            }
            assertTrue(expect > edge.length / 2);
            assertEquals(expect, NonFinite.count(new TensorView(s, DType.F32)));
        }
    }

    /**
     * A merge whose inputs hold NaN and Inf: one warning per output tensor that has any, naming it with the
     * output count and each input's count; a tensor without any gives none.
     */
    @Test
    void aMergeWarnsOncePerTensorWithNonFiniteValues(@TempDir Path tmp) throws IOException {
        float[] clean = new float[300];
        for (int i = 0; i < clean.length; i++) clean[i] = 0.01f * (i % 17) - 0.05f;
        float[] withNan = clean.clone();
        withNan[7] = Float.NaN;
        withNan[250] = Float.POSITIVE_INFINITY;
        float[] withInf = clean.clone();
        withInf[12] = Float.NEGATIVE_INFINITY;
        long[] shape = {3, 100};
        Path base = TestModels.write(tmp.resolve("base"), DType.BF16, new TestModels.Model()
                .put("a.weight", shape, clean).put("b.weight", shape, withInf).put("c.weight", shape, clean));
        Path ft = TestModels.write(tmp.resolve("ft"), DType.BF16, new TestModels.Model()
                .put("a.weight", shape, withNan).put("b.weight", shape, clean).put("c.weight", shape, clean));
        Path recipe = MergeRuns.recipe(tmp, "ta", """
                merge_method: task_arithmetic
                base_model: BASE
                models:
                  - model: FT
                    parameters: {weight: 0.5}
                dtype: bfloat16
                """, Map.of("BASE", base, "FT", ft));
        List<String> warnings = Collections.synchronizedList(new ArrayList<>());
        Warnings.Listener previous = Warnings.set(warnings::add);
        try {
            MergeRuns.merge(tmp, recipe, "out", "--threads", "2", "--chunk-size", "64");
        } finally {
            Warnings.set(previous);
        }
        // other warnings (a model without config.json, say) are not this test's business
        List<String> nonFinite = warnings.stream().filter(w -> w.contains("NaN or infinite")).toList();
        assertEquals(2, nonFinite.size(), warnings.toString());
        String a = nonFinite.stream().filter(w -> w.startsWith("a.weight:")).findFirst().orElseThrow();
        assertTrue(a.startsWith("a.weight: 2 of 300 output values are NaN or infinite"), a);
        assertTrue(a.contains("base " + base.resolve("model.safetensors") + " 0"), a);
        assertTrue(a.contains(ft.resolve("model.safetensors") + " 2"), a);
        String b = nonFinite.stream().filter(w -> w.startsWith("b.weight:")).findFirst().orElseThrow();
        assertTrue(b.startsWith("b.weight: 1 of 300 output values"), b);
        assertTrue(b.contains("base " + base.resolve("model.safetensors") + " 1"), b);
    }
}
