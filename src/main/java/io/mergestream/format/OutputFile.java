package io.mergestream.format;

import io.mergestream.MergestreamException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.Predicate;

/**
 * A single file a command writes besides its printed output (delta-stats {@code --html FILE}): never one of the
 * files the command reads (checked by file identity, so a symbolic or hard link to an input is refused too), never
 * an existing file that is not an earlier one of the same kind, and written whole or not at all (a temporary
 * sibling renamed over it, so an existing file's content is never truncated in place).
 */
public final class OutputFile {

    private final Path file;
    private final String option;

    private OutputFile(Path file, String option) {
        this.file = file;
        this.option = option;
    }

    /**
     * Checks {@code file} (given as {@code option FILE}) before the command does its work: refused with one line
     * when it is a directory or another non-regular file, is one of {@code reads}, or exists and {@code isOurs} does not accept its first
     * kilobyte (the command overwrites only what it wrote itself). A symbolic link to a file is followed, so the
     * link stays and its target is replaced.
     */
    public static OutputFile check(Path file, String option, List<Path> reads, Predicate<String> isOurs) {
        String name = option + " " + file;
        if (Files.isDirectory(file)) throw new MergestreamException(name + ": is a directory");
        Path parent = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) throw new MergestreamException(name + ": directory " + parent + " does not exist");
        if (Files.exists(file)) {
            if (!Files.isRegularFile(file)) throw new MergestreamException(name + ": is not a regular file");
            for (Path r : reads) {
                try {
                    if (Files.exists(r) && Files.isSameFile(file, r)) {
                        throw new MergestreamException(name + ": is " + r + ", which this command reads; give"
                                + " another file name");
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot check " + file + ": " + e.getMessage(), e);
                }
            }
            if (!isOurs.test(head(file))) {
                throw new MergestreamException(name + ": exists and was not written by mergestream; remove it or"
                        + " give another file name");
            }
            try {
                file = file.toRealPath();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot resolve " + file + ": " + e.getMessage(), e);
            }
        }
        return new OutputFile(file, option);
    }

    /** Writes {@code text} in UTF-8 through a temporary sibling renamed into place. */
    public void write(String text) {
        Path abs = file.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the one-line error below is what matters
            }
            throw new UncheckedIOException("cannot write " + option + " " + file + ": " + e.getMessage(), e);
        }
    }

    private static String head(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readNBytes(1024), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
