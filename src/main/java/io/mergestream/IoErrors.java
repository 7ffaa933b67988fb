package io.mergestream;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.util.Locale;

/**
 * I/O failures in words. The JDK's {@link FileSystemException}s carry the errno only in their class: the
 * message of a {@link NoSuchFileException} is its path alone, so {@code "cannot create " + dir + ": " +
 * e.getMessage()} reads {@code cannot create /proc/foo: /proc/foo}, and an exception without a message shows as
 * {@code java.nio.file.NoSuchFileException: /x.yml}. These say what happened instead, as mkdir(1) does.
 */
public final class IoErrors {
    private IoErrors() {}

    /** What went wrong, in words: {@code no such file or directory}, {@code permission denied}, ... */
    public static String reason(IOException e) {
        if (e instanceof FileSystemException f) {
            String given = f.getReason() == null || f.getReason().isBlank() ? null : lowerFirst(f.getReason().strip());
            String kind = switch (f) {
                case NoSuchFileException x -> "no such file or directory";
                case AccessDeniedException x -> "permission denied";
                case FileAlreadyExistsException x -> "already exists";
                case DirectoryNotEmptyException x -> "directory not empty";
                case NotDirectoryException x -> "not a directory";
                case NotLinkException x -> "not a symbolic link";
                case FileSystemLoopException x -> "a loop of symbolic links";
                case AtomicMoveNotSupportedException x -> "cannot be renamed in one step (another file system?)";
                default -> null;
            };
            if (kind == null) return given != null ? given : "failed";
            return given == null || given.equalsIgnoreCase(kind) ? kind : kind + " (" + given + ")";
        }
        if (e instanceof ClosedByInterruptException) return "interrupted";
        String m = e.getMessage();
        return m == null || m.isBlank() ? "an I/O error (" + e.getClass().getSimpleName() + ")" : m.strip();
    }

    /**
     * The message of an I/O failure for a person: {@code t}'s message, where the bare message or the {@code
     * toString()} of the {@link FileSystemException} behind it is replaced by {@link #reason} (and its path,
     * unless the message already names it).
     */
    public static String describe(Throwable t) {
        FileSystemException f = null;
        for (Throwable c = t; c != null && f == null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof FileSystemException x) f = x;
        }
        String message = t.getMessage();
        if (f == null) {
            if (message != null && !message.isBlank() && !(t.getCause() != null && message.equals(t.getCause().toString()))) {
                return message;
            }
            Throwable cause = t.getCause() != null ? t.getCause() : t;
            return cause instanceof IOException io ? reason(io)
                    : cause.getMessage() != null ? cause.getMessage() : "an I/O error (" + cause.getClass().getSimpleName() + ")";
        }
        String raw = f.getMessage();
        String full = f.toString();
        if (message == null || message.equals(raw) || message.equals(full)) return withPath(f);
        if (message.contains(full)) return message.replace(full, withPath(f));
        if (message.endsWith(": " + raw)) {
            String head = message.substring(0, message.length() - raw.length());
            return head + (f.getFile() != null && head.contains(f.getFile()) ? reason(f) : withPath(f));
        }
        return message;
    }

    private static String withPath(FileSystemException f) {
        StringBuilder s = new StringBuilder();
        if (f.getFile() != null) s.append(f.getFile());
        if (f.getOtherFile() != null) s.append(s.isEmpty() ? "" : " -> ").append(f.getOtherFile());
        return s.isEmpty() ? reason(f) : s.append(": ").append(reason(f)).toString();
    }

    private static String lowerFirst(String s) {
        // "Read-only file system" -> "read-only file system"; an acronym ("EIO ...") stays as it is
        if (s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isLowerCase(s.charAt(1))) {
            return s.substring(0, 1).toLowerCase(Locale.ROOT) + s.substring(1);
        }
        return s;
    }
}
