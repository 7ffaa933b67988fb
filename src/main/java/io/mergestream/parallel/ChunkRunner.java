package io.mergestream.parallel;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Runs work over the elements of one tensor in fixed-size chunks on a fixed pool of threads. Chunk
 * boundaries depend only on the chunk size, never on the thread count, and every chunk writes only its own
 * output elements, so the output is identical whatever the threads; reductions keep one accumulator per
 * thread and are combined with exact (integer) operations, so their results are too.
 *
 * <p>The first chunk to fail stops the run: every worker checks a shared failure before taking its next
 * chunk, so after a failure each other worker finishes at most the chunk it is in (a full disk is not
 * written to again by the rest of the pool), and the failure of the lowest failing chunk is the one thrown.
 */
public final class ChunkRunner implements AutoCloseable {

    /** Work on elements {@code [start, start + count)}. */
    @FunctionalInterface
    public interface ChunkTask {
        void run(long start, int count);
    }

    /** Work on a range that accumulates into a per-thread state. */
    @FunctionalInterface
    public interface ChunkReduction<S> {
        void run(S state, long start, int count);
    }

    private final int threads;
    private final int chunkElements;
    private final ExecutorService pool;

    public ChunkRunner(int threads, int chunkElements) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
        if (chunkElements < 1) throw new IllegalArgumentException("chunk size must be >= 1");
        this.threads = threads;
        this.chunkElements = chunkElements;
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "mergestream-worker");
            t.setDaemon(true);
            return t;
        });
    }

    public int threads() {
        return threads;
    }

    public int chunkElements() {
        return chunkElements;
    }

    /** Runs {@code task} on every chunk of {@code [0, elements)} and waits for all of them. */
    public void forEachChunk(long elements, ChunkTask task) {
        forEachChunk(elements, chunkElements, task);
    }

    /** As {@link #forEachChunk(long, ChunkTask)} with chunks of {@code size} elements instead of the default. */
    public void forEachChunk(long elements, int size, ChunkTask task) {
        reduce(elements, size, () -> null, (ignored, start, count) -> task.run(start, count));
    }

    /**
     * Runs {@code task} on every chunk, each thread accumulating into its own state from {@code newState};
     * returns the states (one per thread that ran) for the caller to combine.
     */
    public <S> List<S> reduce(long elements, Supplier<S> newState, ChunkReduction<S> task) {
        return reduce(elements, chunkElements, newState, task);
    }

    /** As {@link #reduce(long, Supplier, ChunkReduction)} with chunks of {@code chunkElements} instead of the default. */
    public <S> List<S> reduce(long elements, int chunkElements, Supplier<S> newState, ChunkReduction<S> task) {
        if (chunkElements < 1) throw new IllegalArgumentException("chunk size must be >= 1");
        long chunks = (elements + chunkElements - 1) / chunkElements;
        AtomicLong next = new AtomicLong();
        AtomicReference<Failed> failure = new AtomicReference<>();
        int workers = (int) Math.min(threads, Math.max(chunks, 1));
        List<S> states = new ArrayList<>();
        if (workers == 1) {
            S state = newState.get();
            drain(elements, chunkElements, chunks, next, failure, state, task);
            states.add(state);
            return states;
        }
        List<Future<S>> futures = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            futures.add(pool.submit(() -> {
                S state = newState.get();
                drain(elements, chunkElements, chunks, next, failure, state, task);
                return state;
            }));
        }
        // Wait for every worker (each stops at its next chunk once one has failed), then throw the first failure.
        boolean interrupted = false;
        for (Future<S> f : futures) {
            try {
                states.add(f.get());
            } catch (InterruptedException e) {
                interrupted = true;
                record(failure, Long.MAX_VALUE, e);
                futures.forEach(x -> x.cancel(true));
            } catch (ExecutionException e) {
                record(failure, Long.MAX_VALUE, e.getCause()); // already recorded with its chunk by drain
            } catch (CancellationException e) {
                // cancelled after an interrupt, which is the failure recorded
            }
        }
        if (failure.get() == null) return states;
        Throwable first = failure.get().error();
        if (interrupted) {
            Thread.currentThread().interrupt();
            if (first instanceof InterruptedException) throw new IllegalStateException("interrupted", first);
        }
        if (first instanceof RuntimeException re) throw re;
        if (first instanceof Error err) throw err;
        throw new IllegalStateException(first);
    }

    /** A failure and the chunk it came from ({@code Long.MAX_VALUE}: not from a chunk). */
    private record Failed(long chunk, Throwable error) {}

    /**
     * Keeps the failure of the lowest chunk: chunks are taken in index order, so a chunk that fails because another
     * failed (or after it) has a higher index, and which failure is thrown does not depend on the threads' timing.
     */
    private static void record(AtomicReference<Failed> failure, long chunk, Throwable error) {
        Failed f = new Failed(chunk, error);
        failure.accumulateAndGet(f, (prev, x) -> prev == null || x.chunk() < prev.chunk() ? x : prev);
    }

    private static <S> void drain(long elements, int chunkElements, long chunks, AtomicLong next,
                                  AtomicReference<Failed> failure, S state, ChunkReduction<S> task) {
        while (failure.get() == null) {
            long c = next.getAndIncrement();
            if (c >= chunks) return;
            long start = c * chunkElements;
            int count = (int) Math.min(chunkElements, elements - start);
            try {
                task.run(state, start, count);
            } catch (Throwable t) {
                // the first failing chunk wins; later ones (often consequences of it, e.g. the same full disk) are dropped
                record(failure, c, t);
                if (t instanceof RuntimeException re) throw re;
                if (t instanceof Error err) throw err;
                throw new IllegalStateException(t);
            }
        }
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
