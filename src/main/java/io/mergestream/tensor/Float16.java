package io.mergestream.tensor;

/**
 * IEEE 754 binary16 codec. Both directions use the JDK's conversions (exact widening; narrowing rounds to
 * nearest even, with subnormals and overflow to infinity; both are intrinsified on x86 with F16C).
 */
public final class Float16 {

    /**
     * The quiet NaN every f32 NaN encodes to. NaN sign and payload are not kept: the JIT may pick either
     * operand's NaN when both are NaN, so only a canonical NaN keeps the scalar and vector kernels
     * bit-identical.
     */
    public static final short CANONICAL_NAN = (short) 0x7E00;

    private Float16() {}

    /**
     * Exact widening. A NaN keeps its sign and payload and comes back quiet (the JDK sets the quiet bit on
     * every path, interpreted or compiled, as the x86 instruction does).
     */
    public static float toFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Rounds to nearest, ties to even; overflow gives infinity; any NaN gives {@link #CANONICAL_NAN}. */
    public static short fromFloat(float value) {
        if (Float.isNaN(value)) return CANONICAL_NAN;
        return Float.floatToFloat16(value);
    }
}
