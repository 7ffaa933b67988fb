package io.mergestream.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link TensorSink} that keeps the merged model in off-heap memory, for a caller that evaluates it and drops it
 * (a weight search scoring hundreds of merges): every tensor is copied into memory this model's own arena owns,
 * and {@link #close()} frees all of it at once. Tensors stay readable until then; reading one after
 * {@link #close()} throws {@link IllegalStateException}. Not for use by several threads while it is filled.
 *
 * <pre>{@code
 * try (InMemoryModel model = new InMemoryModel()) {
 *     merge.run(model);
 *     double score = evaluate(model.tensor("model.norm.weight").data());
 * }
 * }</pre>
 */
public final class InMemoryModel implements TensorSink, AutoCloseable {

    private final Arena arena = Arena.ofShared();
    private final Map<String, OutputTensor> tensors = new LinkedHashMap<>();
    private long bytes;

    /** An empty model; {@link Merge#run(TensorSink)} fills it. */
    public InMemoryModel() {}

    /**
     * Copies {@code tensor} into this model's memory.
     *
     * @param tensor the finished tensor
     */
    @Override
    public void accept(OutputTensor tensor) {
        MemorySegment data = tensor.data();
        // 64-byte aligned: any vector load of any element type is aligned at the tensor's start
        MemorySegment copy = arena.allocate(Math.max(data.byteSize(), 1), 64).asSlice(0, data.byteSize());
        MemorySegment.copy(data, 0, copy, 0, data.byteSize());
        tensors.put(tensor.name(), new OutputTensor(tensor.name(), tensor.dtype(), tensor.shape(), copy.asReadOnly()));
        bytes += data.byteSize();
    }

    /**
     * One tensor of the merged model.
     *
     * @param name a tensor's name
     * @return the tensor, its data read-only and valid until {@link #close()}
     * @throws IllegalArgumentException when the model has no such tensor
     */
    public OutputTensor tensor(String name) {
        OutputTensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no tensor " + name + " in the merged model");
        return t;
    }

    /**
     * The tensors' names, in the order they arrived.
     *
     * @return the tensors' names, in the order they arrived
     */
    public List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(tensors.keySet()));
    }

    /**
     * Every tensor, in the order they arrived.
     *
     * @return every tensor, in the order they arrived
     */
    public List<OutputTensor> tensors() {
        return List.copyOf(tensors.values());
    }

    /**
     * Bytes of tensor data held.
     *
     * @return bytes of tensor data held
     */
    public long byteSize() {
        return bytes;
    }

    /** Frees the memory of every tensor; their segments are no longer readable. Closing twice does nothing. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
        tensors.clear();
    }
}
