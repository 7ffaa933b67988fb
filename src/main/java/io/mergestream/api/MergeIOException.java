package io.mergestream.api;

/**
 * A file could not be read or written: no space left on the device, a permission, an input truncated while the
 * merge read it, another run writing the same output (the command line's exit code 1). The same merge may succeed
 * once that is fixed. {@link #getCause()} is the {@link java.io.IOException} (or the unchecked one wrapping it).
 */
public final class MergeIOException extends MergeException {

    private static final long serialVersionUID = 1L;

    MergeIOException(String message, Throwable cause) {
        super(message, cause);
    }
}
