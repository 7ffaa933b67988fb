package io.mergestream.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.kernel.DareMask;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The bucketed keep decisions ({@link RowKeep}) equal the full-sort ones, element by element: u(i) < threshold[rank]
 * with the rank of a comparison sort of (|delta| bits, column) pairs (merge-semantics.md's definition, independent
 * of both RowKeep and RowRanks) and DELLA's threshold table. Rows of 1 to 70 000 elements (past 2^16), many ties,
 * zeros of both signs, NaN and infinities, bf16-like deltas, all-equal rows (every element undecided: the full-rank
 * route), epsilon 0 (one threshold), and density ± epsilon reaching 0 and 1 (thresholds 0 and 2^32).
 */
class RowKeepTest {

    /** The definition: sort (bits, column) pairs ascending; the position is the rank; keep iff u < threshold[rank]. */
    private static int[] reference(float[] d, long rowStart, int k0, int k1, long[] threshold) {
        long[] keys = new long[d.length];
        for (int c = 0; c < d.length; c++) keys[c] = (long) (Float.floatToRawIntBits(d[c]) & 0x7FFFFFFF) << 32 | c;
        Arrays.sort(keys);
        int[] kept = new int[d.length];
        for (int r = 0; r < d.length; r++) {
            int c = (int) keys[r];
            kept[c] = DareMask.keep(rowStart + c, k0, k1, threshold[r]) ? 1 : 0;
        }
        return kept;
    }

    private static long[] thresholds(int n, double density, double epsilon) {
        long[] t = new long[n];
        for (int r = 1; r <= n; r++) t[r - 1] = DareMask.threshold(DellaMagprune.probability(density, epsilon, r, n));
        return t;
    }

    private static float bf16(float x) {
        return Float.intBitsToFloat(Float.floatToRawIntBits(x) + 0x8000 & 0xFFFF0000);
    }

    private static float[] row(Random random, int n, int kind) {
        float[] d = new float[n];
        float same = (float) random.nextGaussian();
        for (int c = 0; c < n; c++) {
            int roll = random.nextInt(20);
            d[c] = switch (kind) {
                case 0 -> roll == 0 ? 0f : roll == 1 ? -0f : roll == 2 ? 0.0625f : roll == 3 ? -0.0625f
                        : roll == 4 ? Float.NaN : roll == 5 ? Float.NEGATIVE_INFINITY
                        : roll == 6 ? Float.intBitsToFloat(0x7FC00001 + roll) : roll == 7 ? 1e-40f
                        : (float) random.nextGaussian() * 0.002f;
                case 1 -> { // the bench family's: bf16 fine-tune minus bf16 base, few distinct values, many ties
                    float b = bf16((float) random.nextGaussian() * 0.02f);
                    yield bf16(b + (float) random.nextGaussian() * 0.002f) - b;
                }
                case 2 -> Float.intBitsToFloat(random.nextInt());       // any bits
                case 3 -> roll < 10 ? same : -same;                     // one |delta|: all in one bucket
                case 4 -> 1f + random.nextInt(4) / 1024f;               // a few values, low bits only
                default -> (float) random.nextGaussian() * 0.0015f;
            };
        }
        return d;
    }

    @Test
    void bucketedDecisionsEqualTheFullSortOnes() {
        Random random = new Random(13);
        double[][] settings = {{0.5, 0.2}, {0.5, 0.15}, {0.3, 0}, {0.9, 0.1}, {0.1, 0.1}, {0.5, 0.49}, {1, 0}};
        int rows = 0;
        for (int n : new int[] {1, 2, 3, 17, 255, 896, 1025, 4096, 70_000}) {
            RowKeep keep = new RowKeep(n, new RowRanks(n));
            for (int trial = 0; trial < (n > 5000 ? 14 : 60); trial++) {
                double[] s = settings[trial % settings.length];
                long[] threshold = thresholds(n, s[0], s[1]);
                float[] d = row(random, n, trial / settings.length % 6);
                long rowStart = (random.nextBoolean() ? random.nextLong(1L << 40) : random.nextInt(1 << 20)) / n * n;
                int k0 = random.nextInt(), k1 = random.nextInt();
                assertArrayEquals(reference(d, rowStart, k0, k1, threshold), keep.keep(d, rowStart, k0, k1, threshold),
                        "n=" + n + " trial " + trial + " density " + s[0] + " epsilon " + s[1]);
                rows++;
            }
        }
        assertTrue(rows > 400);
    }

    /** A row decided after one of another length or content leaves nothing behind (scratch reused row after row). */
    @Test
    void reusedScratchDecidesEachRowAfresh() {
        Random random = new Random(7);
        int n = 896;
        RowKeep keep = new RowKeep(n, new RowRanks(n));
        long[] threshold = thresholds(n, 0.5, 0.2);
        for (int trial = 0; trial < 200; trial++) {
            float[] d = row(random, n, random.nextInt(6));
            long rowStart = (long) trial * n;
            assertArrayEquals(reference(d, rowStart, 1, 2, threshold), keep.keep(d, rowStart, 1, 2, threshold));
        }
    }
}
