package io.mergestream.tensor;

/**
 * bfloat16 codec: the upper half of an IEEE f32. Widening is exact; narrowing rounds to nearest even exactly
 * as PyTorch does ({@code c10::round_to_nearest_even}), which truncation would not.
 */
public final class BFloat16 {

    /** The quiet NaN every f32 NaN encodes to (PyTorch's choice: sign and payload are not kept). */
    public static final short CANONICAL_NAN = (short) 0x7FC0;

    private BFloat16() {}

    /** Exact widening: the bf16 bits become the high half of the f32 bits. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /**
     * Rounds to nearest, ties to even. Adding 0x7FFF plus the lowest kept bit carries into the kept half
     * exactly when the dropped half is above the midpoint, or at it with an odd kept half; a carry out of
     * the largest finite value lands on infinity, as IEEE overflow should.
     */
    public static short fromFloat(float value) {
        if (Float.isNaN(value)) return CANONICAL_NAN;
        int bits = Float.floatToRawIntBits(value);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
