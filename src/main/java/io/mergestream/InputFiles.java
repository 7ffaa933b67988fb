package io.mergestream;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Locale;

/**
 * The checks every file mergestream reads goes through first (recipes, safetensors files, index, config and
 * tokenizer JSON): it must be a regular file (following symbolic links) and, when it is read whole, no larger
 * than a limit. A FIFO blocks the open until someone writes to it, and a character device such as /dev/zero
 * reads forever: either would hang a run or fill the heap instead of failing with one line.
 */
public final class InputFiles {

    /** The largest recipe read: real ones are a few KB; this leaves room for generated ones. */
    public static final long MAX_RECIPE_BYTES = 16L << 20;

    /**
     * The largest JSON file read whole (index, config, tokenizer files): the largest real tokenizer.json files
     * are about 35 MB, DeepSeek-V3's index (91,000 tensors) 9 MB.
     */
    public static final long MAX_JSON_BYTES = 256L << 20;

    private InputFiles() {}

    /** Throws a {@link MergestreamException} naming {@code path} unless it is a regular file. */
    public static void requireRegularFile(Path path, String what) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new MergestreamException(Names.printable(path) + ": cannot read the " + what + ": no such file");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + Names.printable(path) + ": " + e.getMessage(), e);
        }
        if (a.isRegularFile()) return;
        String kind = a.isDirectory() ? "a directory" : kind(path);
        throw new MergestreamException(Names.printable(path) + ": cannot read the " + what + ": it is " + kind
                + ", not a regular file");
    }

    /**
     * Checks that {@code path} is a regular file of at most {@code limit} bytes, about to be read whole, and
     * returns its size.
     */
    public static long requireReadable(Path path, String what, long limit) {
        requireRegularFile(path, what);
        long size;
        try {
            size = Files.size(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + Names.printable(path) + ": " + e.getMessage(), e);
        }
        if (size > limit) {
            throw new MergestreamException(Names.printable(path) + ": cannot read the " + what + ": it is " + size
                    + " bytes, over the limit of " + limit + " bytes (" + (limit >> 20) + " MiB)");
        }
        return size;
    }

    /** What kind of special file {@code path} is, from the POSIX mode when the platform has one. */
    private static String kind(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            return switch (mode & 0170000) {
                case 0010000 -> "a FIFO (named pipe)";
                case 0020000 -> "a character device";
                case 0060000 -> "a block device";
                case 0140000 -> "a socket";
                default -> String.format(Locale.ROOT, "a special file (mode %o)", mode);
            };
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            return "a special file (a FIFO, device or socket)";
        }
    }
}
