package io.mergestream.api;

import io.mergestream.engine.OutputSink;
import io.mergestream.plan.TensorJob;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine's chunks, assembled into whole tensors for a {@link TensorSink}: the workers copy each finished chunk
 * into one buffer at its offset, and when a tensor's last chunk is in, the sink gets it read-only. The engine runs
 * tensors one after the other, so one buffer of the largest tensor's size serves the whole run; it is freed when
 * the run ends.
 */
final class TensorAssembly implements OutputSink, AutoCloseable {

    private final TensorSink sink;
    private final Map<String, TensorJob> jobs = new HashMap<>();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;

    TensorAssembly(List<TensorJob> jobs, TensorSink sink) {
        this.sink = sink;
        long largest = 1;
        for (TensorJob j : jobs) {
            this.jobs.put(j.name(), j);
            largest = Math.max(largest, j.outputBytes());
        }
        this.buffer = arena.allocate(largest, 64);
    }

    /** An output tensor as the sink sees it, with the given bytes. */
    static OutputTensor tensor(TensorJob job, MemorySegment data) {
        return new OutputTensor(job.name(), job.outDtype().headerName(), job.shape(), data);
    }

    @Override
    public void write(String tensor, long offset, MemorySegment bytes) {
        MemorySegment.copy(bytes, 0, buffer, offset, bytes.byteSize());
    }

    @Override
    public void tensorDone(String tensor) {
        TensorJob job = jobs.get(tensor);
        sink.accept(tensor(job, buffer.asSlice(0, job.outputBytes()).asReadOnly()));
    }

    @Override
    public void close() {
        arena.close();
    }
}
