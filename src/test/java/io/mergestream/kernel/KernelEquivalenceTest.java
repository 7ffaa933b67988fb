package io.mergestream.kernel;

import io.mergestream.tensor.Elements;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Scalar kernel == plain reference == vector kernel, bit for bit, over odd sizes, every dtype mix,
 * consensus mode, sparsifier and option, whole tensors and tensors processed in chunks, and in chunks whose
 * views are windows (origin = the chunk's start) onto the inputs and onto a separate output buffer per chunk,
 * as the engine's positional writes and computed input sources use them.
 */
@Tag("vector-width")
class KernelEquivalenceTest {
    private static final int[] SIZES = {1, 13, 207, 4098, 10007};
    private static final DType[] FLOATS = {DType.F32, DType.BF16, DType.F16};
    private static final String[] SPARSITIES = {"none", "random", "random-no-rescale", "magnitude",
            "magnitude-rescale", "mixed"};

    private final MergeKernel scalar = Kernels.scalar();
    private final MergeKernel vector = Kernels.byName("vector");

    /** The kernels every case runs on (NativeKernelEquivalenceTest adds the native one). */
    List<MergeKernel> kernels() {
        return List.of(scalar, vector);
    }

    @Test
    void taskArithmeticAgreesWithTheReferenceBitForBit() {
        Random random = new Random(20240601);
        int combination = 0;
        for (int size : SIZES) {
            for (Consensus consensus : Consensus.values()) {
                for (String sparsity : SPARSITIES) {
                    for (boolean normalize : new boolean[]{false, true}) {
                        checkTaskArithmetic(random, combination++, size, consensus, sparsity, normalize);
                    }
                }
            }
        }
    }

    private void checkTaskArithmetic(Random random, int combination, int size, Consensus consensus,
                                     String sparsity, boolean normalize) {
        int models = combination % 4 + 1;
        DType baseType = FLOATS[combination % 3];
        DType outType = FLOATS[(combination / 3) % 3];
        float lambda = combination % 2 == 0 ? 1f : 0.7f;
        try (Arena arena = Arena.ofConfined()) {
            TensorView base = TestTensors.of(arena, baseType, TestTensors.values(random, size, null));
            float[] b = TestTensors.decode(base);
            TensorView[] views = new TensorView[models];
            float[][] x = new float[models][];
            float[] weights = new float[models];
            Sparsifier[] sparsifiers = new Sparsifier[models];
            ReferenceMerge.Keep[] keeps = new ReferenceMerge.Keep[models];
            for (int j = 0; j < models; j++) {
                views[j] = TestTensors.of(arena, FLOATS[random.nextInt(3)], TestTensors.values(random, size, b));
                x[j] = TestTensors.decode(views[j]);
                weights[j] = random.nextInt(5) == 0 ? -0.4f : 0.2f + random.nextFloat();
                String kind = sparsity.equals("mixed") ? SPARSITIES[random.nextInt(5)] : sparsity;
                double density = 0.05 + 0.9 * random.nextDouble();
                boolean rescale = kind.equals("random") || kind.equals("magnitude-rescale");
                if (kind.startsWith("random")) {
                    var r = DareMask.sparsifier(random.nextLong(), j, "layers." + j + ".w", density, rescale);
                    sparsifiers[j] = r;
                    keeps[j] = new ReferenceMerge.Keep("random", r.threshold(), r.k0(), r.k1(), null, r.density(), rescale);
                } else if (kind.startsWith("magnitude")) {
                    float[] delta = new float[size];
                    for (int i = 0; i < size; i++) delta[i] = x[j][i] - b[i];
                    boolean[] selected = ReferenceMerge.magnitudeSelection(delta, density);
                    sparsifiers[j] = ReferenceMerge.asSparsifier(delta, selected, (float) density, rescale);
                    keeps[j] = new ReferenceMerge.Keep("magnitude", 0, 0, 0, selected, (float) density, rescale);
                } else {
                    sparsifiers[j] = new Sparsifier.None();
                    keeps[j] = ReferenceMerge.Keep.all();
                }
            }
            TaskArithmeticOp op = new TaskArithmeticOp(weights, sparsifiers, consensus, normalize, lambda);
            float[] expected = ReferenceMerge.taskArithmetic(b, x, weights, keeps, consensus, normalize, lambda);
            String what = "size " + size + " " + consensus + " " + sparsity + " normalize " + normalize
                    + " models " + models + " base " + baseType + " out " + outType + " lambda " + lambda;
            for (MergeKernel kernel : kernels()) {
                TensorView whole = TestTensors.empty(arena, outType, size);
                kernel.taskArithmetic(op, base, views, whole, 0, size);
                assertBits(expected, whole, kernel.name() + " whole, " + what);
                TensorView chunked = TestTensors.empty(arena, outType, size);
                for (int[] chunk : chunks(random, size)) {
                    kernel.taskArithmetic(op, base, views, chunked, chunk[0], chunk[1]);
                }
                assertBits(expected, chunked, kernel.name() + " chunked, " + what);
                TensorView windowed = TestTensors.empty(arena, outType, size);
                for (int[] chunk : chunks(random, size)) {
                    TensorView[] w = new TensorView[models];
                    for (int j = 0; j < models; j++) w[j] = TestTensors.window(views[j], chunk[0], chunk[1]);
                    TensorView buffer = TestTensors.buffer(arena, outType, chunk[0], chunk[1]);
                    kernel.taskArithmetic(op, TestTensors.window(base, chunk[0], chunk[1]), w, buffer, chunk[0], chunk[1]);
                    TestTensors.place(buffer, windowed);
                }
                assertBits(expected, windowed, kernel.name() + " windowed, " + what);
            }
        }
    }

    @Test
    void linearAgreesWithTheReferenceBitForBit() {
        Random random = new Random(5);
        int combination = 0;
        for (int size : SIZES) {
            for (boolean normalize : new boolean[]{false, true}) {
                for (int models = 1; models <= 4; models++) {
                    DType outType = FLOATS[combination++ % 3];
                    try (Arena arena = Arena.ofConfined()) {
                        TensorView[] views = new TensorView[models];
                        float[][] x = new float[models][];
                        float[] weights = new float[models];
                        for (int j = 0; j < models; j++) {
                            views[j] = TestTensors.of(arena, FLOATS[random.nextInt(3)], TestTensors.values(random, size, null));
                            x[j] = TestTensors.decode(views[j]);
                            weights[j] = 0.1f + random.nextFloat();
                        }
                        LinearOp op = new LinearOp(weights, normalize);
                        float[] expected = ReferenceMerge.linear(x, weights, normalize);
                        for (MergeKernel kernel : kernels()) {
                            TensorView out = TestTensors.empty(arena, outType, size);
                            for (int[] chunk : chunks(random, size)) kernel.linear(op, views, out, chunk[0], chunk[1]);
                            assertBits(expected, out, kernel.name() + " linear size " + size + " models " + models
                                    + " normalize " + normalize + " out " + outType);
                            TensorView windowed = TestTensors.empty(arena, outType, size);
                            for (int[] chunk : chunks(random, size)) {
                                TensorView[] w = new TensorView[models];
                                for (int j = 0; j < models; j++) w[j] = TestTensors.window(views[j], chunk[0], chunk[1]);
                                TensorView buffer = TestTensors.buffer(arena, outType, chunk[0], chunk[1]);
                                kernel.linear(op, w, buffer, chunk[0], chunk[1]);
                                TestTensors.place(buffer, windowed);
                            }
                            assertBits(expected, windowed, kernel.name() + " windowed linear size " + size
                                    + " models " + models + " normalize " + normalize + " out " + outType);
                        }
                    }
                }
            }
        }
    }

    @Test
    void convertAgreesWithTheCodecsOnEveryHalfAndManyFloats() {
        try (Arena arena = Arena.ofConfined()) {
            // every f16 and bf16 bit pattern, widened to f32
            float[] halves = new float[65536];
            for (DType half : new DType[]{DType.F16, DType.BF16}) {
                TensorView in = TestTensors.empty(arena, half, 65536);
                for (int h = 0; h < 65536; h++) in.data().set(Elements.I16, 2L * h, (short) h);
                float[] widened = TestTensors.decode(in);
                for (MergeKernel kernel : kernels()) {
                    TensorView out = TestTensors.empty(arena, DType.F32, 65536);
                    kernel.convert(in, out, 0, 65536);
                    assertBits(widened, out, kernel.name() + " widening " + half);
                }
                System.arraycopy(widened, 0, halves, 0, 65536);
            }
            // f32 patterns: a stride through all bits, every bf16/f16 value and the midpoints around them
            List<Float> samples = new ArrayList<>();
            for (long bits = 0; bits < (1L << 32); bits += 0x10003) samples.add(Float.intBitsToFloat((int) bits));
            for (int h = 0; h < 65536; h++) {
                float f = Float.float16ToFloat((short) h);
                samples.add(f);
                samples.add(Math.nextUp(f));
                samples.add(Math.nextDown(f));
                int b = h << 16;
                samples.add(Float.intBitsToFloat(b | 0x8000));
                samples.add(Float.intBitsToFloat(b | 0x7FFF));
                samples.add(Float.intBitsToFloat(b | 0x8001));
            }
            for (int h = 0; h < 0x7C00; h++) { // exact f16 midpoints, to test ties to even
                double lo = Float.float16ToFloat((short) h), hi = Float.float16ToFloat((short) (h + 1));
                samples.add((float) ((lo + hi) / 2));
                samples.add((float) -((lo + hi) / 2));
            }
            float[] floats = new float[samples.size()];
            for (int i = 0; i < floats.length; i++) floats[i] = samples.get(i);
            TensorView in = TestTensors.of(arena, DType.F32, floats);
            for (DType outType : FLOATS) {
                for (MergeKernel kernel : kernels()) {
                    TensorView out = TestTensors.empty(arena, outType, floats.length);
                    kernel.convert(in, out, 0, floats.length);
                    assertBits(floats, out, kernel.name() + " narrowing to " + outType);
                    TensorView windowed = TestTensors.empty(arena, outType, floats.length);
                    for (int[] chunk : chunks(new Random(outType.ordinal()), floats.length)) {
                        TensorView buffer = TestTensors.buffer(arena, outType, chunk[0], chunk[1]);
                        kernel.convert(TestTensors.window(in, chunk[0], chunk[1]), buffer, chunk[0], chunk[1]);
                        TestTensors.place(buffer, windowed);
                    }
                    assertBits(floats, windowed, kernel.name() + " windowed narrowing to " + outType);
                }
            }
        }
    }

    /** Random consecutive chunks covering [0, size), with odd starts and lengths. */
    static List<int[]> chunks(Random random, int size) {
        List<int[]> chunks = new ArrayList<>();
        for (int start = 0; start < size; ) {
            int length = Math.min(size - start, 1 + random.nextInt(Math.max(1, size / 3)));
            chunks.add(new int[]{start, length});
            start += length;
        }
        return chunks;
    }

    /** Each output element equals the expected f32 value rounded once to the output dtype. */
    static void assertBits(float[] expected, TensorView actual, String what) {
        int[] bits = TestTensors.bits(actual);
        assertEquals(expected.length, bits.length, what);
        for (int i = 0; i < expected.length; i++) {
            int want = TestTensors.encodeBits(actual.dtype(), expected[i]);
            if (bits[i] != want) {
                fail(what + ": element " + i + " is 0x" + Integer.toHexString(bits[i]) + ", expected 0x"
                        + Integer.toHexString(want) + " (" + expected[i] + ")");
            }
        }
    }
}
