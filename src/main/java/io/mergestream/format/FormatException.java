package io.mergestream.format;

import io.mergestream.MergestreamException;
import io.mergestream.Names;
import java.nio.file.Path;

/**
 * A checkpoint file that breaks a format rule; the message names the file (and tensor) and the rule. The file
 * and tensor names are shown through {@link Names#printable}: both come from the input.
 */
public final class FormatException extends MergestreamException {
    public FormatException(Path file, String problem) {
        super(Names.printable(file) + ": " + problem);
    }

    public FormatException(Path file, String tensor, String problem) {
        super(Names.printable(file) + ": tensor '" + Names.printable(tensor) + "': " + problem);
    }
}
