package io.mergestream.format.pack;

import io.mergestream.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * How one block of a DELTA entry is laid out once decoded (docs/mspack.md, "Blocks"): for a magnitude pack first the
 * keep bitmap ({@code ceil(count / 8)} bytes, bit {@code o & 7} of byte {@code o >> 3} for element {@code e0 + o}),
 * then the K kept values of the block in element order, byte-plane shuffled: byte p of value j at
 * {@code p * K + j}. A value is the fine-tune's element bits, XORed with the base's element bits when both have the
 * same dtype: a fine-tune's delta is small, so sign, exponent and high mantissa bits mostly agree and the high
 * planes are runs of zeros, which lz4 compresses (the planes exist for that: lz4 finds no runs in interleaved bytes).
 * The values are exact: decoding gives back the fine-tune's bits, so base + kept reproduces dare bit for bit under any
 * rescale rule.
 */
final class DeltaCodec {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private DeltaCodec() {}

    /** Element bits of a 2- or 4-byte dtype at byte offset {@code off}, zero-extended. */
    static int bits(MemorySegment s, int size, long off) {
        return size == 2 ? s.get(I16, off) & 0xFFFF : s.get(I32, off);
    }

    static void putBits(MemorySegment s, int size, long off, int bits) {
        if (size == 2) s.set(I16, off, (short) bits);
        else s.set(I32, off, bits);
    }

    /** Bytes a block of {@code count} elements spends on its bitmap (magnitude packs only). */
    static int bitmapBytes(boolean bitmap, int count) {
        return bitmap ? (count + 7) >>> 3 : 0;
    }

    /** Writes value j of K at the block's value section (byte-plane shuffled). */
    static void putValue(byte[] raw, int valuesAt, int k, int j, int size, int v) {
        for (int p = 0; p < size; p++) raw[valuesAt + p * k + j] = (byte) (v >>> (8 * p));
    }

    static int value(byte[] raw, int valuesAt, int k, int j, int size) {
        int v = 0;
        for (int p = 0; p < size; p++) v |= (raw[valuesAt + p * k + j] & 0xFF) << (8 * p);
        return v;
    }

    static boolean bit(byte[] raw, int o) {
        return (raw[o >>> 3] & (1 << (o & 7))) != 0;
    }

    /** The f32 value of stored element bits of {@code d} (exact: what Elements.decode gives). */
    static float toFloat(DType d, int bits) {
        return switch (d) {
            case F32 -> Float.intBitsToFloat(bits);
            case BF16 -> io.mergestream.tensor.BFloat16.toFloat((short) bits);
            case F16 -> io.mergestream.tensor.Float16.toFloat((short) bits);
            default -> throw new IllegalArgumentException(d + " is not F32, F16 or BF16");
        };
    }
}
