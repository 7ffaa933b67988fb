package io.mergestream;

import java.util.Objects;

/**
 * Warnings a run reports without stopping: a recipe key mergekit accepts but a method ignores, an
 * {@code exclude:} pattern that matches nothing, non-finite values in an input tensor. Each is one line that
 * names the file, tensor or recipe key. By default they go to stderr as {@code mergestream: warning: ...};
 * tests and embedding programs install their own {@link Listener}.
 *
 * <p>One process-wide listener on purpose: warnings arise deep in the parsers and planners, and threading a
 * sink through every signature would buy nothing the CLI needs today (the library API scopes it per run).
 */
public final class Warnings {

    /** Receives each warning, from any thread. */
    @FunctionalInterface
    public interface Listener {
        void warning(String message);
    }

    /** The CLI's listener: one line on stderr per warning. */
    public static final Listener STDERR = message -> {
        System.err.println("mergestream: warning: " + message);
        System.err.flush();
    };

    private static volatile Listener listener = STDERR;

    private Warnings() {}

    /** Reports {@code message} (one line naming what it is about) to the current listener. */
    public static void warn(String message) {
        listener.warning(message);
    }

    /** Installs {@code next} and returns the listener it replaces (restore it when done). */
    public static Listener set(Listener next) {
        Listener previous = listener;
        listener = Objects.requireNonNull(next);
        return previous;
    }
}
