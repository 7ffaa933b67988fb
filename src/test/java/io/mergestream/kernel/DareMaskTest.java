package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DareMaskTest {

    @Test
    void reproducesTheNormativeVectors() {
        List<DareMaskVectors.Case> cases = DareMaskVectors.load();
        assertTrue(cases.size() > 0);
        for (DareMaskVectors.Case c : cases) {
            long key = DareMask.streamKey(c.seed(), c.model(), c.name());
            assertEquals(c.streamKey(), key, c.name());
            long threshold = DareMask.threshold(c.density());
            assertEquals(c.threshold(), threshold, c.name());
            for (int k = 0; k < c.u().length; k++) {
                long i = c.start() + k;
                int u = DareMask.u(i, DareMask.k0(key), DareMask.k1(key));
                assertEquals(c.u()[k], Integer.toUnsignedLong(u), c.name() + " u(" + i + ")");
                assertEquals(c.keep()[k], DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold),
                        c.name() + " keep(" + i + ")");
            }
        }
    }

    @Test
    void thresholdEdges() {
        assertEquals(1L << 32, DareMask.threshold(1.0));
        assertEquals(1L << 32, DareMask.threshold(1.5));
        assertEquals(0, DareMask.threshold(0.0));
        assertEquals(2147483648L, DareMask.threshold(0.5));
        assertEquals(429496729L, DareMask.threshold(0.1)); // floor(0.1 * 2^32) in double
    }

    @Test
    void keptFractionIsWithinFourSigmaOfTheDensity() {
        long key = DareMask.streamKey(1234, 2, "model.layers.7.mlp.down_proj.weight");
        int draws = 1_000_000;
        for (double density : new double[]{0.01, 0.1, 0.5, 0.9}) {
            long threshold = DareMask.threshold(density);
            long kept = 0;
            for (long i = 0; i < draws; i++) {
                if (DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold)) kept++;
            }
            double sigma = Math.sqrt(draws * density * (1 - density));
            assertTrue(Math.abs(kept - draws * density) < 4 * sigma, "density " + density + " kept " + kept);
        }
    }
}
