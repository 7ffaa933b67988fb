package io.mergestream.engine;

import io.mergestream.format.MappedPages;
import io.mergestream.format.safetensors.ShardedWriter;
import java.lang.foreign.MemorySegment;

/**
 * Where the engine writes output tensors: in a merge, the writer's mapped shards (finished tensors then
 * leave the resident set); in the benchmarks, scratch memory, to time the kernels over mapped inputs alone.
 */
public interface OutputTensors {

    /** The {@code bytes} bytes of output tensor {@code tensor}. */
    MemorySegment segment(String tensor, long bytes);

    /** Called once a tensor is complete. */
    void done(MemorySegment segment);

    /** The writer's shards; each finished tensor's pages leave the resident set (their data stays in the page cache). */
    static OutputTensors of(ShardedWriter writer) {
        return new OutputTensors() {
            @Override
            public MemorySegment segment(String tensor, long bytes) {
                return writer.segment(tensor);
            }

            @Override
            public void done(MemorySegment segment) {
                MappedPages.release(segment);
            }
        };
    }
}
