package io.mergestream.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * DELLA's row ranks by radix sort equal the ranks of a comparison sort of (|delta| bits, column) pairs, the
 * definition in merge-semantics.md: over rows with many ties, zeros of both signs, subnormals, huge values, NaN and
 * infinity, rows whose values share their high bytes (skipped passes) and rows of length 0 to 3000.
 */
class RowRanksTest {

    /** The definition: sort (bits, column) pairs ascending; the position is the rank. */
    private static int[] reference(float[] d) {
        long[] keys = new long[d.length];
        for (int c = 0; c < d.length; c++) keys[c] = (long) (Float.floatToRawIntBits(d[c]) & 0x7FFFFFFF) << 32 | c;
        Arrays.sort(keys);
        int[] rank = new int[d.length];
        for (int r = 0; r < d.length; r++) rank[(int) keys[r]] = r;
        return rank;
    }

    @Test
    void radixRanksEqualTheSortedPairs() {
        Random random = new Random(5);
        for (int n : new int[] {0, 1, 2, 3, 17, 256, 896, 3000}) {
            RowRanks ranks = new RowRanks(n);
            for (int trial = 0; trial < 20; trial++) {
                float[] d = new float[n];
                for (int c = 0; c < n; c++) {
                    int roll = random.nextInt(20);
                    d[c] = switch (trial % 4) {
                        case 0 -> roll == 0 ? 0f : roll == 1 ? -0f : roll == 2 ? 0.0625f : roll == 3 ? -0.0625f
                                : roll == 4 ? Float.NaN : roll == 5 ? Float.NEGATIVE_INFINITY : roll == 6 ? 1e-40f
                                : roll == 7 ? 3e38f : (float) random.nextGaussian() * 0.002f;
                        case 1 -> 1f + random.nextInt(4) / 1024f;               // only the low bytes differ
                        case 2 -> Float.intBitsToFloat(random.nextInt());       // any bits
                        default -> (float) random.nextGaussian() * 0.0015f;
                    };
                }
                assertArrayEquals(reference(d), ranks.rank(d), "n=" + n + " trial " + trial);
            }
        }
    }
}
