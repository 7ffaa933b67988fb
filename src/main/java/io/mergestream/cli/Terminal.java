package io.mergestream.cli;

import io.mergestream.engine.Progress;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The process's stderr as the command line uses it: taken back from bin/mergestream's boot filter, tested for
 * a terminal, and closed with one line when the run is interrupted (Ctrl-C).
 *
 * <p><b>Why the launcher filters, and why only until here.</b> The JVM prints {@code WARNING: Using incubator
 * modules: jdk.incubator.vector} on fd 2 while it boots, before any Java code runs, whenever the module is
 * resolved (for a jar on the class path only {@code --add-modules} resolves it) and no flag turns it off.
 * bin/mergestream (and the release archive's launcher, which bin/release writes: the same with a named pipe,
 * POSIX sh having no process substitution) therefore starts the JVM with fd 2 on a pipe through a filter that
 * drops exactly that line, and the real stderr as fd {@value #LAUNCHER_FD_ENV}'s number; the first thing
 * {@link Main#main} does is {@code dup2} it back onto fd 2. From then on every write (System.err, the JVM's own messages, an hs_err
 * notice) goes straight to the real stderr, so a terminal stays a terminal ({@code isatty(2)}: the progress
 * bar redraws in place) and no second process stands between the run and the terminal when Ctrl-C arrives
 * or the shell prints its prompt. A filter for the whole run would make stderr a pipe (no bar), and would
 * need to outlive Ctrl-C and race the prompt with the last line.
 */
final class Terminal {
    /** Set by the launchers: the descriptor number of the real stderr, while fd 2 is the boot filter. */
    static final String LAUNCHER_FD_ENV = "MERGESTREAM_STDERR_FD";

    private static final int STDERR = 2;

    private Terminal() {}

    /** Puts the launcher's real stderr back onto fd 2 (see the class comment); nothing without the launcher. */
    static void adoptLauncherStderr() {
        String fd = System.getenv(LAUNCHER_FD_ENV);
        if (fd == null || !fd.matches("[3-9]|[1-9][0-9]{1,3}")) return;
        Optional<MethodHandle> dup2 = libc("dup2", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT));
        Optional<MethodHandle> close = libc("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        if (dup2.isEmpty() || close.isEmpty()) return;
        try {
            int from = Integer.parseInt(fd);
            System.err.flush();
            if ((int) dup2.get().invokeExact(from, STDERR) == STDERR) {
                int ignored = (int) close.get().invokeExact(from);
            }
        } catch (Throwable e) {
            // the boot filter keeps passing stderr through: the run only loses its live bar
        }
    }

    /** Whether fd 2 is a terminal ({@code isatty}); without native access, whether the JVM saw a console. */
    static boolean stderrIsTerminal() {
        Optional<MethodHandle> isatty = libc("isatty", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        if (isatty.isPresent()) {
            try {
                return (int) isatty.get().invokeExact(STDERR) == 1;
            } catch (Throwable e) {
                return false;
            }
        }
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** The progress display for a run: a live bar on a terminal, lines for logs, nothing when quiet. */
    static Progress.Mode progress(boolean quiet) {
        if (quiet) return Progress.Mode.QUIET;
        String term = System.getenv("TERM");
        return term != null && !term.equals("dumb") && stderrIsTerminal() ? Progress.Mode.TERMINAL : Progress.Mode.LINES;
    }

    private static Optional<MethodHandle> libc(String name, FunctionDescriptor type) {
        if (!Terminal.class.getModule().isNativeAccessEnabled()) return Optional.empty();
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find(name).map(symbol -> linker.downcallHandle(symbol, type));
    }

    /**
     * stderr for the CLI: passes everything through until {@link #interrupt} closes it with one line, after
     * which whatever the dying run still prints (a progress redraw, a write failing on the staging directory
     * the cleanup removed) is dropped, so that the interrupt line is the last thing the user sees.
     */
    static final class Gate extends OutputStream {
        private final OutputStream real = new FileOutputStream(FileDescriptor.err);
        private boolean closed;

        @Override
        public synchronized void write(int b) throws java.io.IOException {
            if (!closed) real.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws java.io.IOException {
            if (!closed) real.write(b, off, len);
        }

        @Override
        public synchronized void flush() throws java.io.IOException {
            if (!closed) real.flush();
        }

        /** Clears a progress bar on a terminal, prints {@code line} and lets nothing through after it. */
        synchronized void interrupt(String line, boolean terminal) {
            if (closed) return;
            closed = true;
            try {
                real.write(((terminal ? "\r\033[K" : "") + line + "\n").getBytes(StandardCharsets.UTF_8));
                real.flush();
            } catch (java.io.IOException ignored) {
                // stderr is gone: there is nobody to tell
            }
        }
    }

    /**
     * Installs the gate as System.err and a shutdown hook that, unless the command finished, announces the
     * interrupt. The JVM runs shutdown hooks on SIGINT (Ctrl-C), SIGTERM and SIGHUP and then exits with 128 +
     * the signal (130 for Ctrl-C); OutputDirectory's own hook removes the staging directory meanwhile, so the
     * line is true by the time the process ends. Returns the runnable that marks the command finished.
     */
    static Runnable installInterruptLine() {
        Gate gate = new Gate();
        boolean terminal = stderrIsTerminal();
        System.setErr(new PrintStream(gate, true, System.err.charset()));
        java.util.concurrent.atomic.AtomicBoolean finished = new java.util.concurrent.atomic.AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!finished.get()) gate.interrupt("mergestream: interrupted; nothing written", terminal);
        }, "mergestream-interrupt"));
        return () -> finished.set(true);
    }
}
