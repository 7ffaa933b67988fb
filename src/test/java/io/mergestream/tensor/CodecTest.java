package io.mergestream.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The codecs against hand-written references that find the nearest representable value by search. */
class CodecTest {

    /** binary16 from its fields, by the IEEE definition. */
    static double f16Reference(int h) {
        int sign = (h >>> 15) & 1, exponent = (h >>> 10) & 0x1F, mantissa = h & 0x3FF;
        double magnitude = exponent == 0 ? Math.scalb((double) mantissa, -24)
                : exponent == 31 ? (mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                : Math.scalb(1024.0 + mantissa, exponent - 25);
        return sign == 1 ? -magnitude : magnitude;
    }

    @Test
    void f16WideningIsExactOnAllPatterns() {
        for (int h = 0; h < 65536; h++) {
            float actual = Float16.toFloat((short) h);
            double expected = f16Reference(h);
            if (Double.isNaN(expected)) {
                int bits = Float.floatToRawIntBits(actual);
                assertTrue(Float.isNaN(actual), Integer.toHexString(h));
                assertEquals(h >>> 15, bits >>> 31, "NaN sign " + Integer.toHexString(h));
                assertEquals((h & 0x3FF) << 13 | 0x400000, bits & 0x7FFFFF, "NaN payload, quiet " + Integer.toHexString(h));
            } else {
                assertEquals(Float.floatToRawIntBits((float) expected), Float.floatToRawIntBits(actual), Integer.toHexString(h));
            }
        }
    }

    /** Nearest f16 to x by search over the ordered positive patterns; ties to the even pattern; 65520 and up overflow. */
    static int f16NearestReference(float x) {
        if (Float.isNaN(x)) return 0x7E00;
        int sign = Float.floatToRawIntBits(x) < 0 ? 0x8000 : 0;
        double a = Math.abs((double) x);
        if (a >= 65520.0) return sign | 0x7C00;
        int lo = 0, hi = 0x7BFF;
        while (lo < hi) { // largest pattern whose value is <= a
            int mid = (lo + hi + 1) >>> 1;
            if (f16Reference(mid) <= a) lo = mid; else hi = mid - 1;
        }
        if (lo == 0x7BFF) return sign | lo;
        double below = a - f16Reference(lo), above = f16Reference(lo + 1) - a;
        int pick = below < above ? lo : above < below ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
        return sign | pick;
    }

    /** Nearest bf16: the truncation or the next pattern up, ties to even, inf past the top. */
    static int bf16NearestReference(float x) {
        if (Float.isNaN(x)) return 0x7FC0;
        int bits = Float.floatToRawIntBits(x);
        int truncated = bits >>> 16;
        double a = x, down = Float.intBitsToFloat(truncated << 16);
        int up = truncated + 1;
        double upValue = (up & 0x7FFF) == 0x7F80 ? Math.copySign(Math.scalb(1.0, 128), x) : Float.intBitsToFloat(up << 16);
        double dDown = Math.abs(a - down), dUp = Math.abs(upValue - a);
        return dDown < dUp ? truncated : dUp < dDown ? up : (truncated % 2 == 0 ? truncated : up);
    }

    static float[] interestingFloats() {
        Random random = new Random(11);
        float[] v = new float[400_000];
        int n = 0;
        for (int h = 0; h < 65536; h += 1) { // around every f16 value, and the midpoints
            if (n + 4 > v.length) break;
            double value = f16Reference(h);
            if (Double.isNaN(value) || Double.isInfinite(value)) continue;
            double next = f16Reference(h + 1 == 0x7C00 ? h : h + 1);
            v[n++] = (float) value;
            v[n++] = (float) ((value + next) / 2);
            v[n++] = Math.nextUp((float) ((value + next) / 2));
            v[n++] = Math.nextDown((float) ((value + next) / 2));
        }
        float[] edges = {65504f, 65519.996f, 65520f, 65536f, Float.MAX_VALUE, Float.MIN_VALUE, 0x1p-24f, 0x1p-25f,
                0x1.8p-25f, 0x1p-26f, 0x1p-14f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f,
                Float.intBitsToFloat(0x7F7F8000), Float.intBitsToFloat(0x3F808000), Float.intBitsToFloat(0x3F818000)};
        for (float e : edges) { v[n++] = e; v[n++] = -e; }
        while (n < v.length) v[n++] = Float.intBitsToFloat(random.nextInt());
        return v;
    }

    @Test
    void f16NarrowingRoundsToNearestEven() {
        for (float x : interestingFloats()) {
            assertEquals(f16NearestReference(x), Float16.fromFloat(x) & 0xFFFF, () -> "f16 of " + x + " bits 0x"
                    + Integer.toHexString(Float.floatToRawIntBits(x)));
        }
        assertEquals(0x7E00, Float16.fromFloat(Float.intBitsToFloat(0xFFC00001)) & 0xFFFF);
    }

    @Test
    void bf16WideningIsTheHighHalf() {
        for (int h = 0; h < 65536; h++) {
            int expected = h << 16;
            assertEquals(expected, Float.floatToRawIntBits(BFloat16.toFloat((short) h)), Integer.toHexString(h));
        }
    }

    @Test
    void bf16NarrowingRoundsToNearestEvenLikePyTorch() {
        for (float x : interestingFloats()) {
            assertEquals(bf16NearestReference(x), BFloat16.fromFloat(x) & 0xFFFF, () -> "bf16 of 0x"
                    + Integer.toHexString(Float.floatToRawIntBits(x)));
        }
        assertEquals(0x3F80, BFloat16.fromFloat(Float.intBitsToFloat(0x3F808000)) & 0xFFFF); // tie, even down
        assertEquals(0x3F82, BFloat16.fromFloat(Float.intBitsToFloat(0x3F818000)) & 0xFFFF); // tie, odd up
        assertEquals(0x7F80, BFloat16.fromFloat(Float.MAX_VALUE) & 0xFFFF);                  // overflow to inf
        assertEquals(0x7FC0, BFloat16.fromFloat(Float.intBitsToFloat(0xFF800001)) & 0xFFFF); // any NaN
    }
}
