package io.mergestream.format;

import java.nio.file.Path;
import java.util.Collection;

/**
 * A model as the merge reads it: named tensors, each a {@link TensorSource}. A {@code Checkpoint} (tensors mapped
 * from safetensors shards) or a model made of others, such as a LoRA adapter over its base
 * (format.peft.LoraModel), whose targeted tensors are computed.
 */
public interface InputModel extends AutoCloseable {

    /** The directory (or file) it was opened from: the output must stay away from it. */
    Path location();

    /** The directory holding config.json and tokenizer files. */
    Path directory();

    /** Tensors in their model's order. */
    Collection<? extends TensorSource> tensors();

    /** The tensor, or null. */
    TensorSource tensor(String name);

    default boolean contains(String name) {
        return tensor(name) != null;
    }

    default int tensorCount() {
        return tensors().size();
    }

    /** Unmaps what this model opened. Idempotent: a model shared by several inputs may be closed more than once. */
    @Override
    void close();
}
