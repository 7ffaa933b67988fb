package io.mergestream.api;

/**
 * The merge was cancelled, by {@link Merge#cancel()} or by an interrupt of the thread running it, before it
 * finished. Every worker had stopped when this was thrown, and nothing is left of the output: a directory run's
 * staging directory is removed (and the target untouched), a sink received no further tensor. When an interrupt
 * caused it, the thread's interrupt status is set again.
 */
public final class MergeCancelledException extends MergeException {

    private static final long serialVersionUID = 1L;

    MergeCancelledException(String message, Throwable cause) {
        super(message, cause);
    }
}
