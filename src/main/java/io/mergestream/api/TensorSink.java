package io.mergestream.api;

import java.util.List;

/**
 * Where a {@link Merge#run(TensorSink)} puts the merged model instead of a directory: each finished output tensor,
 * one at a time, on the thread that called the run. Tensors arrive in the order of their data in a single
 * safetensors file (by dtype alignment, then name), the order {@link #begin} lists them in; only the tensors go
 * to a sink (no config or tokenizer files). Two implementations come with the library:
 * {@link SafetensorsStream} (one safetensors file to any channel) and {@link InMemoryModel} (off-heap memory).
 */
public interface TensorSink {

    /**
     * The run is about to start: every tensor that will arrive, in arrival order, with {@code data} of size 0
     * (the shapes and dtypes fix every size, so a stream can write its header first).
     *
     * @param tensors the tensors to come
     */
    default void begin(List<OutputTensor> tensors) {}

    /**
     * Takes one finished tensor. Its bytes are valid only during the call: copy what must outlive it. An exception
     * thrown here stops the run (an {@link java.io.UncheckedIOException} is reported as a {@link MergeIOException}).
     *
     * @param tensor the tensor
     */
    void accept(OutputTensor tensor);

    /** Every tensor has arrived: the run succeeded (not called when it failed or was cancelled). */
    default void end() {}
}
