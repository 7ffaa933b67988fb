package io.mergestream.api;

/**
 * The input is wrong: a recipe, a checkpoint, an option or an output path breaks a rule (the command line's exit
 * code 2). Running again with the same input fails the same way. The two common cases have their own types;
 * this one itself covers the rest (an output directory that is not empty, a model path that does not exist, a
 * recipe whose models do not fit together: shapes or tensor names that differ).
 */
public sealed class BadInputException extends MergeException permits BadRecipeException, BadCheckpointException {

    private static final long serialVersionUID = 1L;

    /**
     * The one-line reason.
     *
     * @param message the one-line reason
     * @param cause   the internal exception it stands for, or null
     */
    BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
