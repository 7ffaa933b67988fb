package io.mergestream.api;

import io.mergestream.MergestreamException;
import io.mergestream.format.FormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.InvalidPathException;
import java.util.concurrent.CancellationException;
import java.util.function.Supplier;

/**
 * Turns the internal layers' exceptions into the API's types, keeping their one-line messages (the command line
 * prints the same lines). Bugs (any other exception, any error) pass through unchanged.
 */
final class Failures {

    private Failures() {}

    /** Runs recipe parsing: a bad input there is a bad recipe. */
    static <T> T recipe(Supplier<T> body) {
        try {
            return body.get();
        } catch (MergestreamException e) {
            if (e instanceof FormatException) throw new BadCheckpointException(e.getMessage(), e);
            throw new BadRecipeException(e.getMessage(), e);
        } catch (RuntimeException e) {
            throw translate(e, false);
        }
    }

    /** Runs planning or merging; {@code cancelled} says whether the caller asked for a cancel. */
    static <T> T run(Supplier<T> body, Supplier<Boolean> cancelled) {
        try {
            return body.get();
        } catch (RuntimeException e) {
            throw translate(e, cancelled.get());
        }
    }

    static RuntimeException translate(RuntimeException e, boolean cancelRequested) {
        if (e instanceof MergeException) return e;
        boolean interrupted = causedByInterrupt(e);
        if (interrupted || cancelRequested || e instanceof CancellationException) {
            // an interrupt is the caller's to see again (a blocking wait cleared the thread's status)
            if (interrupted) Thread.currentThread().interrupt();
            return new MergeCancelledException(interrupted ? "the merge was interrupted" : "the merge was cancelled", e);
        }
        if (e instanceof FormatException) return new BadCheckpointException(e.getMessage(), e);
        if (e instanceof MergestreamException) return new BadInputException(e.getMessage(), e);
        if (e instanceof InvalidPathException p) {
            // a NUL in a path from a recipe: the path itself is the bad input
            return new BadInputException("'" + p.getInput() + "' is not a possible path: " + p.getReason(), e);
        }
        if (e instanceof UncheckedIOException) {
            return new MergeIOException(e.getMessage() != null ? e.getMessage() : String.valueOf(e.getCause()), e);
        }
        return e;
    }

    private static boolean causedByInterrupt(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InterruptedException || t instanceof ClosedByInterruptException) return true;
            if (t.getCause() == t) break;
        }
        return false;
    }

    /** An {@link IOException} of the API's own (a sink's channel) as the API's type. */
    static MergeIOException io(String message, IOException e) {
        return new MergeIOException(message, e);
    }
}
