package io.mergestream.engine;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A run's progress: counted for {@link Events} (the library API's listener) and, for the command line, shown on
 * stderr. On a terminal, a live bar redrawn in place (bytes done of total, GB/s, ETA, current
 * tensor); otherwise a plain line every few seconds, for logs; nothing at all when quiet. The final summary
 * line is always printed. Workers only add to an atomic counter; a daemon thread does the printing.
 */
public final class Progress implements AutoCloseable {

    public enum Mode { TERMINAL, LINES, QUIET }

    /** What a run reports as it goes (the library API adapts its listener to this); every method may be left out. */
    public interface Events {
        /** Tensor {@code index} (from 0) of {@code count} is starting; on the engine's calling thread. */
        default void tensorStarted(String name, int index, int count) {}

        /** One chunk of {@code tensor} is done: {@code done} of {@code total} input bytes; on a worker thread. */
        default void chunkDone(String tensor, long done, long total) {}

        /** Tensor {@code index} of {@code count} is finished (all its bytes handed to the output). */
        default void tensorFinished(String name, int index, int count) {}
    }

    private static final Events NONE = new Events() { };

    private static final long TERMINAL_PERIOD_MS = 200;
    private static final long LINES_PERIOD_MS = 5000;

    private final PrintStream err;
    private final Mode mode;
    private final long totalBytes;
    private final long reportedTotal;
    private final int totalTensors;
    private final Events events;
    private final AtomicLong done = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private volatile String currentTensor = "";
    private volatile int tensorsDone;
    private final Thread printer;

    public Progress(PrintStream err, Mode mode, long totalBytes, int totalTensors) {
        this(err, mode, totalBytes, totalTensors, NONE);
    }

    /** As {@link #Progress(PrintStream, Mode, long, int)}, also reporting to {@code events}. */
    public Progress(PrintStream err, Mode mode, long totalBytes, int totalTensors, Events events) {
        this.err = err;
        this.mode = mode;
        this.events = java.util.Objects.requireNonNull(events);
        this.reportedTotal = totalBytes;
        this.totalBytes = Math.max(totalBytes, 1);
        this.totalTensors = totalTensors;
        if (mode == Mode.QUIET) {
            printer = null;
        } else {
            printer = new Thread(this::printLoop, "mergestream-progress");
            printer.setDaemon(true);
            printer.start();
        }
    }

    /** TERMINAL when stderr looks like a terminal, else LINES; QUIET when asked. */
    public static Mode detect(boolean quiet) {
        if (quiet) return Mode.QUIET;
        java.io.Console c = System.console();
        return c != null && c.isTerminal() && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"))
                ? Mode.TERMINAL : Mode.LINES;
    }

    public void startTensor(String name) {
        currentTensor = name;
        events.tensorStarted(name, tensorsDone, totalTensors);
    }

    public void finishTensor() {
        events.tensorFinished(currentTensor, tensorsDone, totalTensors);
        tensorsDone++;
    }

    public void add(long bytes) {
        long d = done.addAndGet(bytes);
        events.chunkDone(currentTensor, d, reportedTotal);
    }

    public double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private void printLoop() {
        long period = mode == Mode.TERMINAL ? TERMINAL_PERIOD_MS : LINES_PERIOD_MS;
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Thread.sleep(period);
                if (mode == Mode.TERMINAL) {
                    err.print("\r\033[K" + line(true));
                } else {
                    err.println("mergestream: " + line(false));
                }
                err.flush();
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    private String line(boolean bar) {
        long d = done.get();
        double secs = seconds();
        double rate = d / Math.max(secs, 1e-9);
        double frac = Math.min(1.0, (double) d / totalBytes);
        long eta = rate > 0 ? (long) ((totalBytes - d) / rate) : -1;
        String name = currentTensor;
        if (name.length() > 48) name = "…" + name.substring(name.length() - 47);
        StringBuilder sb = new StringBuilder();
        if (bar) {
            int width = 24;
            int filled = (int) (frac * width);
            sb.append('[').append("#".repeat(filled)).append(" ".repeat(width - filled)).append("] ");
        }
        sb.append(String.format(Locale.ROOT, "%5.1f%%  %s / %s  %.2f GB/s  ETA %s  tensor %d/%d %s",
                frac * 100, gb(d), gb(totalBytes), rate / 1e9, eta < 0 ? "?" : eta + "s",
                Math.min(tensorsDone + 1, totalTensors), totalTensors, name));
        return sb.toString();
    }

    private static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
    }

    /** Stops the live display (the summary is printed by the caller). */
    @Override
    public void close() {
        if (printer != null) {
            printer.interrupt();
            try {
                printer.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (mode == Mode.TERMINAL) {
                err.print("\r\033[K");
                err.flush();
            }
        }
    }
}
