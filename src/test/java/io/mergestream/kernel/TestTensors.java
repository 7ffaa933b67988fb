package io.mergestream.kernel;

import io.mergestream.tensor.BFloat16;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Float16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Test tensors in native memory, written and read back with plain code independent of the kernels. */
final class TestTensors {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TestTensors() {}

    /** A tensor holding {@code values} rounded to {@code dtype}; offset by one byte to prove unaligned access. */
    static TensorView of(Arena arena, DType dtype, float[] values) {
        TensorView view = empty(arena, dtype, values.length);
        for (int i = 0; i < values.length; i++) {
            switch (dtype) {
                case F32 -> view.data().set(INT, i * 4L, Float.floatToRawIntBits(values[i]));
                case BF16 -> view.data().set(SHORT, i * 2L, BFloat16.fromFloat(values[i]));
                case F16 -> view.data().set(SHORT, i * 2L, Float16.fromFloat(values[i]));
                default -> throw new IllegalArgumentException(dtype.name());
            }
        }
        return view;
    }

    static TensorView empty(Arena arena, DType dtype, int elements) {
        MemorySegment block = arena.allocate((long) elements * dtype.byteSize() + 1, 8);
        return new TensorView(block.asSlice(1, (long) elements * dtype.byteSize()), dtype);
    }

    /** Elements [start, start + count) of {@code v} as a window: same bytes, origin = start. */
    static TensorView window(TensorView v, long start, int count) {
        int size = v.dtype().byteSize();
        return new TensorView(v.data().asSlice((start - v.origin()) * size, (long) count * size), v.dtype(), start);
    }

    /** A fresh, misaligned buffer for elements [start, start + count): what a per-chunk output buffer is. */
    static TensorView buffer(Arena arena, DType dtype, long start, int count) {
        TensorView e = empty(arena, dtype, count);
        return new TensorView(e.data(), dtype, start);
    }

    /** Copies a window's bytes to their place in a whole tensor (plain code, not the kernels'). */
    static void place(TensorView window, TensorView whole) {
        int size = window.dtype().byteSize();
        MemorySegment.copy(window.data(), 0, whole.data(), window.origin() * size, window.data().byteSize());
    }

    /** Element values decoded independently of the codecs under test. */
    static float[] decode(TensorView view) {
        int n = (int) view.elements();
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (view.dtype()) {
                case F32 -> Float.intBitsToFloat(view.data().get(INT, i * 4L));
                case BF16 -> Float.intBitsToFloat(view.data().get(SHORT, i * 2L) << 16);
                case F16 -> Float.float16ToFloat(view.data().get(SHORT, i * 2L));
                default -> throw new IllegalArgumentException(view.dtype().name());
            };
        }
        return out;
    }

    /** The raw element bits, for bit-for-bit comparisons. */
    static int[] bits(TensorView view) {
        int n = (int) view.elements();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = view.dtype() == DType.F32 ? view.data().get(INT, i * 4L) : view.data().get(SHORT, i * 2L) & 0xFFFF;
        }
        return out;
    }

    /** Rounds once to the output dtype: what the reference compares in. */
    static int encodeBits(DType dtype, float value) {
        return switch (dtype) {
            case F32 -> Float.isNaN(value) ? 0x7FC00000 : Float.floatToRawIntBits(value);
            case BF16 -> BFloat16.fromFloat(value) & 0xFFFF;
            case F16 -> Float16.fromFloat(value) & 0xFFFF;
            default -> throw new IllegalArgumentException(dtype.name());
        };
    }

    /** Small-model-like values: mostly near a base, some exact repeats and zeros, one in 50 large. */
    static float[] values(java.util.Random random, int n, float[] near) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double roll = random.nextDouble();
            float center = near == null ? (float) random.nextGaussian() * 0.05f : near[i];
            if (near != null && roll < 0.1) v[i] = near[i];                   // zero delta
            else if (roll < 0.12) v[i] = center + 0.0625f;                    // repeated magnitudes: ties
            else if (roll < 0.14) v[i] = (float) random.nextGaussian() * 8f;  // outliers
            else v[i] = center + (float) random.nextGaussian() * 0.01f;
        }
        return v;
    }
}
