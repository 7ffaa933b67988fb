package io.mergestream.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The scalar element codec: single elements of a float tensor in memory (little-endian, unaligned, as
 * safetensors stores them). Every scalar read or write of an F32, F16 or BF16 element goes through here — the
 * scalar kernel (the bit-exact reference the vector kernels are tested against, and their tail loop), the
 * methods' per-element passes, computed inputs, the test-family generator — so there is one rule: decoding is
 * exact; encoding rounds to nearest even, and any NaN becomes the type's canonical quiet NaN (0x7FC00000,
 * 0x7E00, 0x7FC0), because the JIT may propagate either operand's NaN and only a canonical NaN keeps the
 * kernels bit-identical. The vector kernels have their own vectorised codecs with the same rule.
 */
public final class Elements {

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** An F32 element's bits (for bit-exact comparisons and stores). */
    public static final ValueLayout.OfInt F32_BITS = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** An F16 or BF16 element's bits. */
    public static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final int CANONICAL_F32_NAN = 0x7FC00000;

    private Elements() {}

    /** Element {@code i} of an F32, F16 or BF16 tensor whose element 0 is at byte 0 of {@code s}, as f32. */
    public static float decode(MemorySegment s, DType d, long i) {
        return switch (d) {
            case F32 -> s.get(F32, i * 4);
            case BF16 -> BFloat16.toFloat(s.get(I16, i * 2));
            case F16 -> Float16.toFloat(s.get(I16, i * 2));
            default -> throw notFloat(d);
        };
    }

    /** Stores {@code v} as element {@code i} of an F32, F16 or BF16 tensor, rounded to nearest even. */
    public static void encode(MemorySegment s, DType d, long i, float v) {
        switch (d) {
            case F32 -> s.set(F32_BITS, i * 4, f32Bits(v));
            case BF16 -> s.set(I16, i * 2, BFloat16.fromFloat(v));
            case F16 -> s.set(I16, i * 2, Float16.fromFloat(v));
            default -> throw notFloat(d);
        }
    }

    /** The bits an F32 element holding {@code value} gets: its own, or the canonical NaN. */
    public static int f32Bits(float value) {
        return Float.isNaN(value) ? CANONICAL_F32_NAN : Float.floatToRawIntBits(value);
    }

    private static IllegalArgumentException notFloat(DType dtype) {
        return new IllegalArgumentException("dtype " + dtype + " is not merged; the kernels take F32, F16 and BF16");
    }
}
