package io.mergestream;

import java.util.Objects;

/**
 * Warnings a run reports without stopping: a recipe key mergekit accepts but a method ignores, an
 * {@code exclude:} pattern that matches nothing, non-finite values in an input tensor. Each is one line that
 * names the file, tensor or recipe key. Notices ({@link #note}) are the informational lines of the same kind
 * (which kernel was chosen and why).
 *
 * <p>Where they go: to the listener bound for the current thread by {@link #during} (the library API binds its
 * caller's listener for the length of one call, so that concurrent merges in one JVM each see their own), else to
 * the process-wide listener. That one is {@link #LOGGER} by default, because a library must not write to stderr
 * by itself; the command line installs {@link #STDERR} ({@code mergestream: warning: ...}) once at start-up.
 * Warnings raised on a worker thread of a scoped call reach the process-wide listener (none is raised there
 * today: parsers, planners and the engine's per-tensor checks run on the calling thread).
 */
public final class Warnings {

    /** Receives each warning, from any thread. */
    @FunctionalInterface
    public interface Listener {
        void warning(String message);

        /** An informational line (the kernel chosen, say); ignored unless the listener cares. */
        default void note(String message) {}
    }

    /** The CLI's listener: one line on stderr per warning or notice. */
    public static final Listener STDERR = new Listener() {
        @Override
        public void warning(String message) {
            System.err.println("mergestream: warning: " + message);
            System.err.flush();
        }

        @Override
        public void note(String message) {
            System.err.println("mergestream: " + message);
            System.err.flush();
        }
    };

    /** The library's default: {@link System.Logger} {@code io.mergestream}, WARNING and INFO. */
    public static final Listener LOGGER = new Listener() {
        private final System.Logger log = System.getLogger("io.mergestream");

        @Override
        public void warning(String message) {
            log.log(System.Logger.Level.WARNING, message);
        }

        @Override
        public void note(String message) {
            log.log(System.Logger.Level.INFO, message);
        }
    };

    private static final ScopedValue<Listener> SCOPED = ScopedValue.newInstance();

    private static volatile Listener listener = LOGGER;

    private Warnings() {}

    /** Reports {@code message} (one line naming what it is about) to the current listener. */
    public static void warn(String message) {
        current().warning(message);
    }

    /** Reports an informational line to the current listener. */
    public static void note(String message) {
        current().note(message);
    }

    private static Listener current() {
        return SCOPED.isBound() ? SCOPED.get() : listener;
    }

    /** Installs {@code next} as the process-wide listener and returns the one it replaces (restore it when done). */
    public static Listener set(Listener next) {
        Listener previous = listener;
        listener = Objects.requireNonNull(next);
        return previous;
    }

    /** The process-wide listener (not a scoped one): where the command line's library listener forwards to. */
    public static Listener processWide() {
        return listener;
    }

    /** Work whose warnings go to one listener. */
    @FunctionalInterface
    public interface Scoped<T> {
        T run();
    }

    /** Runs {@code body} with every warning raised on this thread going to {@code to}. */
    public static <T> T during(Listener to, Scoped<T> body) {
        return ScopedValue.where(SCOPED, Objects.requireNonNull(to)).call(body::run);
    }
}
