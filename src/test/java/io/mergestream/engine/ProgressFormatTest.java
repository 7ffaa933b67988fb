package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The progress line's units, its width, and the smoothed ETA, from hand-computed values. */
class ProgressFormatTest {

    @Test
    void durationsInHumanUnits() {
        assertEquals("0s", Progress.duration(0));
        assertEquals("45s", Progress.duration(45));
        assertEquals("59s", Progress.duration(59));
        assertEquals("1m00s", Progress.duration(60));
        assertEquals("1m12s", Progress.duration(72));
        assertEquals("32m40s", Progress.duration(1960));
        assertEquals("59m59s", Progress.duration(3599));
        assertEquals("1h00m", Progress.duration(3600));
        assertEquals("2h05m", Progress.duration(2 * 3600 + 5 * 60 + 59));
    }

    @Test
    void ratesInGigabytesPerSecond() {
        assertEquals("1.61 GB/s", Progress.rate(1.61e9));
        assertEquals("0.00 GB/s", Progress.rate(1.4e6));
        assertEquals("16.70 GB/s", Progress.rate(16.7e9));
    }

    @Test
    void aLineShowsDoneTotalRateEtaAndTensor() {
        // 1.23 GB of 2.94 GB after 0.75 s: 1.64 GB/s; 41.8 % (4 of 10 marks); the name cut to the 79 columns left
        assertEquals("[####      ] 41.8% 1.23/2.94 GB 1.64 GB/s ETA 1m12s 7/21 ….0.mlp.up_proj.weight",
                Progress.line(true, 1_230_000_000L, 2_940_000_000L, 0.75, 72, 7, 21, "model.layers.0.mlp.up_proj.weight"));
        assertEquals("41.8% 1.23/2.94 GB 1.64 GB/s ETA -- 7/21 lm_head.weight",
                Progress.line(false, 1_230_000_000L, 2_940_000_000L, 0.75, -1, 7, 21, "lm_head.weight"));
        assertEquals("[##########] 100.0% 2.94/2.94 GB 1.64 GB/s ETA 0s 21/21 x",
                Progress.line(true, 2_940_000_000L, 2_940_000_000L, 1.79, 0, 21, 21, "x"));
    }

    @Test
    void aLongTensorNameIsCutFromTheLeftSoTheLineNeverWraps() {
        String name = "model.language_model.layers.123.block_sparse_moe.experts.63.w2.weight";
        String line = Progress.line(true, 5, 10, 1, 2 * 3600 + 300, 1234, 12345, name);
        assertEquals(Progress.COLUMNS - 1, line.length(), line);
        assertTrue(line.contains(" 1234/12345 …") && line.endsWith(".w2.weight"), line);
    }

    @Test
    void noEstimateDuringTheWarmUpThenTheWarmUpAverage() {
        Progress.Eta eta = new Progress.Eta();
        // a wild first second (1 GB in 0.2 s: page cache) gives no estimate
        assertEquals(-1, eta.update(0.2, 1_000_000_000L, 100_000_000_000L));
        assertEquals(-1, eta.update(1.9, 2_000_000_000L, 100_000_000_000L));
        // at 2 s: 4 GB done, 2 GB/s on average: 96 GB left = 48 s
        assertEquals(48, eta.update(2.0, 4_000_000_000L, 100_000_000_000L));
    }

    @Test
    void aSteadyRateGivesTheExactRemainderAndAChangeMovesItGradually() {
        Progress.Eta eta = new Progress.Eta();
        long total = 100_000_000_000L;
        assertEquals(48, eta.update(2.0, 4_000_000_000L, total));
        // the same 2 GB/s for one more second: exactly 94 GB / 2 GB/s = 47 s
        assertEquals(47, eta.update(3.0, 6_000_000_000L, total));
        // then a second at 4 GB/s: the rate moves 1 - e^(-1/10) = 9.5 % of the way, to 2.190 GB/s;
        // 90 GB / 2.19033 GB/s = 41.09 s -> 42 (rounded up), not the 22.5 s the last second alone suggests
        double a = 1 - Math.exp(-1 / Progress.Eta.SMOOTHING_SECONDS);
        double rate = 2e9 + a * (4e9 - 2e9);
        assertEquals((long) Math.ceil(90e9 / rate), eta.update(4.0, 10_000_000_000L, total));
        assertEquals(42, (long) Math.ceil(90e9 / rate));
        assertEquals(0, eta.update(5.0, total, total));
    }
}
