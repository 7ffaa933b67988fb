package io.mergestream.format;

/**
 * The weight files transformers looks for in a checkpoint directory. They live here, below the readers, because
 * the writers and the hub cache name them too; {@code format.checkpoint.Checkpoint} decides which
 * of them a directory is read from.
 */
public final class CheckpointFiles {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String BIN_FILE = "pytorch_model.bin";
    public static final String BIN_INDEX_FILE = "pytorch_model.bin.index.json";

    private CheckpointFiles() {}
}
