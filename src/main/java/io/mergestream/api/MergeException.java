package io.mergestream.api;

/**
 * Why a merge did not happen, as a type instead of an exit code. Every message is one line naming the file,
 * tensor or recipe key and the rule that was broken (the line the command line prints). The subclasses say what
 * to do about it: {@link BadRecipeException} and {@link BadCheckpointException} (both {@link BadInputException}:
 * fix the input), {@link MergeIOException} (a file could not be read or written: a full disk, say) and
 * {@link MergeCancelledException}. Anything else a merge throws (an {@link IllegalStateException}, an
 * {@link Error}) is a bug in mergestream.
 */
public abstract sealed class MergeException extends RuntimeException
        permits BadInputException, MergeIOException, MergeCancelledException {

    private static final long serialVersionUID = 1L;

    /**
     * The one-line reason.
     *
     * @param message the one-line reason
     * @param cause   the internal exception it stands for, or null
     */
    MergeException(String message, Throwable cause) {
        super(message, cause);
    }
}
