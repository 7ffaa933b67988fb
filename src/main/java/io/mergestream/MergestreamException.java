package io.mergestream;

/**
 * A problem with the user's input (a file, a recipe, an option) that mergestream reports as one line and
 * exit code 2. The message names the file, tensor or recipe key, and the rule that was broken.
 */
public class MergestreamException extends RuntimeException {
    public MergestreamException(String message) {
        super(message);
    }

    public MergestreamException(String message, Throwable cause) {
        super(message, cause);
    }
}
