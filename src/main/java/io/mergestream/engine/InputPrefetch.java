package io.mergestream.engine;

import io.mergestream.format.TensorSource;
import io.mergestream.plan.TensorJob;
import java.util.List;

/**
 * Reads the inputs of the tensor being merged and of the next ones from disk, on a thread of its own
 * ({@link TensorSource#prefetch}: MADV_POPULATE_READ), so that the disk reads while the workers compute.
 *
 * <p>Why: the workers read their inputs through the mapping, so without this every cold page is read when a
 * worker faults on it, and the disk idles whenever they compute from pages already cached. A tensor of
 * {@code dare_ties} with {@code rescale: true} is read in four passes (an L1 sum per fine-tune, each over base
 * and that fine-tune, then the merge over all): only the first pass over each file waits for the disk, one file
 * at a time, and the merge pass leaves the disk idle. Measured in bench/README.md ("larger than memory").
 *
 * <p>Bounded: besides the current tensor, only the next tensors whose inputs add up to at most
 * {@link #aheadBytes} are read ahead, so the pages read early never crowd out the ones in use (the finished
 * ones leave the page cache as {@link MergeEngine} says). The pages read ahead are mapped, so they count in the
 * resident set (as file pages, not anonymous memory) until their tensor is released, as every input page
 * does once a worker has touched it.
 *
 * <p>Used only when the inputs exceed memory ({@link MergeEngine#inputsExceedMemory}): those are read from disk
 * whatever was run before. With the inputs in the page cache the thread only maps pages the workers would map
 * themselves, and it measured slower there (bench/README.md).
 *
 * <p>Advice only: the merge reads the same bytes with or without it (where the advice calls do not exist it does
 * nothing), and it never reads a computed source (a LoRA product, an inflated zip entry) ahead of its turn.
 */
final class InputPrefetch implements AutoCloseable {

    /**
     * The read-ahead budget: 1/64 of physical memory, at most 256 MB: on the benchmark disk (2.6 GB/s) 0.1 s of
     * reads, about three tensors of a 7B model's merge ahead of the workers.
     */
    static long defaultAheadBytes(long physicalMemory) {
        return Math.min(256L << 20, physicalMemory / 64);
    }

    private final List<TensorJob> jobs;
    /** {@code before[k]}: the input bytes of jobs {@code 0 .. k-1}. */
    private final long[] before;
    private final long aheadBytes;
    private final Thread thread;
    /** The job the workers are on (-1 before the first); guarded by this. */
    private int current = -1;
    private boolean closed;
    /** What the thread threw (a bug in the advice calls), rethrown by {@link #close}. */
    private volatile Throwable failure;

    InputPrefetch(List<TensorJob> jobs, long aheadBytes) {
        this.jobs = jobs;
        this.aheadBytes = aheadBytes;
        before = new long[jobs.size() + 1];
        for (int k = 0; k < jobs.size(); k++) before[k + 1] = before[k] + jobs.get(k).inputBytes();
        thread = new Thread(this::run, "mergestream-prefetch");
        thread.setDaemon(true);
        thread.start();
    }

    /** The workers start on job {@code index} (in plan order): its inputs are wanted now, the next ones soon. */
    synchronized void starting(int index) {
        current = index;
        notifyAll();
    }

    /**
     * Whether job {@code job} may be read while the workers are on job {@code current}: it is that job or an
     * earlier one, or the jobs after {@code current} up to it read at most {@code aheadBytes}
     * ({@code before[k]}: the input bytes of jobs {@code 0 .. k-1}).
     */
    static boolean mayRead(long[] before, int job, int current, long aheadBytes) {
        return job <= current || before[job + 1] - before[current + 1] <= aheadBytes;
    }

    private void run() {
        try {
            int next = 0;
            while (true) {
                synchronized (this) {
                    // behind the workers: skip what they have already read
                    while (!closed && !(next < jobs.size() && mayRead(before, next, current, aheadBytes))) wait();
                    if (closed) return;
                    next = Math.max(next, current);
                }
                // outside the lock: a call may wait for the disk's queue, the workers must not
                TensorJob job = jobs.get(next++);
                if (job.source() != null) job.source().prefetch();
                if (job.base() != null) job.base().prefetch();
                for (TensorSource m : job.models()) m.prefetch();
            }
        } catch (InterruptedException e) {
            // only close() ends the thread, and it does not interrupt: nothing to do but stop
        } catch (RuntimeException | Error e) {
            failure = e;
        }
    }

    /**
     * Stops the thread and waits for its call in flight (the inputs are closed after this, and a call must not
     * outlive their mappings); rethrows what the thread threw.
     */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable f = failure;
        if (f instanceof RuntimeException r) throw r;
        if (f instanceof Error err) throw err;
    }
}
