package io.mergestream.kernel.vector;

import static io.mergestream.kernel.vector.Lanes.F;
import static io.mergestream.kernel.vector.Lanes.I;
import static io.mergestream.kernel.vector.Lanes.S;

import io.mergestream.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Loads N elements of a float tensor as f32 lanes and stores f32 lanes back, bit-identical to
 * tensor.Elements, the scalar codec (including its canonical NaNs). Dtypes are passed as small int codes so the
 * hot loops switch on a loop-invariant int.
 */
final class VectorCodecs {
    static final int F32 = 0, BF16 = 1, F16 = 2;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private VectorCodecs() {}

    /**
     * Call once at the top of every method whose loop loads or stores vectors in a segment that may be a file
     * mapping, with an offset inside that segment (the loop's first element index is one: byte i exists
     * whenever element i does). A mapped page the kernel cannot supply (an input truncated while being read,
     * a device error) raises SIGBUS in the loop. HotSpot resumes such a fault and throws InternalError ("a
     * fault occurred in an unsafe memory access operation") only in compiled methods it knows access memory
     * unsafely (nmethod::has_unsafe_access); C2 marks a method so when it inlines a scalar Unsafe access, but
     * not for Vector API loads and stores: without this read a truncated input crashed the JVM in C2-compiled
     * {@code TaskArithmeticLoops$Dare.run} and a full disk under a mapped output in {@code $Encode.run}
     * (hs_err "Problematic frame", issue 9). The scalar read, inlined into the caller, sets the mark for the
     * caller's compiled code; it costs one load per call (a block of up to 1024 elements).
     */
    static void faultable(MemorySegment data, long offset) {
        byte ignored = data.get(ValueLayout.JAVA_BYTE, offset);
    }

    static int code(DType dtype) {
        return switch (dtype) {
            case F32 -> F32;
            case BF16 -> BF16;
            case F16 -> F16;
            default -> throw new IllegalArgumentException("dtype " + dtype + " is not merged");
        };
    }

    /*
     * Why so many small methods: the loops call these with a loop-invariant type code, so after C2 has
     * inlined the dispatcher the unused branches are never taken (pruned by profile) and what is left of a
     * load or store is a handful of vector nodes. And every method here is at most 35 bytes of bytecode
     * (MaxInlineSize): C2 inlines those whatever the call site's profile says, while a larger one is only
     * inlined at call sites the profile calls hot, which depends on tiering (after a tier-2 compile it was
     * not, and the vectors crossing the call were boxed). A call C2 does not inline takes and returns
     * vectors as heap objects, an allocation per vector.
     */

    /** Elements [i, i + N) as f32. */
    static FloatVector load(MemorySegment data, int type, long i) {
        return type == BF16 ? loadBf16(data, i) : type == F32 ? loadF32(data, i) : loadF16(data, i);
    }

    /**
     * Elements [i, i + N) of a BF16 or F32 tensor (not F16): for loops that must not contain the f16
     * widening at all. Pruning by profile is not enough there, since load()'s profile is shared by every
     * loop: a merge that decodes f16 anywhere would put the widening into every loop calling load().
     */
    static FloatVector loadBf16OrF32(MemorySegment data, int type, long i) {
        return type == BF16 ? loadBf16(data, i) : loadF32(data, i);
    }

    static FloatVector loadF32(MemorySegment data, long i) {
        return FloatVector.fromMemorySegment(F, data, i * 4, LE);
    }

