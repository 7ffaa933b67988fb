package io.mergestream.parallel;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
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
 *
 * <p>Cancellation works the same way: every worker checks the runner's {@code stop} condition (the library
 * API's cancel handle) before taking its next chunk, and so does the calling thread's interrupt status (one
 * thread: the caller runs the chunks itself; several: an interrupt while it waits for the pool). Each worker
 * then finishes at most the chunk it is in, and the call throws {@link CancellationException} once every worker
 * has stopped: never while one is still writing, so the caller may delete what they were writing into. The
 * interrupt is not re-asserted here (that would close the output's file channels under the clean-up); the
 * exception's cause is the {@link InterruptedException}, and the API restores the status.
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
    private final BooleanSupplier stop;

    public ChunkRunner(int threads, int chunkElements) {
        this(threads, chunkElements, () -> false);
    }

    /** A runner whose work stops within one chunk per thread once {@code stop} is true (cancellation). */
    public ChunkRunner(int threads, int chunkElements, BooleanSupplier stop) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
        if (chunkElements < 1) throw new IllegalArgumentException("chunk size must be >= 1");
        this.threads = threads;
        this.chunkElements = chunkElements;
        this.stop = java.util.Objects.requireNonNull(stop);
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

    /**
     * Throws {@link CancellationException} when the run was cancelled or the calling thread interrupted: the
     * engine asks between tensors, where no chunk runs.
     */
    public void checkCancelled() {
        if (stop.getAsBoolean()) throw new CancellationException("cancelled");
        if (Thread.currentThread().isInterrupted()) throw interrupted();
    }

    private static CancellationException interrupted() {
        CancellationException c = new CancellationException("interrupted");
        c.initCause(new InterruptedException());
        return c;
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
            // the caller runs the chunks: its own interrupt status is a stop condition
            Thread caller = Thread.currentThread();
            BooleanSupplier stopHere = () -> stop.getAsBoolean() || caller.isInterrupted();
            S state = newState.get();
            drain(elements, chunkElements, chunks, next, failure, stopHere, state, task);
            if (failure.get() != null) throw rethrow(failure.get().error());
            states.add(state);
            return states;
        }
        // The caller's interrupt stops the workers at once: they read its status themselves, so no chunk starts
        // while the caller waits to be scheduled. The caller consumes the status only after setting interruptSeen
        // (never the other way round), so the workers see one or the other at every moment.
        Thread caller = Thread.currentThread();
        AtomicBoolean interruptSeen = new AtomicBoolean();
        BooleanSupplier stopAll = () -> stop.getAsBoolean() || interruptSeen.get() || caller.isInterrupted();
        List<Future<S>> futures = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            FutureTask<S> worker = new FutureTask<>(() -> {
                S state = newState.get();
                drain(elements, chunkElements, chunks, next, failure, stopAll, state, task);
                return state;
            }) {
                @Override
                protected void done() {
                    // after the future is complete (isDone() is true): the waiting caller cannot miss it
                    LockSupport.unpark(caller);
                }
            };
            futures.add(worker);
            pool.execute(worker);
        }
        // Wait for every worker (each stops at its next chunk once one has failed or the run is cancelled), then
        // throw the first failure; after an interrupt too the wait goes on until they have stopped, so that nothing
        // still writes when the caller cleans up. park() returns on an interrupt without consuming it.
        for (Future<S> f : futures) {
            while (!f.isDone() && !interruptSeen.get()) {
                if (caller.isInterrupted()) {
                    interruptSeen.set(true);
                    Thread.interrupted(); // consumed: the blocking waits below must wait, not throw
                    break;
                }
                LockSupport.park(this);
            }
            while (true) {
                try {
                    states.add(f.get());
                    break;
                } catch (InterruptedException e) {
                    interruptSeen.set(true);
                } catch (ExecutionException e) {
                    record(failure, Long.MAX_VALUE, e.getCause()); // already recorded with its chunk by drain
                    break;
                }
            }
        }
        if (caller.isInterrupted()) {
            // the workers may all have stopped on the caller's status before the wait above looked at it
            interruptSeen.set(true);
            Thread.interrupted();
        }
        if (interruptSeen.get()) {
            // the workers saw a stop, not why; unless a chunk itself failed, the interrupt is the reason
            Failed f = failure.get();
            if (f == null || f.chunk() == Long.MAX_VALUE) failure.set(new Failed(Long.MAX_VALUE, interrupted()));
        }
        if (failure.get() == null) return states;
        throw rethrow(failure.get().error());
    }

    private static RuntimeException rethrow(Throwable first) {
        if (first instanceof RuntimeException re) return re;
        if (first instanceof Error err) throw err;
        return new IllegalStateException(first);
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
                                  AtomicReference<Failed> failure, BooleanSupplier stop, S state,
                                  ChunkReduction<S> task) {
        while (failure.get() == null) {
            if (stop.getAsBoolean()) {
                // recorded after every chunk's own failure: a chunk that failed before the cancel is reported
                record(failure, Long.MAX_VALUE, Thread.currentThread().isInterrupted() ? interrupted()
                        : new CancellationException("cancelled"));
                return;
            }
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
