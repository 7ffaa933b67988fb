package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.format.TensorSource;
import io.mergestream.plan.TensorJob;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class InputPrefetchTest {

    /** Input bytes 50, 50, 50, 200, 10 and a budget of 100: hand-computed windows. */
    private static final long[] BEFORE = {0, 50, 100, 150, 350, 360};

    @Test
    void readsAheadOnlyWhatTheBudgetAllows() {
        // before the first job: jobs 0 and 1 (100 bytes), not job 2 (150)
        assertTrue(InputPrefetch.mayRead(BEFORE, 1, -1, 100));
        assertFalse(InputPrefetch.mayRead(BEFORE, 2, -1, 100));
        // on job 0: jobs 1 and 2 ahead (100), not job 3 (300)
        assertTrue(InputPrefetch.mayRead(BEFORE, 2, 0, 100));
        assertFalse(InputPrefetch.mayRead(BEFORE, 3, 0, 100));
        // a job larger than the budget is read once the workers are on it, not before
        assertFalse(InputPrefetch.mayRead(BEFORE, 3, 2, 100));
        assertTrue(InputPrefetch.mayRead(BEFORE, 3, 3, 100));
        assertTrue(InputPrefetch.mayRead(BEFORE, 4, 3, 100));
        // the budget counts the jobs after the current one only
        assertTrue(InputPrefetch.mayRead(BEFORE, 4, 2, 210));
        assertFalse(InputPrefetch.mayRead(BEFORE, 4, 2, 209));
    }

    /**
     * Driven as the engine drives it, every input of every job is prefetched exactly once and in plan order, and a
     * job's inputs are not asked for before the workers' position allows them (base and fine-tunes alike).
     */
    @Test
    void prefetchesEveryInputOnceInOrderWithinTheBudget() throws InterruptedException {
        List<String> seen = new CopyOnWriteArrayList<>();
        Semaphore calls = new Semaphore(0);
        long[] sizes = {50, 50, 50, 200, 10};
        List<TensorJob> jobs = new ArrayList<>();
        for (int j = 0; j < sizes.length; j++) {
            // a merge job of a base and one fine-tune, half the job's bytes each
            TensorSource base = new Recording("base" + j, sizes[j] / 2, seen, calls);
            TensorSource ft = new Recording("ft" + j, sizes[j] / 2, seen, calls);
            jobs.add(new TensorJob("t" + j, DType.F32, new long[] {1}, TensorJob.Kind.MERGE, null, base, List.of(ft), null));
        }
        // inputs asked for once the workers are on job k (hand-computed); each step waits for them, as a job the
        // workers have passed before the thread got to it is skipped (they have read it already)
        int[] expectedAfter = {6, 6, 6, 10, 10};
        try (InputPrefetch prefetch = new InputPrefetch(jobs, 100)) {
            assertTrue(calls.tryAcquire(4, 60, TimeUnit.SECONDS)); // jobs 0 and 1 before any starts
            assertEquals(List.of("base0", "ft0", "base1", "ft1"), List.copyOf(seen).subList(0, 4));
            int acquired = 4;
            for (int k = 0; k < sizes.length; k++) {
                prefetch.starting(k);
                int more = expectedAfter[k] - acquired;
                if (more > 0) assertTrue(calls.tryAcquire(more, 60, TimeUnit.SECONDS), "stuck after job " + k);
                acquired = expectedAfter[k];
                for (String name : List.copyOf(seen)) {
                    int job = name.charAt(name.length() - 1) - '0';
                    assertTrue(InputPrefetch.mayRead(BEFORE, job, k, 100), name + " read ahead of job " + k);
                }
            }
        }
        assertEquals(List.of("base0", "ft0", "base1", "ft1", "base2", "ft2", "base3", "ft3", "base4", "ft4"), seen);
    }

    /** A source that only records its prefetch. */
    private record Recording(String name, long bytes, List<String> seen, Semaphore calls) implements TensorSource {
        @Override
        public TensorInfo info() {
            return new TensorInfo(name, DType.U8, new long[] {bytes}, 0, bytes);
        }

        @Override
        public long bytesRead() {
            return bytes;
        }

        @Override
        public MemorySegment mapped() {
            return null;
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void prefetch() {
            seen.add(name);
            calls.release();
        }

        @Override
        public void doneReading(boolean evict) {}
    }
}