    /** bf16 is the top half of an f32: widen the shorts to ints and shift them up. */
    static FloatVector loadBf16(MemorySegment data, long i) {
        return halves(data, i).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static FloatVector loadF16(MemorySegment data, long i) {
        return widenF16(halves(data, i));
    }

    /** N 16-bit values, sign-extended to int lanes (callers only use the low 16 bits). */
    private static IntVector halves(MemorySegment data, long i) {
        return (IntVector) ShortVector.fromMemorySegment(S, data, i * 2, LE).convertShape(VectorOperators.S2I, I, 0);
    }

    /**
     * Exact f16 widening with f32 arithmetic: the 15 magnitude bits shifted into f32 position are the value
     * scaled by 2^-112 (subnormals included), so one exact multiply rebiases the exponent. Inf and NaN get
     * the all-ones exponent instead, and NaNs the quiet bit, as Float.float16ToFloat does.
     */
    static FloatVector widenF16(IntVector h) {
        IntVector magnitude = h.and(0x7FFF);
        return f16Magnitude(magnitude, magnitude.lanewise(VectorOperators.LSHL, 13)).or(f16Sign(h)).reinterpretAsFloats();
    }

    private static IntVector f16Magnitude(IntVector magnitude, IntVector shifted) {
        return f16Finite(shifted).blend(f16Special(magnitude, shifted), f16NotFinite(magnitude));
    }

    private static IntVector f16Finite(IntVector shifted) {
        return shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
    }

    private static IntVector f16Special(IntVector magnitude, IntVector shifted) {
        IntVector special = shifted.add(0x70000000);
        return special.blend(special.or(0x00400000), magnitude.compare(VectorOperators.GT, 0x7C00));
    }

    private static VectorMask<Integer> f16NotFinite(IntVector magnitude) {
        return magnitude.compare(VectorOperators.GE, 0x7C00);
    }

    private static IntVector f16Sign(IntVector h) {
        return h.lanewise(VectorOperators.LSHL, 16).and(0x80000000);
    }

    /** Stores lanes to elements [i, i + N), rounded to nearest even, NaN canonical. */
    static void store(FloatVector v, MemorySegment data, int type, long i) {
        if (type == BF16) storeBf16(v, data, i);
        else if (type == F32) storeF32(v, data, i);
        else storeF16(v, data, i);
    }

    /** f32 lanes as they are (NaN payloads kept): scratch blocks only, never output. */
    static void storeF32Raw(FloatVector v, MemorySegment data, long i) {
        v.intoMemorySegment(data, i * 4, LE);
    }

    static void storeF32(FloatVector v, MemorySegment data, long i) {
        v.reinterpretAsInts().blend(0x7FC00000, nan(v)).intoMemorySegment(data, i * 4, LE);
    }

    static void storeBf16(FloatVector v, MemorySegment data, long i) {
        storeHalves(narrowBf16(v.reinterpretAsInts()).blend(0x7FC0, nan(v)), data, i);
    }

    static void storeF16(FloatVector v, MemorySegment data, long i) {
        storeHalves(narrowF16(v, v.reinterpretAsInts()).blend(0x7E00, nan(v)), data, i);
    }

    /** NaN lanes (NaN is the only value unequal to itself), as an int mask. */
    private static VectorMask<Integer> nan(FloatVector v) {
        return v.compare(VectorOperators.NE, v).cast(I);
    }

    private static void storeHalves(IntVector bits, MemorySegment data, long i) {
        ((ShortVector) bits.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(data, i * 2, LE);
    }

    /** As BFloat16.fromFloat, without the NaN case: add 0x7FFF plus the lowest kept bit, keep the top half. */
    static IntVector narrowBf16(IntVector bits) {
        IntVector lowestKept = bits.lanewise(VectorOperators.LSHR, 16).and(1);
        return bits.add(0x7FFF).add(lowestKept).lanewise(VectorOperators.LSHR, 16);
    }

    /**
     * f32 to f16 with round to nearest even, without the NaN case, by f32 arithmetic (the method of
     * Maratyszcza's FP16 library): scaling |v| by 2^112 then 2^-110 overflows exactly the values that round
     * to infinity; adding a power of two whose ulp is the f16 ulp at v's exponent (never below the subnormal
     * ulp 2^-24) makes the hardware round to f16 precision, nearest even; the f16 exponent and mantissa are
     * then read off the sum's bits.
     */
    static IntVector narrowF16(FloatVector v, IntVector bits) {
        return f16Bits(f16Rounded(v, bits)).or(bits.lanewise(VectorOperators.LSHR, 16).and(0x8000));
    }

    /** |v|, with the values that round to infinity overflowed, plus the rounder: the hardware rounds. */
    private static IntVector f16Rounded(FloatVector v, IntVector bits) {
        return f16Rounder(bits).add(v.abs().mul(0x1p112f).mul(0x1p-110f)).reinterpretAsInts();
    }

    /** The power of two whose ulp is the f16 ulp at the value's exponent (at least the subnormal ulp). */
    private static FloatVector f16Rounder(IntVector bits) {
        return f16Exponent(bits).lanewise(VectorOperators.LSHL, 23).add(0x07800000).reinterpretAsFloats();
    }

    private static IntVector f16Exponent(IntVector bits) {
        return bits.lanewise(VectorOperators.LSHR, 23).and(0xFF).max(0x71);
    }

    /** The f16 exponent and mantissa read off the rounded sum's bits. */
    private static IntVector f16Bits(IntVector rounded) {
        return rounded.lanewise(VectorOperators.LSHR, 13).and(0x7C00).add(rounded.and(0x0FFF));
    }
}
