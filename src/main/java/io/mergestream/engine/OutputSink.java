package io.mergestream.engine;

import io.mergestream.format.safetensors.ShardedWriter;
import java.lang.foreign.MemorySegment;

/**
 * Where finished output tensor chunks go: in a merge, the sharded directory writer (positional writes into
 * its shards); in the benchmarks, nowhere, to time the kernels alone; later a single safetensors stream or
 * memory. The engine computes each chunk into a per-thread buffer and hands it here; it never writes into
 * memory a sink owns, so a sink's failure (a full disk) is an exception from {@link #write}, not a fault in
 * the kernels.
 */
public interface OutputSink {

    /**
     * Takes the finished bytes of output tensor {@code tensor} that start at byte {@code offset} of it: one
     * chunk, called from any worker thread, chunks in any order, each byte of a tensor exactly once. The
     * bytes are only valid during the call.
     */
    void write(String tensor, long offset, MemorySegment bytes);

    /** Every chunk of {@code tensor} has been written (called once per tensor, in plan order). */
    default void tensorDone(String tensor) {}

    /** The writer's shards. */
    static OutputSink of(ShardedWriter writer) {
        return writer::write;
    }

    /** Discards every chunk: the kernels alone (bench/). */
    static OutputSink discard() {
        return (tensor, offset, bytes) -> { };
    }
}
