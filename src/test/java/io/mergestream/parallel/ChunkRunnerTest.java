package io.mergestream.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ChunkRunnerTest {

    private static final int CHUNKS = 4000;
    private static final int FAILING = 100;

    /**
     * One chunk fails: no worker starts a chunk once it has seen the failure, so at most one chunk per other
     * worker (the one it had already taken) starts after it, and the failure thrown is the failing chunk's even
     * when chunks after it fail too (the runner reports the lowest failing chunk, independent of the timing).
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void theFirstFailureStopsEveryWorker(int threads) {
        AtomicBoolean failed = new AtomicBoolean();
        AtomicInteger startedAfter = new AtomicInteger();
        AtomicInteger ran = new AtomicInteger();
        try (ChunkRunner runner = new ChunkRunner(threads, 16)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> runner.forEachChunk(CHUNKS * 16L,
                    (start, count) -> {
                        ran.incrementAndGet();
                        if (failed.get()) {
                            startedAfter.incrementAndGet();
                            // a chunk after the failing one fails too (the same full disk): the runner reports the
                            // lowest failing chunk, whatever the timing (a chunk taken before it may still start late)
                            if (start > FAILING * 16L) throw new IllegalStateException("a later failure");
                        }
                        if (start == FAILING * 16L) {
                            failed.set(true);
                            throw new IllegalStateException("the first failure");
                        }
                        busy(start);
                    }));
            assertEquals("the first failure", e.getMessage());
        }
        assertTrue(failed.get());
        assertTrue(startedAfter.get() <= threads - 1,
                startedAfter.get() + " chunks started after the failure on " + threads + " threads");
        assertTrue(ran.get() < CHUNKS, "every chunk ran: " + ran.get());
    }

    /** One thread: the failing chunk is the last one run. */
    @org.junit.jupiter.api.Test
    void oneThreadStopsAtTheFailingChunk() {
        AtomicInteger ran = new AtomicInteger();
        try (ChunkRunner runner = new ChunkRunner(1, 16)) {
            assertThrows(IllegalStateException.class, () -> runner.forEachChunk(CHUNKS * 16L, (start, count) -> {
                ran.incrementAndGet();
                if (start == FAILING * 16L) throw new IllegalStateException("fails");
            }));
        }
        assertEquals(FAILING + 1, ran.get());
    }

    /** A little work per chunk, so that the workers overlap. */
    private static void busy(long seed) {
        long x = seed;
        for (int i = 0; i < 20_000; i++) x = x * 6364136223846793005L + 1442695040888963407L;
        if (x == 42) System.out.print("");
    }
}
