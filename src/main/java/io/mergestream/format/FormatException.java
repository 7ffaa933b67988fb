package io.mergestream.format;

import io.mergestream.MergestreamException;
import java.nio.file.Path;

/** A checkpoint file that breaks a format rule; the message names the file (and tensor) and the rule. */
public final class FormatException extends MergestreamException {
    public FormatException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public FormatException(Path file, String tensor, String problem) {
        super(file + ": tensor '" + tensor + "': " + problem);
    }
}
