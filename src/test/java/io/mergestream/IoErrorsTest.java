package io.mergestream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** I/O failures from real file system calls, in words. */
class IoErrorsTest {
    @TempDir
    Path dir;

    @Test
    void aMissingFileInAComposedMessage() {
        Path missing = dir.resolve("no/such/x.yml");
        IOException e = assertThrows(IOException.class, () -> Files.readString(missing));
        assertEquals("no such file or directory", IoErrors.reason(e));
        // the message as the code composes it, with the exception's bare path at its end
        UncheckedIOException composed = new UncheckedIOException("cannot read " + missing + ": " + e.getMessage(), e);
        assertEquals("cannot read " + missing + ": no such file or directory", IoErrors.describe(composed));
        // an exception without a message of its own: toString() of the cause would read "java.nio.file..."
        assertEquals(missing + ": no such file or directory", IoErrors.describe(new UncheckedIOException(e)));
    }

    @Test
    void aPathUnderARegularFileAndAnExistingFile() throws IOException {
        Path file = Files.writeString(dir.resolve("f"), "x");
        IOException under = assertThrows(IOException.class, () -> Files.createDirectory(file.resolve("d")));
        assertEquals("cannot create " + file.resolve("d") + ": " + IoErrors.reason(under),
                IoErrors.describe(new UncheckedIOException("cannot create " + file.resolve("d") + ": " + under.getMessage(), under)));
        IOException exists = assertThrows(IOException.class, () -> Files.createFile(file));
        assertEquals("already exists", IoErrors.reason(exists));
        IOException notEmpty = assertThrows(IOException.class, () -> Files.delete(dir));
        assertEquals("directory not empty", IoErrors.reason(notEmpty));
    }

    @Test
    void aReasonTheJdkGivesIsKeptInLowerCase() {
        assertEquals("read-only file system", IoErrors.reason(new FileSystemException("/m/x", null, "Read-only file system")));
        assertEquals("EIO on read", IoErrors.reason(new FileSystemException("/m/x", null, "EIO on read")));
        assertEquals("a: failed", IoErrors.describe(new UncheckedIOException(new FileSystemException("a"))));
    }

    @Test
    void messagesWithoutAFileSystemExceptionStayAsTheyAre() {
        assertEquals("no space left on device: /x", IoErrors.describe(new IOException("no space left on device: /x")));
        assertEquals("an I/O error (IOException)", IoErrors.describe(new UncheckedIOException(new IOException())));
    }
}
