package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The FP8 decoding tables against values worked out from the formats' definitions. */
class DecodedTensorTest {

    @Test
    void e4m3fnHasNoInfinityAndOneNaN() {
        float[] t = DecodedTensor.table(4, 3, false);
        assertEquals(1f, t[0x38]);          // 0 0111 000: 2^(7-7)
        assertEquals(1.125f, t[0x39]);      // mantissa 1/8
        assertEquals(-2f, t[0xC0]);         // 1 1000 000
        assertEquals(448f, t[0x7E]);        // 0 1111 110: the largest, 1.75 * 2^8
        assertTrue(Float.isNaN(t[0x7F]) && Float.isNaN(t[0xFF]));
        assertEquals(240f, t[0x77]);        // 0 1110 111: 1.875 * 2^7, exponent 15 is a number here
        assertEquals(0x1p-9f, t[0x01]);     // smallest subnormal: 2^(1-7) * 1/8
        assertEquals(0.875f * 0x1p-6f, t[0x07]);
        assertEquals(0f, t[0x00]);
        assertEquals(-0f, t[0x80]);
    }

    @Test
    void e5m2IsIeeeLike() {
        float[] t = DecodedTensor.table(5, 2, true);
        assertEquals(1f, t[0x3C]);          // 0 01111 00
        assertEquals(1.75f, t[0x3F]);
        assertEquals(57344f, t[0x7B]);      // 1.75 * 2^15, the largest finite
        assertEquals(Float.POSITIVE_INFINITY, t[0x7C]);
        assertEquals(Float.NEGATIVE_INFINITY, t[0xFC]);
        assertTrue(Float.isNaN(t[0x7D]));
        assertEquals(0x1p-16f, t[0x01]);    // 2^(1-15) * 1/4
    }
}
