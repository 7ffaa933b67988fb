package io.mergestream.api;

/**
 * A checkpoint file breaks its format's rules: a safetensors header that is not valid JSON, a tensor whose bytes
 * lie outside the file, a shard index naming a missing file, a pickle that would run code. The message names the
 * file and, where there is one, the tensor.
 */
public final class BadCheckpointException extends BadInputException {

    private static final long serialVersionUID = 1L;

    BadCheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
