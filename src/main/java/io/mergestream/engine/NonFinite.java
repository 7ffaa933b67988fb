package io.mergestream.engine;

import io.mergestream.kernel.TensorView;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Counts the NaN and ±Inf elements of a view (F32, F16, BF16, F64; other types have none). Cheap enough to
 * run over every finished output chunk while it is in cache: eight bytes at a time, branch-free. An element
 * is non-finite exactly when its magnitude bits (sign cleared) are at least those of +Inf, i.e. when adding
 * (2^(w-1) − bits(+Inf)) to them sets the lane's top bit; the sum never carries into the next lane, so one
 * add and one bit count test every lane of a long.
 */
public final class NonFinite {

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NonFinite() {}

    /** How many elements of {@code v} are NaN or infinite. */
    public static long count(TensorView v) {
        return count(v.data(), v.dtype());
    }

    public static long count(MemorySegment data, io.mergestream.tensor.DType dtype) {
        return switch (dtype) {
            case BF16 -> lanes(data, 2, 0x7FFF_7FFF_7FFF_7FFFL, 0x0080_0080_0080_0080L, 0x8000_8000_8000_8000L);
            case F16 -> lanes(data, 2, 0x7FFF_7FFF_7FFF_7FFFL, 0x0400_0400_0400_0400L, 0x8000_8000_8000_8000L);
            case F32 -> lanes(data, 4, 0x7FFF_FFFF_7FFF_FFFFL, 0x0080_0000_0080_0000L, 0x8000_0000_8000_0000L);
            case F64 -> {
                long n = 0;
                for (long o = 0; o + 8 <= data.byteSize(); o += 8) {
                    if (!Double.isFinite(Double.longBitsToDouble(data.get(LONG, o)))) n++;
                }
                yield n;
            }
            default -> 0;
        };
    }

    private static long lanes(MemorySegment data, int size, long magnitude, long add, long top) {
        long bytes = data.byteSize();
        long whole = bytes & ~7L;
        long n = 0;
        for (long o = 0; o < whole; o += 8) {
            n += Long.bitCount(((data.get(LONG, o) & magnitude) + add) & top);
        }
        for (long o = whole; o + size <= bytes; o += size) { // the last elements, fewer than a long
            long bits = size == 2 ? data.get(SHORT, o) & 0xFFFFL : data.get(INT, o) & 0xFFFF_FFFFL;
            n += Long.bitCount(((bits & magnitude) + add) & top);
        }
        return n;
    }
}
