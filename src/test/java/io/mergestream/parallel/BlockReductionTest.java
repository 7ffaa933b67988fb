package io.mergestream.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class BlockReductionTest {

    /** Values whose sum depends on the order of additions, so a grouping change would show. */
    static final float[] VALUES = new float[100_003];

    static {
        Random r = new Random(3);
        for (int i = 0; i < VALUES.length; i++) VALUES[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(12) - 6));
    }

    static double[] run(int threads, int chunk) {
        try (ChunkRunner runner = new ChunkRunner(threads, chunk)) {
            return BlockReduction.sum(runner, VALUES.length, 2, (start, count, acc) -> {
                for (long i = start; i < start + count; i++) {
                    acc[0] += VALUES[(int) i];
                    acc[1] += (double) VALUES[(int) i] * VALUES[(int) i];
                }
            });
        }
    }

    @Test
    void sameBitsForAnyThreadsAndChunks() {
        double[] expected = new double[2];
        // the definition: per-block sums in element order, blocks added in order
        for (int b = 0; b < VALUES.length; b += BlockReduction.BLOCK) {
            double s = 0, q = 0;
            for (int i = b; i < Math.min(VALUES.length, b + BlockReduction.BLOCK); i++) {
                s += VALUES[i];
                q += (double) VALUES[i] * VALUES[i];
            }
            expected[0] += s;
            expected[1] += q;
        }
        for (int threads : new int[] {1, 2, 4}) {
            for (int chunk : new int[] {7, 4096, 1 << 20}) {
                double[] got = run(threads, chunk);
                assertEquals(Double.doubleToLongBits(expected[0]), Double.doubleToLongBits(got[0]), threads + "/" + chunk);
                assertEquals(Double.doubleToLongBits(expected[1]), Double.doubleToLongBits(got[1]), threads + "/" + chunk);
            }
        }
    }
}
