package io.mergestream.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The workers' output chunk buffers, off-heap, one per worker, reused for every tensor of a run: a chunk is
 * computed into one (hot in the core's cache) and then written to the sink, so no output page is ever mapped
 * and faulted in. Freed together when the run ends.
 */
final class OutputBuffers implements AutoCloseable {

    /** A worker's state for one tensor: its buffer and the NaN/Inf values seen in its chunks. */
    static final class Worker {
        private final MemorySegment buffer;
        long nonFinite;

        private Worker(MemorySegment buffer) {
            this.buffer = buffer;
        }

        MemorySegment buffer() {
            return buffer;
        }
    }

    private final Arena arena = Arena.ofShared();
    private final long bytes;
    private final ConcurrentLinkedQueue<MemorySegment> free = new ConcurrentLinkedQueue<>();

    OutputBuffers(long bytes) {
        this.bytes = bytes;
    }

    /** A buffer for a worker starting on a tensor: a free one, or a new one (at most one per thread). */
    Worker take() {
        MemorySegment b = free.poll();
        return new Worker(b != null ? b : arena.allocate(bytes, 64));
    }

    /** The worker has finished the tensor: its buffer serves the next one. */
    void give(Worker w) {
        free.add(w.buffer);
    }

    @Override
    public void close() {
        arena.close();
    }
}
