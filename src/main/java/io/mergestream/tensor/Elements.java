package io.mergestream.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar decode and encode of single elements of a float tensor in memory (little-endian, unaligned, as
 * safetensors stores them), for computed input sources. F32, F16 and BF16 decode exactly; encoding rounds to
 * nearest even (the kernels' rules). Kernels have their own vectorised codecs.
 */
public final class Elements {

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Elements() {}

    /** Element {@code i} of an F32, F16 or BF16 tensor, as f32. */
    public static float decode(MemorySegment s, DType d, long i) {
        return switch (d) {
            case F32 -> s.get(F32, i * 4);
            case BF16 -> BFloat16.toFloat(s.get(I16, i * 2));
            case F16 -> Float16.toFloat(s.get(I16, i * 2));
            default -> throw new IllegalArgumentException(d + " is not F32, F16 or BF16");
        };
    }

    /** Stores {@code v} as element {@code i} of an F32, F16 or BF16 tensor, rounded to nearest even. */
    public static void encode(MemorySegment s, DType d, long i, float v) {
        switch (d) {
            case F32 -> s.set(F32, i * 4, v);
            case BF16 -> s.set(I16, i * 2, BFloat16.fromFloat(v));
            case F16 -> s.set(I16, i * 2, Float16.fromFloat(v));
            default -> throw new IllegalArgumentException(d + " is not F32, F16 or BF16");
        }
    }
}
